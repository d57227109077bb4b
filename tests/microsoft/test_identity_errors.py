"""``microsoft.identity`` errors name the key and what was expected, never where a secret is kept.

A person may paste the secret itself where its environment variable's name or its file's path
belongs; the error (printed by every caller, logged by ``serve``) must not repeat it. These call
the room directly, without the console's own redaction in between.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from microsoft.identity import IdentityError, credential_from, variable_name

SECRET = "Qx8~f3kP.s3cret-Value_pasted/by-mistake"
APP = {"auth": "client_secret", "tenant_id": "t", "client_id": "a"}
CERT = {"auth": "certificate", "tenant_id": "t", "client_id": "a"}


def refused(settings: dict, environ: dict | None = None) -> IdentityError:
    with pytest.raises(IdentityError) as caught:
        credential_from(settings, environ or {})
    return caught.value


@pytest.mark.parametrize(
    ("settings", "key", "says"),
    [
        ({**APP, "client_secret_env": SECRET}, "client_secret_env", "the environment variable it names is not set"),
        ({**APP, "client_secret_file": SECRET}, "client_secret_file", "cannot read the file it names: No such file"),
        ({**APP, "client_secret_file": f"~/{SECRET}"}, "client_secret_file", "cannot read the file it names"),
        ({**CERT, "certificate_path": f"/srv/{SECRET}.pem"}, "certificate_path", "cannot read the file it names"),
    ],
    ids=["secret-as-env-name", "secret-as-file", "secret-as-home-file", "secret-in-cert-path"],
)
def test_where_a_secret_is_kept_is_not_echoed(settings, key, says):
    error = refused(settings)
    assert error.key == key and str(error).startswith(f"{key}: ")
    assert says in str(error)
    assert SECRET not in str(error) and "s3cret" not in str(error)
    assert str(Path(f"~/{SECRET}").expanduser()) not in str(error)


def test_a_password_source_pasted_as_the_password_is_not_echoed(tmp_path):
    certificate = tmp_path / "cert.pem"
    certificate.write_bytes(b"-----BEGIN CERTIFICATE-----\nnot really\n")
    for key in ("certificate_password_env", "certificate_password_file"):
        error = refused({**CERT, "certificate_path": str(certificate), key: SECRET})
        assert error.key == key
        assert SECRET not in str(error)


def test_an_unusable_certificate_names_the_key_not_the_path(tmp_path):
    folder = tmp_path / SECRET.replace("/", "_")
    folder.mkdir()
    certificate = folder / "cert.pem"
    certificate.write_bytes(b"-----BEGIN CERTIFICATE-----\nnot really\n")
    error = refused({**CERT, "certificate_path": str(certificate)})
    assert error.key == "certificate_path"
    assert "is not a usable certificate (PEM or PKCS#12)" in str(error)
    assert str(folder) not in str(error) and "s3cret" not in str(error)


def test_an_empty_or_unreadable_secret_file_says_so_without_its_path(tmp_path):
    hidden = tmp_path / "s3cret-folder"
    hidden.mkdir()
    empty = hidden / "secret"
    empty.write_text("  \n")
    binary = hidden / "binary"
    binary.write_bytes(b"\xff\xfe\x00")
    assert str(refused({**APP, "client_secret_file": str(empty)})) == (
        "client_secret_file: the file it names is empty (expected the secret in it)"
    )
    assert str(refused({**APP, "client_secret_file": str(binary)})) == (
        "client_secret_file: cannot read the file it names: not UTF-8 text"
    )


def test_an_environment_variable_name_is_shown_when_it_plainly_is_one():
    error = refused({**APP, "client_secret_env": "CW_GRAPH_SECRET"})
    assert (
        str(error)
        == "client_secret_env: environment variable CW_GRAPH_SECRET is not set or empty (expected the secret in it)"
    )
    assert variable_name("CW_GRAPH_SECRET") == "CW_GRAPH_SECRET"
    assert variable_name(SECRET) is None and variable_name("cw_secret") is None


def test_an_authority_with_credentials_in_it_is_not_echoed():
    error = refused({**APP, "client_secret_env": "X", "authority_host": f"http://admin:{SECRET}@login.example"})
    assert error.key == "authority_host"
    assert str(error) == "authority_host: must be an https URL (https://login.microsoftonline.com), got an http URL"
