"""A real SMTP server (aiosmtpd) on a free loopback port: plain, STARTTLS or implicit TLS, with AUTH.

``Mailbox`` is the handler: script answers per DATA with ``answers`` (``"451 …"``, ``"550 …"``,
``"disconnect"``; otherwise ``250 OK``), per MAIL FROM with ``sender_answers``, to EHLO/HELO
with ``refuse_client`` and to QUIT with ``quit_answer``; it keeps every accepted message, its
envelope and whether that session was encrypted and logged in.
``smtp_server(mailbox, **params)`` passes ``params`` to aiosmtpd: ``tls_context`` +
``require_starttls`` for STARTTLS, ``ssl_context`` for implicit TLS (SMTPS), ``authenticator``
for AUTH.
"""

from __future__ import annotations

import email
import email.policy
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from aiosmtpd.controller import Controller


@dataclass(frozen=True)
class SessionSeen:
    tls: bool
    login: str | None  # the AUTH user, when the client logged in


class Mailbox:
    def __init__(self) -> None:
        self.answers: list[str] = []
        self.sender_answers: list[str] = []  # answers to MAIL FROM, e.g. a relay refusing our sender
        self.refuse_client: str | None = None  # the answer to EHLO and HELO, e.g. a server refusing our address
        self.quit_answer: str | None = None  # the answer to QUIT instead of 221
        self.messages: list[email.message.EmailMessage] = []
        self.envelopes: list[Any] = []
        self.sessions: list[SessionSeen] = []

    async def handle_EHLO(self, server: Any, session: Any, envelope: Any, hostname: str,
                          responses: list[str]) -> list[str]:
        if self.refuse_client:
            return [self.refuse_client]
        session.host_name = hostname
        return responses

    async def handle_HELO(self, server: Any, session: Any, envelope: Any, hostname: str) -> str:
        if self.refuse_client:
            return self.refuse_client
        session.host_name = hostname
        return f"250 {server.hostname}"

    async def handle_QUIT(self, server: Any, session: Any, envelope: Any) -> str:
        return self.quit_answer or "221 Bye"

    async def handle_MAIL(self, server: Any, session: Any, envelope: Any, address: str, options: list[str]) -> str:
        answer = self.sender_answers.pop(0) if self.sender_answers else "250 OK"
        if answer.startswith("250"):
            envelope.mail_from = address
            envelope.mail_options.extend(options)
        return answer

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        answer = self.answers.pop(0) if self.answers else "250 OK"
        if answer == "disconnect":
            server.transport.close()
            return "421 closing"
        if answer.startswith("250"):
            self.envelopes.append(envelope)
            self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
            login = session.auth_data.login.decode() if session.authenticated and session.auth_data else None
            tls = server.transport.get_extra_info("ssl_object") is not None  # STARTTLS or implicit TLS
            self.sessions.append(SessionSeen(tls=tls, login=login))
        return answer


@contextmanager
def smtp_server(mailbox: Mailbox, **params: Any) -> Iterator[int]:
    """Run aiosmtpd for ``mailbox``; yields its port."""
    with socket.socket() as probe:  # aiosmtpd's Controller needs a known port for its ready check
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(mailbox, hostname="127.0.0.1", port=port, **params)
    controller.start()
    try:
        yield port
    finally:
        controller.stop()
