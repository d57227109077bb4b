"""``cyberwell evidence collect``: take a snapshot of every compliance evidence source now.

It signs in as the Graph collectors do: with the sign-in keys of a ``[collectors.<name>]`` table
of kind ``entra-signins`` or ``defender`` (``--collector`` picks one; by default the first
enabled), whose app registration also needs the evidence permissions (docs/reports.md lists
them). That table's ``base_url`` and ``api_version`` point Graph elsewhere (a sovereign cloud, a
test stand-in). Defender for Endpoint is read at its public address. Each source is recorded as
collected or as not evidenced with the reason; exit 1 when any was not evidenced, so a scheduled
run can alert on a permission that went missing.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from console import render
from console.config import CollectorTable, Config, ConfigError
from console.live.identity import credential, identity_of
from console.session import fail
from microsoft.identity import credential_from

if TYPE_CHECKING:  # the collectors load the Microsoft SDKs: only when a snapshot is taken
    from collectors.evidence.awareness.gophish import GophishEndpoint
    from collectors.evidence.snapshot_run import EvidenceSettings
    from microsoft.azure_resources import ArmEndpoint
    from microsoft.defender_endpoint import DefenderEndpoint
    from store.snapshots import SnapshotEntry

#: Exit code when a source could not be read (the rest were still collected).
NOT_ALL_EVIDENCED = 1
#: Collector kinds whose table says how to sign in to Graph.
GRAPH_KINDS = ("entra-signins", "defender")

evidence_app = typer.Typer(
    help="Compliance evidence snapshots from Graph and Defender for Endpoint (docs/reports.md).",
    no_args_is_help=True,
)


@evidence_app.command("collect")
def collect_command(
    ctx: typer.Context,
    sources: Annotated[
        list[str] | None,
        typer.Option("--source", metavar="SOURCE", help="Only this evidence source (repeatable), e.g. graph.users."),
    ] = None,
    collector: Annotated[
        str | None,
        typer.Option("--collector", metavar="NAME", help="The [collectors.NAME] table whose sign-in keys to use."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Snapshot every evidence source now; exit 1 naming any that could not be read."""
    from collectors.evidence.snapshot_run import configured_jobs, snapshot_all
    from store.snapshots import SnapshotStore

    cfg: Config = ctx.obj
    try:
        settings = evidence_settings(cfg, collector, os.environ)
    except ConfigError as error:
        fail(str(error))
    jobs = configured_jobs(settings)
    known = [job.source for job in jobs]
    unknown = [name for name in sources or () if name not in known]
    if unknown:
        fail(
            f"--source: {unknown[0]!r} is not an evidence source this config reads; expected one of {', '.join(known)}"
        )
    chosen = [job for job in jobs if not sources or job.source in sources]
    run = snapshot_all(chosen, SnapshotStore(cfg.home))
    if as_json:
        render.emit_json(
            {"run_id": run.run_id, "started_at": run.started_at, "entries": [_entry(e) for e in run.entries]}
        )
    else:
        rows = [(e.source, e.status.replace("_", " "), e.rows, e.reason or "") for e in run.entries]
        render.show(render.table("Evidence snapshots", ("source", "status", "rows", "reason"), rows))
    if run.not_evidenced:
        raise typer.Exit(NOT_ALL_EVIDENCED)


