"""Loading playbooks: every problem names the file, the line and the key; one broken file does
not stop the others."""

from __future__ import annotations

import textwrap
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from playbooks import load_playbooks
from playbooks.definition import parse_duration
from tests.support.playbook_standins import Destroyer, Recorder, registry

ACTIONS = registry(Recorder(), Destroyer())

GOOD = """\
id: good
title: Good
trigger:
  rules: [rule-1]
steps:
  - name: one
    action: test.act
    with:
      user: '{{ group["user.name"] }}'
"""


def load(tmp_path: Path, **files: str):
    folder = tmp_path / "books"
    folder.mkdir(exist_ok=True)
    for name, text in files.items():
        (folder / f"{name}.yml").write_text(textwrap.dedent(text))
    return load_playbooks([folder], ACTIONS)


def messages(tmp_path: Path, text: str) -> list[str]:
    playbooks, problems = load(tmp_path, bad=text, good=GOOD)
    assert list(playbooks) == ["good"]  # the other file still loads
    folder = tmp_path / "books"
    return [str(p).replace(str(folder) + "/", "") for p in problems]


def test_an_unknown_action_names_file_line_and_key(tmp_path):
    text = GOOD.replace("id: good", "id: bad").replace("action: test.act", "action: graph.nuke_everything")
    assert messages(tmp_path, text) == [
        "bad.yml:7: steps[0].action: expected a known action (test.act, test.destroy), got 'graph.nuke_everything'"
    ]


def test_a_destructive_step_without_approval_is_refused_naming_the_step(tmp_path):
    text = GOOD.replace("id: good", "id: bad").replace("action: test.act", "action: test.destroy")
    assert messages(tmp_path, text) == [
        "bad.yml:6: steps[0].approval: step 'one' calls test.destroy, which is destructive: expected approval: required"
    ]


def test_arguments_the_action_refuses_are_found_at_load_and_templated_ones_left_for_the_run(tmp_path):
    text = (
        GOOD.replace("id: good", "id: bad")
        + "      colour: blue\n  - name: two\n    action: test.act\n    with: {user: 5}\n"
    )
    found = messages(tmp_path, text)
    assert found == [
        "bad.yml:10: steps[0].with.colour: is not an argument of test.act; expected one of user",
        "bad.yml:13: steps[1].with.user: Input should be a valid string (got 5)",
    ]


def test_a_bad_duration_a_repeated_step_and_an_unknown_key(tmp_path):
    text = """\
    id: bad
    title: Bad
    trigger: {min_severity: high}
    steps:
      - name: one
        action: test.act
        timeout: soon
        with: {user: x}
      - name: one
        action: test.act
        with: {user: x}
        retry: 3
    """
    assert messages(tmp_path, text) == [
        "bad.yml:7: steps[0].timeout: expected a duration like 30s, 5m or 1h, got 'soon'",
        "bad.yml:12: steps[1].retry: is not a key here",
    ]
    fixed = textwrap.dedent(text).replace("timeout: soon", "timeout: 5m").replace("    retry: 3\n", "")
    assert messages(tmp_path, fixed) == ["bad.yml:9: steps[1].name: expected a name no other step has, got 'one'"]


def test_duplicate_ids_across_files_keep_the_first(tmp_path):
    playbooks, problems = load(tmp_path, a=GOOD, b="# again\n" + GOOD)
    assert list(playbooks) == ["good"] and playbooks["good"].source.endswith("a.yml:1")
    (problem,) = problems
    assert (Path(problem.file).name, problem.line, problem.key) == ("b.yml", 2, "id")
    assert "'good' is already defined at" in problem.expected and "a.yml:1" in problem.expected


def test_yaml_errors_repeated_keys_bad_templates_and_unknown_rules(tmp_path):
    assert messages(tmp_path, "id: [unclosed\n") == [
        "bad.yml:2: expected valid YAML: expected ',' or ']', but got '<stream end>'"
    ]
    repeated = GOOD.replace("id: good", "id: bad").replace(
        "    action: test.act\n", "    action: test.act\n    action: test.act\n"
    )
    assert messages(tmp_path, repeated) == [
        "bad.yml:8: steps[0].action: expected each key once in a mapping; this one repeats"
    ]
    template = GOOD.replace("id: good", "id: bad").replace("{{ group", "{{ group[")
    (message,) = messages(tmp_path, template)
    assert message.startswith("bad.yml:9: steps[0].with.user: expected a Jinja template:")
    folder = tmp_path / "books"
    _, problems = load_playbooks([folder], ACTIONS, rule_ids={"rule-2": "rule-2"})
    assert "good.yml:4: trigger.rules[0]: expected the id or name of a loaded rule, got 'rule-1'" in [
        str(p).replace(str(folder) + "/", "") for p in problems
    ]


def test_rule_names_resolve_to_ids(tmp_path):
    playbooks, problems = load(tmp_path, good=GOOD)
    playbooks, problems = load_playbooks(
        [tmp_path / "books"], ACTIONS, rule_ids={"rule-1": "uuid-1", "uuid-1": "uuid-1"}
    )
    assert not problems and playbooks["good"].trigger.rules == ("uuid-1",)


def test_an_empty_trigger_and_a_missing_title(tmp_path):
    text = "id: bad\ntrigger: {}\nsteps:\n  - {name: one, action: test.act, with: {user: x}}\n"
    assert messages(tmp_path, text) == [
        "bad.yml:1: title: is missing",
        "bad.yml:2: trigger: expected at least one of rules, tags, min_severity or where (got {})",
    ]


BAD_VALUES = st.one_of(
    st.integers(),
    st.booleans(),
    st.lists(st.integers(), max_size=2),
    st.text(max_size=8).filter(lambda t: "\n" not in t),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(key=st.sampled_from(["timeout", "retries", "approval", "on_denied"]), value=BAD_VALUES)
def test_any_bad_step_value_is_reported_at_its_line_and_key(tmp_path, key, value):
    valid = {"timeout": parse_duration, "retries": lambda v: 0 <= v <= 10 and type(v) is int,
             "approval": lambda v: v in ("required", "none"), "on_denied": lambda v: v in ("cancel", "skip")}  # fmt: skip
    try:
        ok = bool(valid[key](value))
    except (ValueError, TypeError):
        ok = False
    if ok:
        return
    import json

    text = GOOD.replace("id: good", "id: bad") + f"    {key}: {json.dumps(value)}\n"
    found = messages(tmp_path, text)
    assert found and all(m.startswith(f"bad.yml:10: steps[0].{key}") for m in found), found


def test_html_arguments_are_autoescaped_and_plain_ones_are_not():
    from pydantic import Field

    from playbooks.templating import html_arguments, render_arguments

    class Mail(BaseModel):
        subject: str
        body: str = Field(json_schema_extra={"format": "html"})

    context = {"alert": {"rule_title": "<script>alert(1)</script>"}}
    rendered = render_arguments(
        "mail",
        {"subject": "{{ alert.rule_title }}", "body": "<p>{{ alert.rule_title }}</p>"},
        context,
        html_arguments(Mail),
    )
    assert rendered == {"subject": "<script>alert(1)</script>", "body": "<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>"}
