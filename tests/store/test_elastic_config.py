"""``[store.elasticsearch]`` in cyberwell.toml: what a user writes, what the client gets, and what
never leaks (secrets stay out of reprs and error messages)."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from console import config as configuration
from console.cli import app
from store.elastic.client import ElasticSettings, ElasticSettingsError, build_client

SECRET = "c2VjcmV0LWFwaS1rZXktdmFsdWU="
PASSWORD = "hunter2-but-longer"


def load(tmp_path, text: str):
    (tmp_path / "cyberwell.toml").write_text(text, encoding="utf-8")
    return configuration.load(tmp_path)


@pytest.fixture(autouse=True)
def no_secrets_in_environment(monkeypatch):
    monkeypatch.delenv("CYBERWELL_ES_API_KEY", raising=False)
    monkeypatch.delenv("CYBERWELL_ES_PASSWORD", raising=False)


def test_a_full_table_becomes_settings(tmp_path):
    (tmp_path / "ca.pem").write_text("-----BEGIN CERTIFICATE-----\n")
    (tmp_path / "key").write_text(SECRET + "\n")
    cfg = load(
        tmp_path,
        """
[store]
backend = "elasticsearch"
[store.elasticsearch]
hosts = ["https://es1.council.example:9200", "https://es2.council.example:9200"]
api_key_file = "key"
ca_certs = "ca.pem"
index_prefix = "westbrook-"
""",
    )
    settings = cfg.elasticsearch
    assert cfg.store_backend == "elasticsearch"
    assert settings.hosts == ("https://es1.council.example:9200", "https://es2.council.example:9200")
    assert settings.api_key == SECRET  # read from the file, trailing newline dropped
    assert settings.ca_certs == tmp_path / "ca.pem"  # relative paths are under the home
    assert settings.verify_certs is True  # on unless turned off in so many words
    assert settings.index_prefix == "westbrook-"


def test_no_table_means_no_elastic_settings(tmp_path):
    assert load(tmp_path, "[store]\nbackend = 'embedded'\n").elasticsearch is None


def test_secrets_come_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("CYBERWELL_ES_PASSWORD", PASSWORD)
    cfg = load(tmp_path, "[store.elasticsearch]\nhosts = ['https://es:9200']\nusername = 'cyberwell'\n")
    assert (cfg.elasticsearch.username, cfg.elasticsearch.password) == ("cyberwell", PASSWORD)
    monkeypatch.setenv("CYBERWELL_ES_API_KEY", SECRET)
    cfg = load(tmp_path, "[store.elasticsearch]\ncloud_id = 'council:ZXUtd2VzdC0yLmF3cy5jbG91ZC5lcy5pbyRhYmMkZGVm'\n")
    assert cfg.elasticsearch.api_key == SECRET
    assert cfg.elasticsearch.hosts == ()


@pytest.mark.parametrize(
    "body, expected",
    [
        ("hosts = 'https://es:9200'", "store.elasticsearch.hosts: expected list"),
        ("hosts = [9200]", "store.elasticsearch.hosts: expected a list of URLs"),
        ("hosts = ['es.example:9200']", "store.elasticsearch.hosts: expected URLs"),
        ("hosts = ['https://es:9200']\nverify_certs = 'false'", "store.elasticsearch.verify_certs: expected bool"),
        ("hosts = ['https://es:9200']\nverify_cert = false", "unknown key 'verify_cert'"),
        ("hosts = ['https://es:9200']\nca_certs = 'missing.pem'", "store.elasticsearch.ca_certs: no such file"),
        (
            "hosts = ['https://es:9200']\nindex_prefix = 'Upper-'",
            "store.elasticsearch.index_prefix: expected lower-case",
        ),
        ("hosts = ['https://es:9200']\nusername = 'u'", "username and password go together"),
        ("hosts = ['https://es:9200']\napi_key_file = 'nope'", "store.elasticsearch.api_key_file: cannot read"),
        ("", "give hosts (a list of URLs) or cloud_id"),
        ("hosts = ['https://es:9200']\ncloud_id = 'x:eQ=='", "either hosts or cloud_id"),
        (
            "hosts = ['https://es:9200']\nrequest_timeout = true",
            "store.elasticsearch.request_timeout: expected int or float",
        ),
    ],
)
def test_a_bad_value_names_the_key_and_what_was_expected(tmp_path, body, expected):
    with pytest.raises(configuration.ConfigError) as raised:
        load(tmp_path, f"[store.elasticsearch]\n{body}\n")
    assert expected in str(raised.value)


def test_a_secret_of_the_wrong_type_is_not_echoed(tmp_path):
    with pytest.raises(configuration.ConfigError) as raised:
        load(tmp_path, "[store.elasticsearch]\nhosts = ['https://es:9200']\npassword = 123456789\n")
    assert "store.elasticsearch.password: expected str" in str(raised.value)
    assert "123456789" not in str(raised.value)


def test_the_cli_reports_a_bad_table_without_a_traceback(tmp_path):
    (tmp_path / "cyberwell.toml").write_text("[store.elasticsearch]\nhosts = 'x'\n")
    result = CliRunner().invoke(app, ["--home", str(tmp_path), "quarantine", "list"])
    assert result.exit_code == 2
    assert "store.elasticsearch.hosts" in result.output


def test_secrets_never_appear_in_repr_or_descriptions():
    settings = ElasticSettings(
        hosts=("https://cyberwell:" + PASSWORD + "@es:9200",), api_key=SECRET, username=None, password=None
    )
    assert SECRET not in repr(settings)
    assert "secrets set: api_key" in repr(settings)
    assert PASSWORD not in settings.describe() and "https://es:9200" in settings.describe()
    with_password = ElasticSettings(hosts=("https://es:9200",), username="cyberwell", password=PASSWORD)
    assert PASSWORD not in repr(with_password) and PASSWORD not in str(with_password)


def test_the_client_gets_credentials_and_verifies_tls_by_default(tmp_path):
    client = build_client(ElasticSettings(hosts=("https://es.council.example:9200",), api_key=SECRET))
    node = client.transport.node_pool.all()[0].config
    assert node.verify_certs is True
    assert client._headers["authorization"] == f"ApiKey {SECRET}"
    basic = build_client(ElasticSettings(hosts=("https://es:9200",), username="u", password="p", verify_certs=False))
    assert basic._headers["authorization"].startswith("Basic ")
    assert basic.transport.node_pool.all()[0].config.verify_certs is False
    with pytest.raises(ElasticSettingsError, match="api_key or username and password"):
        build_client(ElasticSettings(hosts=("https://es:9200",), api_key=SECRET, username="u", password="p"))