def evidence_settings(cfg: Config, name: str | None, environ: Mapping[str, str]) -> EvidenceSettings:
    """The snapshot run's settings from the chosen Graph collector table; ``ConfigError`` naming
    the key when it is missing or wrong."""
    from collectors.evidence.snapshot_run import EvidenceSettings
    from microsoft.graph import GraphEndpoint

    table = _graph_table(cfg.collectors.checked(), name)
    identity = identity_of(table.settings)
    credential(identity, environ, table.where)  # now, so a missing secret is named before any call
    base_url = table.settings.get("base_url", GraphEndpoint().base_url)
    api_version = table.settings.get("api_version", "v1.0")
    if not isinstance(base_url, str) or not base_url.startswith(("https://", "http://")):
        raise ConfigError(f"{table.where}.base_url: expected an http(s) URL, got {base_url!r}")
    if api_version not in ("v1.0", "beta"):
        raise ConfigError(f"{table.where}.api_version: expected 'v1.0' or 'beta', got {api_version!r}")
    attack_simulation, gophish = awareness_settings(cfg.evidence, cfg.home)
    defender, arm, policies = cloud_settings(cfg.evidence)
    return EvidenceSettings(
        credential_factory=lambda: credential_from(identity, environ),
        graph=GraphEndpoint(base_url=base_url, api_version=str(api_version)),
        defender=defender,
        arm=arm,
        firewall_policies=policies,
        attack_simulation=attack_simulation,
        gophish=gophish,
    )


_CLOUD_KEYS = ("defender_base_url", "arm_base_url", "firewall_policies")
_EVIDENCE_KEYS = ("attack_simulation", "gophish", *_CLOUD_KEYS)


def cloud_settings(table: Mapping[str, object]) -> tuple[DefenderEndpoint, ArmEndpoint | None, tuple[str, ...]]:
    """``[evidence]``'s Defender for Endpoint and Resource Manager addresses (a sovereign cloud,
    a stand-in) and the Azure Firewall policies whose rules are evidence (their resource ids)."""
    from microsoft.azure_resources import ArmEndpoint
    from microsoft.defender_endpoint import DefenderEndpoint

    urls = {}
    for key in ("defender_base_url", "arm_base_url"):
        value = table.get(key)
        if value is not None and (not isinstance(value, str) or not value.startswith(("https://", "http://127.0.0.1"))):
            raise ConfigError(f"evidence.{key}: expected an https:// URL (plain http only to 127.0.0.1), got {value!r}")
        urls[key] = value
    policies = table.get("firewall_policies", [])
    if not isinstance(policies, list) or not all(
        isinstance(p, str) and "/providers/Microsoft.Network/firewallPolicies/" in p for p in policies
    ):
        raise ConfigError(
            "evidence.firewall_policies: expected a list of Azure Firewall policy resource ids "
            "(/subscriptions/<id>/resourceGroups/<group>/providers/Microsoft.Network/firewallPolicies/<name>)"
        )
    defender = DefenderEndpoint(base_url=urls["defender_base_url"]) if urls["defender_base_url"] else DefenderEndpoint()
    arm = ArmEndpoint(base_url=urls["arm_base_url"]) if urls["arm_base_url"] else ArmEndpoint()
    return defender, (arm if policies else None), tuple(policies)


_GOPHISH_KEYS = ("url", "api_key_env", "api_key_file", "ca_bundle")


def awareness_settings(table: Mapping[str, object], home: Path) -> tuple[bool, GophishEndpoint | None]:
    """``[evidence] attack_simulation = true`` and ``[evidence.gophish]`` (docs/awareness.md);
    a wrong key names itself. The GoPhish key stays where it is: only where to find it is read."""
    from collectors.evidence.awareness.gophish import GophishEndpoint

    unknown = sorted(set(table) - set(_EVIDENCE_KEYS))
    if unknown:
        raise ConfigError(f"evidence: unknown key {unknown[0]!r}; expected one of: {', '.join(_EVIDENCE_KEYS)}")
    attack_simulation = table.get("attack_simulation", False)
    if not isinstance(attack_simulation, bool):
        raise ConfigError(f"evidence.attack_simulation: expected true or false, got {attack_simulation!r}")
    found = table.get("gophish")
    if found is None:
        return attack_simulation, None
    if not isinstance(found, Mapping):
        raise ConfigError("evidence.gophish: expected a table [evidence.gophish] with url")
    unknown = sorted(set(found) - set(_GOPHISH_KEYS))
    if unknown:
        raise ConfigError(f"evidence.gophish: unknown key {unknown[0]!r}; expected one of: {', '.join(_GOPHISH_KEYS)}")
    text = {key: found.get(key) for key in _GOPHISH_KEYS}
    for key, value in text.items():
        if value is not None and not isinstance(value, str):
            raise ConfigError(f"evidence.gophish.{key}: expected text, got {type(value).__name__}")
    url = text["url"]
    if not isinstance(url, str) or not url.startswith(("https://", "http://127.0.0.1", "http://localhost")):
        raise ConfigError(
            "evidence.gophish.url: expected GoPhish's https:// admin URL (plain http only to this machine)"
        )
    key_file = text["api_key_file"]
    endpoint = GophishEndpoint(
        base_url=url,
        api_key_env=str(text["api_key_env"] or "GOPHISH_API_KEY"),
        api_key_file=(home / str(key_file)) if key_file else None,
        verify=str(text["ca_bundle"]) if text["ca_bundle"] else True,
    )
    return attack_simulation, endpoint


