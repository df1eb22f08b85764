"""A private CA and a server certificate for 127.0.0.1 and ``feeds.test``, made at test time with
the ``openssl`` CLI, for the TLS tests (email over STARTTLS/SMTPS, feeds over HTTPS). Clients
verify certificates by default, so they trust these servers only when told about the CA."""

from __future__ import annotations

import shutil
import ssl
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

SERVER_NAME = "feeds.test"  # the server certificate's name beside 127.0.0.1 (tests resolve it themselves)


@dataclass(frozen=True)
class Certificates:
    ca: Path
    cert: Path
    key: Path

    def client_context(self) -> ssl.SSLContext:
        """A client context that trusts the test CA only."""
        return ssl.create_default_context(cafile=self.ca)

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert, self.key)
        return context


def make_certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    """A fresh CA and server certificate (skips the test when the openssl CLI is missing)."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("the openssl CLI is not installed: it makes the test CA and server certificate")
    d = tmp_path_factory.mktemp("tls")
    key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    (d / "server.ext").write_text(f"subjectAltName=IP:127.0.0.1,DNS:{SERVER_NAME}\nbasicConstraints=CA:FALSE\n"
                                  "extendedKeyUsage=serverAuth\n")
    for command in (
        ["req", "-x509", *key, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
         "-subj", "/CN=Remedy Monitor test CA",
         "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"],
        ["req", *key, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1"],
        ["x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
         "-out", "server.pem", "-days", "2", "-extfile", "server.ext"],
    ):
        subprocess.run([openssl, *command], cwd=d, check=True, capture_output=True)
    return Certificates(ca=d / "ca.pem", cert=d / "server.pem", key=d / "server.key")
