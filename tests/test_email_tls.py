"""Email over TLS with AUTH against a real aiosmtpd: STARTTLS, implicit TLS (SMTPS), a private CA.

The certificates are made at test time with the ``openssl`` CLI: a private CA and a server
certificate for 127.0.0.1 signed by it. The client verifies certificates by default, so it
trusts the server only when ``MONITOR_SMTP_CAFILE`` names that CA.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from aiosmtpd.smtp import AuthResult, LoginPassword
from sqlalchemy import select

from monitor.models import DeliveryAttempt
from tests.alerting import (
    STATUS_MOVE,
    deliveries,
    dispatch,
    seed_changes,
    seed_watchlist,
    subscription,
)
from tests.fakes.smtp_server import Mailbox, SessionSeen, smtp_server
from tests.fakes.tls import Certificates

USER = "alerts@example.org"
PASSWORD = "s3cret p@ss/w%rd"  # needs percent-encoding in the URL, and must never be shown


def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
        USER.encode(), PASSWORD.encode())
    return AuthResult(success=ok, handled=False, auth_data=auth_data)


@pytest.fixture
def mailbox(monkeypatch, caplog) -> Mailbox:
    monkeypatch.setenv("MONITOR_MAIL_FROM", "Remedy Monitor <alerts@example.org>")
    monkeypatch.setenv("MONITOR_PUBLIC_URL", "https://monitor.example.org")
    caplog.set_level(logging.DEBUG)
    return Mailbox()


@dataclass(frozen=True)
class TlsServer:
    mode: str  # starttls | smtps
    port: int


@pytest.fixture(params=["starttls", "smtps"])
def tls_server(request, certificates: Certificates, mailbox: Mailbox, monkeypatch) -> Iterator[TlsServer]:
    """An SMTP server that needs TLS and AUTH, with MONITOR_SMTP_URL pointing at it."""
    mode = request.param
    # aiosmtpd's auth_require_tls only knows STARTTLS; under implicit TLS every command is encrypted
    tls = ({"tls_context": certificates.server_context(), "require_starttls": True, "auth_require_tls": True}
           if mode == "starttls" else {"ssl_context": certificates.server_context(), "auth_require_tls": False})
    with smtp_server(mailbox, authenticator=authenticator, **tls) as port:
        monkeypatch.setenv("MONITOR_SMTP_URL", smtp_url(mode, port))
        yield TlsServer(mode, port)


def smtp_url(mode: str, port: int, password: str = PASSWORD) -> str:
    credentials = f"{quote(USER, safe='')}:{quote(password, safe='')}"
    return (f"smtp://{credentials}@127.0.0.1:{port}?starttls=1" if mode == "starttls"
            else f"smtps://{credentials}@127.0.0.1:{port}")


def assert_password_never_shown(db, caplog, capsys, password: str = PASSWORD) -> None:
    with db.session() as s:
        answers = [a.response or "" for a in s.scalars(select(DeliveryAttempt))]
    shown = [*answers, *(d.last_error or "" for d in deliveries(db)), caplog.text, *capsys.readouterr()]
    for secret in (password, quote(password, safe="")):
        assert not [text for text in shown if secret in text]


def test_tls_with_auth_delivers_when_the_private_ca_is_trusted(db, tls_server: TlsServer, certificates: Certificates,
                                                               mailbox: Mailbox, monkeypatch, caplog, capsys) -> None:
    monkeypatch.setenv("MONITOR_SMTP_CAFILE", str(certificates.ca))
    sub = seed_watchlist(db, target="email:ana@example.org")
    seed_changes(db, sub, STATUS_MOVE)
    assert dispatch(db).sent == 1
    assert mailbox.sessions == [SessionSeen(tls=True, login=USER)]  # encrypted, then logged in
    assert mailbox.envelopes[0].rcpt_tos == ["ana@example.org"]
    assert "Reported by committee" in mailbox.messages[0].get_body(("plain",)).get_content()
    assert_password_never_shown(db, caplog, capsys)


def test_untrusted_certificate_is_retried_with_a_clear_reason(db, tls_server: TlsServer, mailbox: Mailbox, monkeypatch,
                                                              caplog, capsys) -> None:
    monkeypatch.delenv("MONITOR_SMTP_CAFILE", raising=False)  # only the system CAs: ours is not among them
    sub = seed_watchlist(db, target="email:ana@example.org")
    seed_changes(db, sub, STATUS_MOVE)
    assert dispatch(db).retried == 1
    reason = deliveries(db)[0].last_error
    assert reason.startswith("SMTP server's TLS certificate is not trusted (unable to get local issuer certificate)")
    assert "MONITOR_SMTP_CAFILE" in reason
    assert subscription(db, sub).enabled  # the operator's to fix, not the subscriber's fault
    assert mailbox.messages == []
    assert_password_never_shown(db, caplog, capsys)


def test_certificate_for_another_host_is_not_trusted(db, certificates: Certificates, mailbox: Mailbox,
                                                     monkeypatch) -> None:
    monkeypatch.setenv("MONITOR_SMTP_CAFILE", str(certificates.ca))
    with smtp_server(mailbox, ssl_context=certificates.server_context()) as port:
        monkeypatch.setenv("MONITOR_SMTP_URL", f"smtps://localhost:{port}")  # the certificate names 127.0.0.1
        sub = seed_watchlist(db, target="email:ana@example.org")
        seed_changes(db, sub, STATUS_MOVE)
        assert dispatch(db).retried == 1
    assert deliveries(db)[0].last_error.startswith("SMTP server's TLS certificate is not trusted (Hostname mismatch")
    assert mailbox.messages == []


def test_wrong_password_is_retried_and_never_shown(db, tls_server: TlsServer, certificates: Certificates,
                                                   mailbox: Mailbox, monkeypatch, caplog, capsys) -> None:
    monkeypatch.setenv("MONITOR_SMTP_CAFILE", str(certificates.ca))
    wrong = "wr0ng p@ss"
    monkeypatch.setenv("MONITOR_SMTP_URL", smtp_url(tls_server.mode, tls_server.port, wrong))
    sub = seed_watchlist(db, target="email:ana@example.org")
    seed_changes(db, sub, STATUS_MOVE)
    assert dispatch(db).retried == 1
    assert deliveries(db)[0].last_error == "535 SMTP login refused: check MONITOR_SMTP_URL"
    assert subscription(db, sub).enabled
    assert mailbox.messages == []
    assert_password_never_shown(db, caplog, capsys, wrong)


def test_unreadable_ca_file_is_retried_and_named(db, tls_server: TlsServer, mailbox: Mailbox, monkeypatch,
                                                 tmp_path: Path) -> None:
    monkeypatch.setenv("MONITOR_SMTP_CAFILE", str(tmp_path / "missing-ca.pem"))
    sub = seed_watchlist(db, target="email:ana@example.org")
    seed_changes(db, sub, STATUS_MOVE)
    assert dispatch(db).retried == 1
    assert deliveries(db)[0].last_error == (f"MONITOR_SMTP_CAFILE {tmp_path / 'missing-ca.pem'} is not a readable "
                                            "PEM file of CA certificates: No such file or directory")
    assert subscription(db, sub).enabled