def _graph_table(tables: Sequence[CollectorTable], name: str | None) -> CollectorTable:
    if name is not None:
        for table in tables:
            if table.name == name:
                if table.kind not in GRAPH_KINDS:
                    raise ConfigError(
                        f"{table.where}.type: evidence signs in with a Graph collector's keys "
                        f"({' or '.join(GRAPH_KINDS)}), not a {table.kind} collector's"
                    )
                return table
        raise ConfigError(f"--collector: no table [collectors.{name}] in the config")
    for table in tables:
        if table.enabled and table.kind in GRAPH_KINDS:
            return table
    raise ConfigError(
        "collectors: evidence signs in with a Graph collector's keys; add a [collectors.entra-signins] "
        "table with tenant_id, client_id and client_secret_env (docs/collectors.md)"
    )


def _entry(entry: SnapshotEntry) -> dict[str, object]:
    return {
        "source": entry.source,
        "taken_at": entry.taken_at,
        "status": entry.status,
        "rows": entry.rows,
        "reason": entry.reason,
        "http_status": entry.http_status,
        "notes": list(entry.notes),
    }


@evidence_app.command("import-gophish")
def import_gophish_command(
    ctx: typer.Context,
    files: Annotated[
        list[Path],
        typer.Argument(
            help="GoPhish exports: the API's campaign JSON, or a campaign's results CSV.", exists=True, dir_okay=False
        ),
    ],
    campaign: Annotated[
        str | None,
        typer.Option(
            "--campaign", help="The campaign's name for a results CSV (it does not carry it) [default: file name]."
        ),
    ] = None,
    events: Annotated[
        Path | None,
        typer.Option(
            "--events", help="The campaign's raw-events CSV: when mails were sent, clicked, reported.", exists=True
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Import GoPhish exports as a snapshot of gophish.results; records that cannot be counted are
    set aside, each with its reason."""
    from collectors.evidence.awareness.gophish_export import ExportFile, GophishExportError, import_exports
    from store.snapshots import SnapshotStore

    cfg: Config = ctx.obj
    if (campaign or events) and len(files) != 1:
        fail("--campaign and --events describe one results CSV: give one file with them")
    try:
        result = import_exports(SnapshotStore(cfg.home), [ExportFile(path, campaign, events) for path in files])
    except GophishExportError as error:
        fail(str(error))
    if as_json:
        render.emit_json({"entry": _entry(result.entry), "kept": result.kept, "set_aside": list(result.set_aside)})
        return
    shown = result.set_aside[:5]
    more = f" ({len(result.set_aside) - len(shown)} more)" if len(result.set_aside) > len(shown) else ""
    rows = [(result.entry.source, result.kept, len(result.set_aside), "; ".join(shown) + more)]
    render.show(render.table("GoPhish import", ("source", "kept", "set aside", "reasons"), rows))
