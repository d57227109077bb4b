"""The ``cyberwell`` command: the doors into every room.

Each command reads the home and config once, opens the store, calls one room's public function
and renders the result, as a table for people or as JSON with ``--json``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import RenderableType

from collectors.replay import SOURCE_KINDS, UnknownSource, ingest
from console import config as configuration
from console import progress, render, session, tables
from console.alert_commands import alerts_app
from console.choices import SourceKind, StoreBackend
from console.dashboard.command import dashboard_command
from console.doors import Doors
from console.live import commands as live_commands
from console.options import JsonFlag
from console.reporting.evidence_commands import evidence_app
from console.reporting.report_commands import report_app
from console.response.audit_commands import audit_app
from console.response.playbook_commands import playbook_app
from console.response.webhook_commands import webhook_app
from console.session import fail, open_store, stored_window, time_window

app = typer.Typer(
    cls=Doors,
    name="cyberwell",
    help="SIEM-lite and Cyber Essentials Plus toolkit for a small Microsoft-cloud organisation.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
rules_app = typer.Typer(help="Detection rules.", no_args_is_help=True)
quarantine_app = typer.Typer(help="Records that could not be parsed or stored, with the reason.", no_args_is_help=True)
app.add_typer(alerts_app, name="alerts")
app.add_typer(rules_app, name="rules")
app.add_typer(quarantine_app, name="quarantine")
app.add_typer(audit_app, name="audit")
app.add_typer(webhook_app, name="webhook")
app.add_typer(playbook_app, name="playbook")
app.add_typer(report_app, name="report")
app.add_typer(evidence_app, name="evidence")
detect_app = typer.Typer(
    help="Run the rules over a window (or backfill a range); `detect runs` shows the run history.",
    invoke_without_command=True,
)
app.add_typer(detect_app, name="detect")


@app.callback()
def main(
    ctx: typer.Context,
    home: Annotated[
        Path | None,
        typer.Option("--home", help="Data and config folder [env: CYBERWELL_HOME; default ~/.cyberwell]."),
    ] = None,
    config_file: Annotated[
        Path | None, typer.Option("--config", help="Config file [default: HOME/cyberwell.toml].")
    ] = None,
) -> None:
    ctx.call_on_close(session.private_files())
    resolved = configuration.resolve_home(home)
    session.make_private(*session.home_data(resolved))
    try:
        ctx.obj = configuration.load(resolved, config_file)
    except configuration.ConfigError as error:
        fail(str(error))


# -- ingest ---------------------------------------------------------------------------------


@app.command(
    "ingest",
    help=f"Replay export files through the parsers into the store. Source kind: {', '.join(SOURCE_KINDS)}. "
    "A progress bar shows on a terminal when it takes more than a second.",
)
def ingest_command(
    ctx: typer.Context,
    paths: Annotated[list[Path], typer.Argument(help="Export files (plain or gzip).", metavar="FILE")],
    source: Annotated[SourceKind, typer.Option("--source", help="Which parser reads the files.")],
    as_json: JsonFlag = False,
) -> None:
    """The kinds are listed in the description, not beside ``--source``: there the choices
    already fill the narrow column of a help panel at 80 columns."""
    from store.elastic.client import ElasticStoreError

    store = open_store(ctx.obj)
    try:
        with progress.bar(f"Ingesting {source}", total=len(paths), enabled=not as_json) as meter:
            result = ingest(
                store,
                paths,
                source,
                on_progress=lambda done: meter.update(done.files_done, f"{done.records:,} records, {done.path.name}"),
            )
    except (UnknownSource, FileNotFoundError, ElasticStoreError) as error:
        fail(str(error))
    if as_json:
        render.emit_json(
            {
                "ingested": result.ingested,
                "quarantined": result.quarantined,
                "duplicates": result.duplicates,
                "files": result.files,
            }
        )
        return
    show(tables.ingest_result(result))


# -- detect and alerts ----------------------------------------------------------------------


@detect_app.callback()
def detect_command(
    ctx: typer.Context,
    start: Annotated[
        str | None, typer.Option("--from", help="Window start (ISO 8601) [default: oldest stored event].")
    ] = None,
    end: Annotated[
        str | None, typer.Option("--to", help="Window end, exclusive [default: newest stored event].")
    ] = None,
    backfill: Annotated[
        tuple[str, str] | None,
        typer.Option(
            "--backfill",
            metavar="FROM TO",
            help="Run every rule over FROM..TO in runs of at most backfill_max_window, closing the gaps they cover.",
        ),
    ] = None,
    profile: Annotated[
        bool, typer.Option("--profile", help="Also show the time each rule took, slowest first.")
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Run every rule over a time window and store the alerts; print what each rule did (read
    the alerts with `alerts list`). Each run is kept in the run history (`detect runs`)."""
    if ctx.invoked_subcommand is not None:
        return
    from detections.scheduling.scheduler import run_recorded

    cfg = ctx.obj
    if backfill is not None:
        if start is not None or end is not None:
            fail("--backfill FROM TO takes its own window: leave out --from and --to")
        detect_backfill(cfg, *backfill, as_json=as_json)
        return
    store = open_store(cfg)
    window_start, window_end = time_window(start, end, lambda: stored_window(store))
    rules = session.scheduled_rules(cfg, store)
    hook = alert_hook(cfg, store.state, rules.rule_ids)
    report = run_recorded(
        store, rules.groups, window_start, window_end, "manual", session.alert_defaults(cfg), on_saved=hook
    ).report
    assert report is not None  # a run that could not finish raised
    report.problems = rules.problems
    if as_json:
        render.emit_json(report.to_dict())
        return
    show(tables.detection_report(report) + (tables.rule_profile(report) if profile else []))


