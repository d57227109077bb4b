"""No error prints a secret, whatever the user got wrong.

Each case is a config (or option, or environment) a person could plausibly write: a password in
an Elasticsearch URL, an API key with a line break in it, a secret pasted where the name of a
variable or a file was expected. The command runs in a subprocess, as a person runs it; the
secret must appear nowhere in stdout or stderr, and the message must name the key at fault.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SECRET = "S3cretXq9"  # in every case below, in some form


def cyberwell(home: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("CYBERWELL_ES_")}
    environ.update(PYTHONPATH=str(REPO), COLUMNS="400", **(env or {}))
    return subprocess.run(
        [sys.executable, "-m", "console.cli", "--home", str(home), *args],
        cwd=REPO,
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
    )


def elastic_config(home: Path, body: str) -> None:
    home.mkdir(parents=True, exist_ok=True)
    (home / "cyberwell.toml").write_text(f'[store]\nbackend = "elasticsearch"\n[store.elasticsearch]\n{body}\n')


def assert_secret_kept(done: subprocess.CompletedProcess[str], key: str) -> None:
    said = done.stdout + done.stderr
    assert done.returncode == 2, said
    assert SECRET not in said
    assert "Traceback" not in said
    assert key in said, said
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr  # one line


@pytest.mark.parametrize(
    "body, key",
    [
        (f'hosts = ["http://elastic:{SECRET}@127.0.0.1:notaport"]', "store.elasticsearch.hosts"),
        (f'hosts = ["elastic:{SECRET}@127.0.0.1:9200"]', "store.elasticsearch.hosts"),
        (
            f'hosts = ["http://elastic:{SECRET}@127.0.0.1:9"]\nrequest_timeout = 2',
            "Elasticsearch at http://127.0.0.1:9",
        ),
        (f'hosts = ["http://127.0.0.1:9"]\napi_key_file = "{SECRET}=="', "store.elasticsearch.api_key_file"),
        (
            f'hosts = ["http://127.0.0.1:9"]\nusername = "u"\npassword_file = "{SECRET}"',
            "store.elasticsearch.password_file",
        ),
        (f'hosts = ["http://127.0.0.1:9"]\napi_key_file = ["{SECRET}"]', "store.elasticsearch.api_key_file"),
    ],
    ids=[
        "url-password-bad-port",
        "url-password-no-scheme",
        "url-password-unreachable",
        "key-as-file",
        "password-as-file",
        "file-of-wrong-type",
    ],
)
def test_a_wrong_elasticsearch_setting_never_shows_the_secret(tmp_path, body, key):
    elastic_config(tmp_path, body)
    assert_secret_kept(cyberwell(tmp_path, "alerts", "list"), key)


@pytest.mark.parametrize("where", ["file", "inline", "environment"])
def test_an_api_key_with_a_line_break_is_refused_before_it_is_sent(tmp_path, elastic_url, where):
    """http.client refuses such a header with the header's value, the key, in its message."""
    key = f"abc\n{SECRET}"
    env = {}
    if where == "file":
        (tmp_path / "es-key").write_text(key)
        elastic_config(tmp_path, f'hosts = ["{elastic_url}"]\napi_key_file = "es-key"')
    elif where == "inline":
        elastic_config(tmp_path, f'hosts = ["{elastic_url}"]\napi_key = """{key}"""')
    else:
        elastic_config(tmp_path, f'hosts = ["{elastic_url}"]')
        env = {"CYBERWELL_ES_API_KEY": key}
    assert_secret_kept(cyberwell(tmp_path, "quarantine", "list", env=env), "store.elasticsearch.api_key")


def test_a_password_with_a_line_break_is_refused(tmp_path, elastic_url):
    elastic_config(tmp_path, f'hosts = ["{elastic_url}"]\nusername = "elastic"')
    done = cyberwell(tmp_path, "quarantine", "list", env={"CYBERWELL_ES_PASSWORD": f"pw\r\n{SECRET}"})
    assert_secret_kept(done, "store.elasticsearch.password")


def test_a_demo_url_with_a_password_is_not_echoed(tmp_path):
    done = cyberwell(tmp_path, "demo", "--store", "elasticsearch", "--es-url", f"elastic:{SECRET}@es:9200")
    assert_secret_kept(done, "--es-url")


def collector_config(home: Path, body: str) -> None:
    home.mkdir(parents=True, exist_ok=True)
    (home / "cyberwell.toml").write_text(
        '[collectors.signins]\ntype = "entra-signins"\n'
        'tenant_id = "00000000-0000-0000-0000-000000000000"\nclient_id = "11111111-1111-1111-1111-111111111111"\n'
        f"{body}\n"
    )


@pytest.mark.parametrize(
    "body, key",
    [
        (f'client_secret_env = "{SECRET}~x"', "collectors.signins.client_secret_env"),
        (f'client_secret_file = "{SECRET} with spaces"', "collectors.signins.client_secret_file"),
        (f'client_secret_file = "~/{SECRET}"', "collectors.signins.client_secret_file"),
        (f'client_secret = "{SECRET}"', "collectors.signins.client_secret"),
        (f'auth = "certificate"\ncertificate_path = "{SECRET}.pem"', "collectors.signins.certificate_path"),
        (
            f'auth = "certificate"\ncertificate_path = "cert.pem"\ncertificate_password_file = "{SECRET}"',
            "collectors.signins.certificate_password_file",
        ),
        (
            f'auth = "certificate"\ncertificate_path = "cert.pem"\ncertificate_password_env = "{SECRET}"',
            "collectors.signins.certificate_password_env",
        ),
    ],
    ids=[
        "secret-as-env",
        "secret-as-file",
        "secret-as-home-file",
        "inline",
        "cert-path",
        "cert-pw-file",
        "cert-pw-env",
    ],
)
def test_a_wrong_sign_in_setting_never_shows_the_secret(tmp_path, body, key):
    home = tmp_path / "home"
    collector_config(home, body)
    # Any bytes: the certificate's password is read before the certificate is parsed.
    (tmp_path / "cert.pem").write_bytes(b"-----BEGIN CERTIFICATE-----\nnot really\n")
    done = subprocess.run(
        [sys.executable, "-m", "console.cli", "--home", str(home), "collect"],
        cwd=tmp_path,  # where cert.pem, a relative path, is found
        env=dict(os.environ, PYTHONPATH=str(REPO), COLUMNS="400"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert_secret_kept(done, key)
