"""Where alerts go: the ``audit.alerts`` table (always, see outbox.py), a webhook, e-mail.

- Webhook (``ARW_ALERT_WEBHOOK_URL``): an HTTP POST of Slack-compatible JSON, ``{"text": ...}``
  plus structured fields (alert_id, kind, severity, subject, body, as_of_date, run_id,
  created_at, facts) for any other receiver.
- E-mail over SMTP (``ARW_SMTP_HOST``, ``ARW_SMTP_PORT``, ``ARW_SMTP_TLS`` none|starttls|ssl,
  ``ARW_SMTP_USER``, ``ARW_SMTP_PASSWORD``, ``ARW_ALERT_EMAIL_FROM``, ``ARW_ALERT_EMAIL_TO``).

Delivery is retried with exponential backoff (``ARW_ALERT_MAX_ATTEMPTS`` attempts,
``ARW_ALERT_RETRY_BACKOFF_SECONDS`` × 2^n between them). Secrets (the webhook URL, which
carries a token, and the SMTP password) never reach a log line or the alerts table: every
error text goes through ``redact`` first.
"""

from __future__ import annotations

import email.policy
import json
import logging
import smtplib
import ssl
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from urllib.parse import urlsplit

from pipelines.alerts.model import PRODUCT
from pipelines.alerts.outbox import OutboxAlert
from pipelines.settings import AlertSettings

log = logging.getLogger("arw.alerts")


class DeliveryError(Exception):
    """A channel could not deliver; the text is already free of secrets."""


def secret_fragments(settings: AlertSettings) -> tuple[str, ...]:
    """The secrets and the parts of them a library might print on its own."""
    found = list(settings.secrets())
    if settings.webhook_url:
        parts = urlsplit(settings.webhook_url)
        found += [p for p in (parts.path, parts.query, parts.password or "") if len(p) >= 8]
        if parts.path and len(parts.path) >= 8:
            found.append(parts.path.strip("/"))
    return tuple(sorted({f for f in found if f}, key=len, reverse=True))


def redact(text: str, secrets: tuple[str, ...]) -> str:
    for secret in secrets:
        text = text.replace(secret, "***")
    return text


def title(alert: OutboxAlert) -> str:
    return f"[{PRODUCT}] {alert.severity.upper()}: {alert.subject}"


class WebhookChannel:
    name = "webhook"

    def __init__(self, url: str, timeout: float):
        self._url = url
        self._timeout = timeout

    def __repr__(self) -> str:  # never the URL: it carries the token
        return "WebhookChannel(url=***)"

    @staticmethod
    def payload(alert: OutboxAlert) -> dict:
        return {
            "text": f"*{title(alert)}*\n{alert.body}".strip(),
            "alert_id": alert.alert_id,
            "kind": alert.kind,
            "severity": alert.severity,
            "subject": alert.subject,
            "body": alert.body,
            "as_of_date": alert.as_of_date.isoformat() if alert.as_of_date else None,
            "run_id": alert.run_id,
            "created_at": alert.created_at.isoformat(timespec="seconds"),
            "facts": json.loads(alert.facts or "{}"),
        }

    def send(self, alert: OutboxAlert) -> None:
        data = json.dumps(self.payload(alert), ensure_ascii=False).encode("utf-8")
        request = urllib.request.Request(self._url, data=data, method="POST", headers={
            "Content-Type": "application/json; charset=utf-8", "User-Agent": "arw-alerts/1"})
        try:
            with urllib.request.urlopen(request, timeout=self._timeout) as response:  # noqa: S310
                response.read()
                if not 200 <= response.status < 300:
                    raise DeliveryError(f"HTTP {response.status}")
        except urllib.error.HTTPError as exc:
            raise DeliveryError(f"HTTP {exc.code} {exc.reason}") from None
        except urllib.error.URLError as exc:
            raise DeliveryError(f"cannot reach the webhook: {exc.reason}") from None
        except (OSError, ValueError) as exc:  # timeouts, resets, a malformed URL
            raise DeliveryError(f"{type(exc).__name__}: {exc}") from None