def detect_backfill(cfg: configuration.Config, first: str, last: str, as_json: bool) -> None:
    """``detect --backfill FROM TO``: the range in bounded runs, each committed as it finishes."""
    from detections.scheduling.schedule import chunks
    from detections.scheduling.scheduler import backfill
    from store.state.schedule import ScheduleBook

    window_start, window_end = session.parse_time(first, "--backfill FROM"), session.parse_time(last, "--backfill TO")
    assert window_start is not None and window_end is not None  # both are given
    if window_start >= window_end:
        fail(f"--backfill: FROM {window_start.isoformat()} is not before TO {window_end.isoformat()}")
    store = open_store(cfg)
    rules = session.scheduled_rules(cfg, store)
    defaults = session.schedule_defaults(cfg)
    hook = alert_hook(cfg, store.state, rules.rule_ids)
    runs = len(chunks(window_start, window_end, defaults.max_window))
    with progress.bar("Backfilling", total=runs, enabled=not as_json) as meter:
        done = backfill(
            store,
            rules.groups,
            window_start,
            window_end,
            defaults.max_window,
            session.alert_defaults(cfg),
            on_saved=hook,
            on_run=lambda run: meter.advance(f"done up to {run.end:%Y-%m-%d %H:%M}"),
        )
    _, gaps_left = ScheduleBook(store.state).gaps(limit=0)
    if as_json:
        render.emit_json(
            {
                "runs": [run.to_dict() for run in done],
                "problems": [p.to_dict() for p in rules.problems],
                "gaps_left": gaps_left,
            }
        )
        return
    show(tables.backfill_runs(done, gaps_left, rules.problems))


def alert_hook(cfg: configuration.Config, state, rule_ids):
    """The webhook's messages and the armed playbooks' runs, queued with the alerts they are
    about (``serve`` delivers and runs them). Playbooks that do not load are left to ``playbook
    list`` and ``serve``'s log to report: this command's output is the detection run's."""
    if not cfg.may_respond:
        return None
    from console.response.loading import load_response, on_saved

    try:
        response = load_response(cfg, state, rule_ids, sign_in=False)
    except configuration.ConfigError as error:
        fail(str(error))
    return on_saved(cfg, response, actor="cyberwell detect")


