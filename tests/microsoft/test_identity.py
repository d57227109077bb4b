"""Credentials from collector settings: secret, certificate, managed identity; secrets never shown.

Sign-in goes to the local identity stand-in (tests/support/graph_standin.py, whose Graph records are
Microsoft's samples from microsoftgraph/microsoft-graph-docs).
"""

from __future__ import annotations

import datetime as dt
import logging

import pytest
from azure.identity import CertificateCredential, ClientSecretCredential, ManagedIdentityCredential
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from collectors.live.graph_signins import EntraSigninCollector
from microsoft.graph import GraphEndpoint
from microsoft.identity import IdentityError, IdentitySettings, credential_from
from store import EmbeddedStore
from store.state.checkpoints import Checkpoints
from tests.support.graph_standin import GraphStandIn, make_signins, sample_signins

SECRET = "s3cret-Value-that-must-never-show-7f1"
PASSWORD = "pfx-Password-never-shown-93a"
NOW = dt.datetime.now(dt.UTC)


@pytest.fixture
def standin():
    server = GraphStandIn().start()
    yield server
    server.stop()


def base(standin, **extra) -> dict:
    return {
        "tenant_id": standin.tenant_id,
        "client_id": "cyberwell-app",
        "authority_host": standin.authority,
        "ca_bundle": standin.ca_bundle,
        **extra,
    }


def collect(standin, shared_data, tmp_path, settings: dict, environ: dict):
    standin.add(
        signins=make_signins(sample_signins(shared_data), 5, NOW - dt.timedelta(hours=1), dt.timedelta(minutes=1))
    )
    store = EmbeddedStore(tmp_path / "home")
    collector = EntraSigninCollector(
        lambda: credential_from(settings, environ), GraphEndpoint(base_url=standin.graph_url)
    )
    return collector.collect_once(store, Checkpoints(store.state))


def test_client_secret_from_the_environment_signs_in(standin, shared_data, tmp_path):
    standin.add_client("cyberwell-app", SECRET)
    settings = base(standin, auth="client_secret", client_secret_env="CW_SECRET")
    assert isinstance(credential_from(settings, {"CW_SECRET": SECRET}), ClientSecretCredential)
    run = collect(standin, shared_data, tmp_path, settings, {"CW_SECRET": SECRET})
    assert run.error is None and run.stored == 5
    assert standin.tenant.token_requests[0]["grant_type"] == "client_credentials"


def test_client_secret_from_a_file(standin, shared_data, tmp_path):
    standin.add_client("cyberwell-app", SECRET)
    secret_file = tmp_path / "graph-secret"
    secret_file.write_text(SECRET + "\n")
    run = collect(
        standin, shared_data, tmp_path, base(standin, auth="client_secret", client_secret_file=str(secret_file)), {}
    )
    assert run.error is None and run.stored == 5


def _certificate(tmp_path, password: str | None):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "cyberwell-app")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(NOW - dt.timedelta(days=1))
        .not_valid_after(NOW + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    encryption = serialization.BestAvailableEncryption(password.encode()) if password else serialization.NoEncryption()
    path = tmp_path / "app.pem"
    path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)
        + cert.public_bytes(serialization.Encoding.PEM)
    )
    return path


def test_certificate_with_a_password_from_a_file_signs_in_with_an_assertion(standin, shared_data, tmp_path):
    standin.add_client("cyberwell-app")  # no secret: only a certificate assertion is accepted
    password_file = tmp_path / "pfx-password"
    password_file.write_text(PASSWORD)
    settings = base(
        standin,
        auth="certificate",
        certificate_path=str(_certificate(tmp_path, PASSWORD)),
        certificate_password_file=str(password_file),
    )
    assert isinstance(credential_from(settings, {}), CertificateCredential)
    run = collect(standin, shared_data, tmp_path, settings, {})
    assert run.error is None and run.stored == 5
    sent = standin.tenant.token_requests[0]
    assert sent["client_assertion_type"].endswith("jwt-bearer") and "client_secret" not in sent


def test_a_wrong_certificate_password_names_the_key_not_the_password(standin, tmp_path):
    settings = base(
        standin,
        auth="certificate",
        certificate_path=str(_certificate(tmp_path, PASSWORD)),
        certificate_password_env="CW_PFX",
    )
    with pytest.raises(IdentityError) as caught:
        credential_from(settings, {"CW_PFX": "not-the-password"})
    assert caught.value.key == "certificate_path"
    assert "not-the-password" not in str(caught.value) and PASSWORD not in str(caught.value)


def test_managed_identity_needs_no_secret():
    credential = credential_from({"auth": "managed_identity", "client_id": "user-assigned-id"}, {})
    assert isinstance(credential, ManagedIdentityCredential)


@pytest.mark.parametrize(
    "settings, key",
    [
        ({"auth": "password"}, "auth"),
        ({"auth": "client_secret", "client_id": "a", "client_secret_env": "X"}, "tenant_id"),
        ({"auth": "client_secret", "tenant_id": "t", "client_id": "a"}, "client_secret_env"),
        (
            {"auth": "client_secret", "tenant_id": "t", "client_id": "a", "client_secret_env": "MISSING"},
            "client_secret_env",
        ),
        (
            {"auth": "client_secret", "tenant_id": "t", "client_id": "a", "client_secret_file": "/nonexistent/s"},
            "client_secret_file",
        ),
        ({"auth": "certificate", "tenant_id": "t", "client_id": "a"}, "certificate_path"),
        (
            {
                "auth": "client_secret",
                "tenant_id": "t",
                "client_id": "a",
                "client_secret_env": "X",
                "authority_host": "http://login.example",
            },
            "authority_host",
        ),
        ({"auth": "client_secret", "tenant_id": 7, "client_id": "a", "client_secret_env": "X"}, "tenant_id"),
    ],
)
def test_wrong_settings_name_the_key(settings, key):
    with pytest.raises(IdentityError) as caught:
        credential_from(settings, {"X": SECRET})
    assert caught.value.key == key and str(caught.value).startswith(f"{key}: ")
    assert SECRET not in str(caught.value)


def test_settings_print_without_the_secret():
    settings = IdentitySettings.from_dict({"tenant_id": "t", "client_id": "a", "client_secret_env": "CW_SECRET"})
    assert "CW_SECRET" in repr(settings) and SECRET not in repr(settings)


def test_the_secret_is_in_no_log_and_no_error(standin, shared_data, tmp_path, caplog):
    """Every logger at DEBUG through a good sign-in and a refused one: the secret appears nowhere."""
    standin.add_client("cyberwell-app", SECRET)
    caplog.set_level(logging.DEBUG)
    good = collect(
        standin, shared_data, tmp_path, base(standin, auth="client_secret", client_secret_env="S"), {"S": SECRET}
    )
    wrong_secret = SECRET[::-1]
    refused = collect(
        standin,
        shared_data,
        tmp_path / "2",
        base(standin, auth="client_secret", client_secret_env="S"),
        {"S": wrong_secret},
    )
    assert good.error is None
    assert "signing in to Entra ID failed" in refused.error and "AADSTS7000215" in refused.error
    assert caplog.records  # the clients did log
    for text in (caplog.text, good.error or "", refused.error):
        assert SECRET not in text and wrong_secret not in text
