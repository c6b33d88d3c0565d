"""A real SMTP server on localhost for the delivery tests (aiosmtpd), collecting what it accepts."""
from __future__ import annotations

import email
import email.policy
import socket

from aiosmtpd.controller import Controller


class Collector:
    """Accepts every message, except that it answers `451 try later` to the first `refuse`; drops
    the connection unanswered at the next `drop_at_mail` MAIL FROMs (as a server that timed the
    connection out meanwhile) and after the next `drop_in_data` messages' data."""

    def __init__(self):
        self.messages: list[email.message.EmailMessage] = []
        self.refuse = 0
        self.drop_at_mail = 0
        self.drop_in_data = 0
        self.connections: set[tuple] = set()  # the client ends of the connections that sent MAIL

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        self.connections.add(session.peer)
        if self.drop_at_mail:
            self.drop_at_mail -= 1
            server.transport.abort()
            return "421 4.4.2 Closing connection"  # never reaches the client
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.drop_in_data:
            self.drop_in_data -= 1
            server.transport.abort()  # the message arrived; whether it went on, nobody can say
            return "250 OK"
        if self.refuse:
            self.refuse -= 1
            return "451 4.3.0 Try later"
        self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
        return "250 OK"

    def to(self) -> list[str]:
        """Every accepted message's address, one entry per message."""
        return sorted(m["To"].addresses[0].addr_spec for m in self.messages)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(app) -> tuple[Controller, Collector]:
    handler = Collector()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    app.config.update(ISF_SMTP_HOST="127.0.0.1", ISF_SMTP_PORT=controller.port, ISF_SMTP_STARTTLS="false",
                      ISF_SMTP_FROM="statements@provider.example")
    return controller, handler
