"""Real receivers for the alert channels, started by the tests on 127.0.0.1.

- ``WebhookServer``: ``http.server`` in a thread on port 0; records every POST (path, headers,
  JSON body); answers with the queued status codes (200 when the queue is empty).
- ``SmtpServer``: an aiosmtpd ``Controller``; records every message (envelope sender,
  recipients, parsed message); optionally requires a login.
"""

from __future__ import annotations

import email
import email.policy
import json
import socket
import threading
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Received:
    path: str
    headers: dict
    body: dict


class WebhookServer:
    def __init__(self, port: int = 0):
        self.requests: list[Received] = []
        self.statuses: deque[int] = deque()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's naming
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                status = owner.statuses.popleft() if owner.statuses else 200
                if status < 300:
                    owner.requests.append(Received(self.path, dict(self.headers), json.loads(raw)))
                self.send_response(status)
                self.send_header("Content-Type", "text/plain")
                self.end_headers()
                self.wfile.write(b"ok" if status < 300 else b"server error")

            def log_message(self, *args):  # keep test output quiet
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def url(self, path: str = "/hooks/T000/B000/XXXXSECRETTOKENXXXX") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


@dataclass
class Mail:
    mail_from: str
    rcpt_tos: list[str]
    message: email.message.EmailMessage

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    @property
    def text(self) -> str:
        return self.message.get_content()


class _Handler:
    def __init__(self, sink: list[Mail]):
        self.sink = sink

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's naming
        message = email.message_from_bytes(envelope.original_content or envelope.content,
                                           policy=email.policy.default)
        self.sink.append(Mail(envelope.mail_from, list(envelope.rcpt_tos), message))
        return "250 OK"


class SmtpServer:
    def __init__(self, user: str | None = None, password: str | None = None):
        self.messages: list[Mail] = []
        self.port = free_port()
        kwargs = {}
        if user is not None:
            def authenticator(server, session, envelope, mechanism, auth_data):
                ok = isinstance(auth_data, LoginPassword) and auth_data.login.decode() == user \
                    and auth_data.password.decode() == password
                return AuthResult(success=ok, handled=False)

            kwargs = {"authenticator": authenticator, "auth_required": True, "auth_require_tls": False}
        self._controller = Controller(_Handler(self.messages), hostname="127.0.0.1", port=self.port,
                                      **kwargs)
        self._controller.start()

    def close(self) -> None:
        if self._controller._thread is not None:
            self._controller.stop()
