"""The API's TLS context: TLS 1.2 at least, and a certificate or key that cannot be used named, not a traceback."""
from __future__ import annotations

import ssl
import subprocess
from pathlib import Path

import pytest

from apsisd.daemon.api_server import ServeError, tls_context


def openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=30)


@pytest.fixture(scope="module")
def pem(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """cert.pem with key.pem; other.pem, another key; locked.pem, an encrypted key."""
    folder = tmp_path_factory.mktemp("pem")
    ec = ("-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:prime256v1")
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
            "-subj", "/CN=localhost", "-keyout", str(folder / "key.pem"), "-out", str(folder / "cert.pem"))
    openssl("genpkey", *ec, "-out", str(folder / "other.pem"))
    openssl("genpkey", *ec, "-aes256", "-pass", "pass:secret", "-out", str(folder / "locked.pem"))
    for each in folder.iterdir():
        each.chmod(0o600)  # what a key needs: these tests are about what the files hold
    return folder


def test_a_certificate_and_its_key(pem: Path) -> None:
    context = tls_context(pem / "cert.pem", pem / "key.pem")
    assert (context.minimum_version, context.verify_mode) == (ssl.TLSVersion.TLSv1_2, ssl.CERT_NONE)


@pytest.mark.parametrize(("cert", "key", "message"), [
    ("none.pem", "key.pem", "none.pem: cannot read the API's TLS certificate: No such file or directory"),
    ("cert.pem", "none.pem", "none.pem: cannot read the API's TLS private key: No such file or directory"),
    ("key.pem", "key.pem", "key.pem: not a PEM certificate (tls_cert)"),
    ("cert.pem", "cert.pem", "cert.pem: not a PEM private key (tls_key)"),
    ("cert.pem", "other.pem", "other.pem: not the private key of the certificate"),
    ("cert.pem", "locked.pem", "locked.pem: the API's TLS key is encrypted; apsisd needs it unencrypted"),
])
def test_what_cannot_be_used_is_named(pem: Path, cert: str, key: str, message: str) -> None:
    with pytest.raises(ServeError) as caught:
        tls_context(pem / cert, pem / key)
    assert str(caught.value).startswith(f"{pem}/{message}")



@pytest.mark.parametrize(("mode", "message"), [
    (0o644, "(mode 0644) may be read by anyone; it is a secret: chmod o-rwx {key}"),
    (0o604, "(mode 0604) may be read by anyone; it is a secret: chmod o-rwx {key}"),
    (0o620, "(mode 0620) may be written by its group; only its owner may write it: chmod go-w {key}"),
])
def test_a_key_others_may_read_or_change_is_refused(pem: Path, tmp_path: Path, mode: int, message: str) -> None:
    key = tmp_path / "key.pem"
    key.write_bytes((pem / "key.pem").read_bytes())
    key.chmod(mode)
    with pytest.raises(ServeError) as caught:
        tls_context(pem / "cert.pem", key)
    assert str(caught.value) == f"{key}: the API's TLS private key {message.format(key=key)}"
    key.chmod(0o640)  # a group (ssl-cert on Debian) may read it
    assert tls_context(pem / "cert.pem", key).minimum_version == ssl.TLSVersion.TLSv1_2