class EmailChannel:
    name = "email"

    def __init__(self, settings: AlertSettings):
        self._s = settings

    def __repr__(self) -> str:
        return f"EmailChannel(host={self._s.smtp_host!r}, port={self._s.smtp_port}, tls={self._s.smtp_tls})"

    def message(self, alert: OutboxAlert) -> EmailMessage:
        msg = EmailMessage()
        msg["Subject"] = title(alert)
        msg["From"] = self._s.email_from
        msg["To"] = ", ".join(self._s.email_to)
        msg["Date"] = formatdate(localtime=True)
        msg["Message-ID"] = make_msgid(idstring=alert.alert_id)
        footer = [f"Alert {alert.alert_id} ({alert.kind}, {alert.severity})"]
        if alert.as_of_date:
            footer.append(f"Night of {alert.as_of_date.isoformat()}, run {alert.run_id}")
        footer.append("Every alert is kept in audit.alerts of the warehouse.")
        msg.set_content(f"{alert.subject}\n\n{alert.body}\n\n-- \n" + "\n".join(footer) + "\n")
        # Headers up to RFC 5322's 998 characters unfolded: Python's folding at 78 can move a
        # whole subject to a continuation line, which some mail clients show with a leading blank.
        msg.policy = email.policy.SMTP.clone(max_line_length=998)
        return msg

    def send(self, alert: OutboxAlert) -> None:
        s = self._s
        try:
            if s.smtp_tls == "ssl":
                smtp = smtplib.SMTP_SSL(s.smtp_host, s.smtp_port, timeout=s.timeout_seconds,
                                        context=ssl.create_default_context())
            else:
                smtp = smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=s.timeout_seconds)
            with smtp:
                if s.smtp_tls == "starttls":
                    smtp.starttls(context=ssl.create_default_context())
                if s.smtp_user:
                    smtp.login(s.smtp_user, s.smtp_password)
                refused = smtp.send_message(self.message(alert), from_addr=s.email_from,
                                            to_addrs=list(s.email_to))
                if refused:
                    raise DeliveryError(f"recipients refused: {', '.join(sorted(refused))}")
        except smtplib.SMTPResponseException as exc:
            text = exc.smtp_error.decode("utf-8", "replace") if isinstance(exc.smtp_error, bytes) \
                else str(exc.smtp_error)
            raise DeliveryError(f"SMTP {exc.smtp_code} {text}") from None
        except (smtplib.SMTPException, OSError) as exc:
            raise DeliveryError(f"{type(exc).__name__}: {exc}") from None


Channel = WebhookChannel | EmailChannel


def configured_channels(settings: AlertSettings) -> list[Channel]:
    channels: list[Channel] = []
    if settings.webhook_enabled:
        channels.append(WebhookChannel(settings.webhook_url, settings.timeout_seconds))
    if settings.email_enabled:
        channels.append(EmailChannel(settings))
    return channels


def deliver(channel: Channel, alert: OutboxAlert, settings: AlertSettings,
            sleep: Callable[[float], None] = time.sleep) -> tuple[bool, str, int]:
    """Send with bounded retries; returns (delivered, error text without secrets, attempts)."""
    secrets = secret_fragments(settings)
    error = ""
    for attempt in range(1, settings.max_attempts + 1):
        try:
            channel.send(alert)
            log.info("alert %s sent by %s (attempt %d)", alert.alert_id, channel.name, attempt)
            return True, "", attempt
        except DeliveryError as exc:
            error = redact(str(exc), secrets)
        except Exception as exc:  # noqa: BLE001 - a delivery problem never fails the night
            error = redact(f"{type(exc).__name__}: {exc}", secrets)
        log.warning("alert %s: %s delivery failed (attempt %d of %d): %s", alert.alert_id,
                    channel.name, attempt, settings.max_attempts, error)
        if attempt < settings.max_attempts:
            sleep(settings.retry_backoff_seconds * 2 ** (attempt - 1))
    return False, error, settings.max_attempts
