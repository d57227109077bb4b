"""The [actions.*] settings and the registry: errors that name the key (never a secret), which
actions a config turns on and why the others are missing, and docs/actions.md held to the code."""

from __future__ import annotations

from pathlib import Path

import pytest

from playbooks.actions.registry import ACTION_TYPES, build_actions, missing_actions
from playbooks.actions.settings import ActionSettings, ActionSettingsError

DOCS = Path(__file__).resolve().parents[2] / "docs" / "actions.md"
GROUP = "/subscriptions/00000000-1111-2222-3333-444444444444/resourceGroups/rg/providers/Microsoft.Network/ipGroups/g"
HOOK = "https://prod-01.uksouth.logic.azure.com/workflows/1/triggers/manual/paths/invoke?sig=TopSecretSig123"


def credential_factory():
    raise AssertionError("building actions must not sign in")


@pytest.mark.parametrize(
    ("tables", "key", "said"),
    [
        ({"grpah": {}}, "actions.grpah", "unknown"),
        ({"defender": {"base_ur": "https://x"}}, "actions.defender.base_ur", "unknown key"),
        ({"defender": {"base_url": "http://api.example.com"}}, "actions.defender.base_url", "https URL"),
        ({"defender": {"max_retries": "3"}}, "actions.defender.max_retries", "expected a number"),
        ({"defender": {"max_retries": 99}}, "actions.defender.max_retries", "from 0 to 10"),
        ({"azure_firewall": {}}, "actions.azure_firewall.ip_group", "required"),
        ({"azure_firewall": {"ip_group": "blocked"}}, "actions.azure_firewall.ip_group", "resource id"),
        ({"named_location": {"id": "Blocked"}}, "actions.named_location.id", "GUID"),
        ({"email": {"sender": "soc"}}, "actions.email.sender", "email address"),
        ({"email": {"sender": "soc@x.gov.uk", "recipients": ["a@b.com", 3]}}, "actions.email.recipients", "strings"),
        ({"teams": {}}, "actions.teams.webhook_url_env", "name the environment variable"),
        ({"graph": {"api_version": "v2"}}, "actions.graph.api_version", "v1.0"),
        ({"graph": []}, "actions.graph", "expected a table"),
    ],
)
def test_a_bad_setting_is_refused_naming_its_key(tables, key, said):
    with pytest.raises(ActionSettingsError, match=said) as raised:
        ActionSettings.from_dict(tables)
    assert raised.value.key == key
    assert str(raised.value).startswith(f"{key}: ")


def test_a_webhook_url_pasted_where_a_variable_name_goes_is_refused_without_echoing_it():
    with pytest.raises(ActionSettingsError) as raised:
        ActionSettings.from_dict({"teams": {"webhook_url_env": HOOK}})
    assert raised.value.key == "actions.teams.webhook_url_env"
    assert "TopSecretSig123" not in str(raised.value) and "logic.azure.com" not in str(raised.value)


def test_the_webhook_url_comes_from_the_variable_or_the_file(tmp_path):
    settings = ActionSettings.from_dict({"teams": {"webhook_url_env": "CW_HOOK"}})
    assert settings.teams is not None
    assert settings.teams.webhook_url({"CW_HOOK": HOOK}).get_secret_value() == HOOK
    assert "TopSecretSig123" not in repr(settings.teams.webhook_url({"CW_HOOK": HOOK}))

    with pytest.raises(ActionSettingsError, match="environment variable CW_HOOK is not set") as raised:
        settings.teams.webhook_url({})
    assert raised.value.key == "actions.teams.webhook_url_env"

    file = tmp_path / "hook"
    file.write_text(HOOK + "\n")
    from_file = ActionSettings.from_dict({"teams": {"webhook_url_file": str(file)}})
    assert from_file.teams is not None and from_file.teams.webhook_url({}).get_secret_value() == HOOK
    file.write_text("")
    with pytest.raises(ActionSettingsError, match="is empty"):
        from_file.teams.webhook_url({})


def test_a_plain_http_webhook_url_is_refused_without_echoing_it():
    settings = ActionSettings.from_dict({"teams": {"webhook_url_env": "CW_HOOK"}})
    assert settings.teams is not None
    with pytest.raises(ActionSettingsError, match="not an https URL") as raised:
        settings.teams.webhook_url({"CW_HOOK": HOOK.replace("https://", "http://")})
    assert "TopSecretSig123" not in str(raised.value)


def test_sign_in_keys_beside_the_tables_are_left_to_the_identity_settings():
    settings = ActionSettings.from_dict({"tenant_id": "t", "client_id": "c", "client_secret_env": "S", "graph": {}})
    assert settings.graph is not None


def test_only_configured_actions_are_built_and_the_others_say_what_turns_them_on():
    settings = ActionSettings.from_dict(
        {"graph": {}, "azure_firewall": {"ip_group": GROUP}, "teams": {"webhook_url_env": "CW_HOOK"}}
    )
    built = build_actions(settings, credential_factory, environ={"CW_HOOK": HOOK})

    assert sorted(built) == [
        "azure.block_ip",
        "graph.confirm_compromised",
        "graph.disable_user",
        "graph.revoke_sessions",
        "notify.teams",
    ]
    missing = missing_actions(settings)
    assert missing == {
        "defender.isolate_device": "add an [actions.defender] table to the config",
        "defender.release_device": "add an [actions.defender] table to the config",
        "graph.block_ip_named_location": "add an [actions.named_location] table with id to the config",
        "notify.email": "add an [actions.email] table with sender to the config",
    }
    assert set(built) | set(missing) == set(ACTION_TYPES)


def test_without_a_sign_in_only_the_teams_webhook_is_built():
    settings = ActionSettings.from_dict({"graph": {}, "teams": {"webhook_url_env": "CW_HOOK"}})
    built = build_actions(settings, None, environ={"CW_HOOK": HOOK})
    assert list(built) == ["notify.teams"]
    assert "sign-in keys" in missing_actions(settings, signs_in=False)["graph.disable_user"]


def test_an_unreadable_webhook_secret_stops_the_build_naming_the_key():
    settings = ActionSettings.from_dict({"teams": {"webhook_url_env": "CW_HOOK"}})
    with pytest.raises(ActionSettingsError, match="actions.teams.webhook_url_env"):
        build_actions(settings, None, environ={})


def test_every_action_declares_what_the_runner_and_the_docs_need():
    for name, kind in ACTION_TYPES.items():
        assert kind.name == name
        assert isinstance(kind.destructive, bool)
        assert kind.permission
        assert kind.arguments.model_config.get("extra") == "forbid"
    destructive = sorted(name for name, kind in ACTION_TYPES.items() if kind.destructive)
    assert destructive == [
        "azure.block_ip",
        "defender.isolate_device",
        "defender.release_device",
        "graph.block_ip_named_location",
        "graph.confirm_compromised",
        "graph.disable_user",
    ]


def test_docs_describe_every_action_with_its_permission():
    text = DOCS.read_text(encoding="utf-8")
    for name, kind in ACTION_TYPES.items():
        assert f"### `{name}`" in text, name
        section = text.split(f"### `{name}`", 1)[1].split("\n### ", 1)[0]
        for argument in kind.arguments.model_fields:
            assert f"`{argument}`" in section, (name, argument)
        assert ("Destructive: yes" if kind.destructive else "Destructive: no") in section, name