@detect_app.command("runs")
def detect_runs(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option("--limit", help="At most this many runs and gaps.")] = 20,
    as_json: JsonFlag = False,
) -> None:
    """Recent detection runs (scheduled, backfill, manual) and the open gaps, newest runs first."""
    from queries.detection_runs import detection_runs

    if limit < 1:
        fail(f"--limit: expected 1 or more, got {limit}")
    listing = detection_runs(open_store(ctx.obj), limit)
    if as_json:
        render.emit_json(listing.to_dict())
        return
    show(tables.detection_runs(listing))


# -- rules and quarantine -------------------------------------------------------------------


@rules_app.command("list")
def rules_list(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """List the rules that load and convert, and those that don't with the reason."""
    from queries.rules import list_rules

    cfg = ctx.obj
    catalogue = list_rules(cfg.rule_dirs, session.exception_dirs(cfg), session.alert_defaults(cfg))
    if as_json:
        render.emit_json(catalogue.to_dict())
        return
    show(tables.rule_catalogue(catalogue))


@rules_app.command("test")
def rules_test(
    ctx: typer.Context,
    names: Annotated[
        list[str] | None, typer.Argument(help="Rule ids, names, titles or file names [default: every rule].")
    ] = None,
    es_url: Annotated[
        str | None,
        typer.Option("--es-url", help="Also run on this Elasticsearch (instead of the config's hosts)."),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Run each rule's test events (must match, near misses must not) on a temporary embedded
    store, and on Elasticsearch under a temporary index prefix when the home's store is
    Elasticsearch or --es-url is given. Exit code 1 when any fails."""
    from console.rule_pack_tables import rule_test_report
    from detections.pack.runner import run_rule_tests
    from detections.pack.stores import EmbeddedStores

    cfg = ctx.obj
    factories = [EmbeddedStores()]
    if es_url is not None or cfg.store_backend == "elasticsearch":
        factories.append(_test_elastic(cfg, es_url))
    report = run_rule_tests(list(cfg.rule_dirs), factories, names or ())
    if as_json:
        render.emit_json(report.to_dict())
    else:
        show(rule_test_report(report))
    if not report.passed:
        raise typer.Exit(1)


def _test_elastic(cfg: configuration.Config, es_url: str | None):
    """Throw-away Elasticsearch stores on the config's cluster, or on ``--es-url``'s."""
    from dataclasses import replace

    from detections.pack.stores import ElasticStores
    from store.elastic.client import ElasticSettings, ElasticSettingsError, build_client, without_userinfo

    settings = cfg.elasticsearch or ElasticSettings()
    if es_url is not None:
        if not es_url.startswith(("http://", "https://")):
            fail(f"--es-url: expected a URL such as http://127.0.0.1:9200, got {without_userinfo(es_url)!r}")
        settings = replace(settings, hosts=(es_url,), cloud_id=None)
    try:
        stores = ElasticStores(build_client(settings))
    except ElasticSettingsError as error:
        fail(str(error))
    problem = session.elastic_problem(stores)
    if problem:
        fail(f"Elasticsearch at {settings.describe()}: {problem}")
    return stores


@rules_app.command("check")
def rules_check(
    ctx: typer.Context,
    attack_data: Annotated[
        Path | None,
        typer.Option("--attack-data", help="MITRE ATT&CK enterprise-attack.json, for the ATT&CK tag check offline."),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Run pySigma's validators over every rule folder in use; each issue names the rule and the
    validator. Exit code 1 when there are issues."""
    from console.rule_pack_tables import rule_check_report
    from detections.pack.checks import check_rules

    if attack_data is not None and not attack_data.is_file():
        fail(f"--attack-data: no file {attack_data}")
    report = check_rules(list(ctx.obj.rule_dirs), attack_data)
    if as_json:
        render.emit_json(report.to_dict())
    else:
        show(rule_check_report(report))
    if not report.passed:
        raise typer.Exit(1)


@quarantine_app.command("list")
def quarantine_list(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option("--limit", help="At most this many, newest first.")] = 50,
    as_json: JsonFlag = False,
) -> None:
    """Show quarantined records with their reasons."""
    from queries.quarantine import list_quarantine

    if limit < 1:
        fail(f"--limit: expected 1 or more, got {limit}")
    listing = list_quarantine(open_store(ctx.obj), limit)
    if as_json:
        render.emit_json(listing.to_dict())
        return
    show(tables.quarantine_listing(listing))


def show(renderables: list[RenderableType]) -> None:
    render.show(*renderables)


# -- demo -----------------------------------------------------------------------------------


@app.command("demo")
def demo_command(
    ctx: typer.Context,
    size: Annotated[int, typer.Option("--size", help="About how many events to generate.")] = 100_000,
    seed: Annotated[int, typer.Option("--seed", help="Random seed: same seed, same scenario.")] = 7,
    backend: Annotated[
        StoreBackend | None, typer.Option("--store", help="Event store [default: the config's].")
    ] = None,
    es_url: Annotated[
        str | None,
        typer.Option("--es-url", help="Elasticsearch URL for --store elasticsearch (instead of the config's hosts)."),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Generate the demo council tenant, ingest it through the parsers, detect, show the alerts."""
    from console.demo import run_demo
    from store.elastic.client import ElasticStoreError

    cfg = demo_config(ctx.obj, backend, es_url)
    try:
        outcome = run_demo(cfg, size=size, seed=seed, store=open_store(cfg))
    except ElasticStoreError as error:
        fail(str(error))
    if as_json:
        render.emit_json(outcome.to_dict())
        return
    show(tables.demo_outcome(outcome))


def demo_config(cfg: configuration.Config, backend: str | None, es_url: str | None) -> configuration.Config:
    """The config with the demo's ``--store`` and ``--es-url`` applied."""
    from dataclasses import replace

    from store.elastic.client import ElasticSettings, without_userinfo

    if backend is not None and backend not in ("embedded", "elasticsearch"):
        fail(f"--store: expected 'embedded' or 'elasticsearch', got {backend!r}")
    if es_url is not None:
        if (backend or cfg.store_backend) != "elasticsearch":
            fail("--es-url goes with --store elasticsearch")
        if not es_url.startswith(("http://", "https://")):
            fail(f"--es-url: expected a URL such as http://127.0.0.1:9200, got {without_userinfo(es_url)!r}")
        settings = replace(cfg.elasticsearch or ElasticSettings(), hosts=(es_url,), cloud_id=None)
        cfg = replace(cfg, elasticsearch=settings)
    return replace(cfg, store_backend=backend or cfg.store_backend)


# -- retention ------------------------------------------------------------------------------


@app.command("retention")
def retention_command(
    ctx: typer.Context,
    days: Annotated[int, typer.Option("--days", help="Keep this many days of events; delete older ones.")],
    as_json: JsonFlag = False,
) -> None:
    """Delete events older than N days (Elasticsearch: whole daily indices)."""
    if days < 1:
        fail(f"--days: expected 1 or more, got {days}")
    deleted = open_store(ctx.obj).delete_older_than(days)
    if as_json:
        render.emit_json({"days": days, "deleted": deleted})
        return
    if not deleted:
        render.show(render.Text(f"No events are older than {days} days."))
        return
    render.show(
        render.table(f"Deleted: {len(deleted)} older than {days} days", ["deleted"], [(name,) for name in deleted])
    )


app.command("dashboard")(dashboard_command)

# Live collection (`collect`, `serve`, `status`) lives in its own module to keep this one short.
live_commands.register(app)


if __name__ == "__main__":  # pragma: no cover
    app()
