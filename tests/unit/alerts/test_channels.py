"""The webhook and e-mail channels against real receivers on 127.0.0.1."""

import logging
from datetime import date, datetime

import pytest

from pipelines.alerts.channels import (
    DeliveryError,
    EmailChannel,
    WebhookChannel,
    deliver,
    redact,
    secret_fragments,
)
from pipelines.alerts.outbox import OutboxAlert
from pipelines.errors import UsageError
from pipelines.settings import AlertSettings

from .servers import SmtpServer, WebhookServer, free_port

TOKEN = "XXXXSECRETTOKENXXXX"
PASSWORD = "s3cr3t-Pa55word!"


def an_alert(**overrides) -> OutboxAlert:
    values = dict(
        alert_id="a1b2c3", run_id="run-1", created_at=datetime(2026, 11, 1, 2, 45),
        as_of_date=date(2026, 11, 1), kind="check_failed", severity="error",
        subject="Night of 2026-11-01 NOT published: check gx_raw_erp_invoices on raw/erp_invoices failed",
        body="Why:\n- check gx_raw_erp_invoices on raw/erp_invoices: expect_column_pair_values_a_to_be_greater_than_b",
        facts='{"as_of_date": "2026-11-01", "checks": [{"check": "gx_raw_erp_invoices"}]}',
        webhook_status="pending", email_status="pending", attempts=0)
    values.update(overrides)
    return OutboxAlert(**values)


@pytest.fixture
def webhook():
    server = WebhookServer()
    yield server
    server.close()


@pytest.fixture
def smtp():
    server = SmtpServer()
    yield server
    server.close()


def no_sleep(_seconds: float) -> None:
    pass


def test_webhook_posts_slack_compatible_json_with_structured_fields(webhook):
    settings = AlertSettings(webhook_url=webhook.url(), retry_backoff_seconds=0)
    channel = WebhookChannel(settings.webhook_url, timeout=5)
    assert deliver(channel, an_alert(), settings) == (True, "", 1)
    [got] = webhook.requests
    assert got.path == f"/hooks/T000/B000/{TOKEN}"
    assert got.headers["Content-Type"].startswith("application/json")
    body = got.body
    assert body["text"].startswith("*[AR Warehouse] ERROR: Night of 2026-11-01 NOT published: "
                                   "check gx_raw_erp_invoices on raw/erp_invoices failed*\n")
    assert "expect_column_pair_values_a_to_be_greater_than_b" in body["text"]
    assert body["kind"] == "check_failed" and body["severity"] == "error"
    assert body["as_of_date"] == "2026-11-01" and body["run_id"] == "run-1"
    assert body["alert_id"] == "a1b2c3"
    assert body["facts"] == {"as_of_date": "2026-11-01", "checks": [{"check": "gx_raw_erp_invoices"}]}


def test_webhook_500_is_retried_with_backoff_then_delivered_once(webhook):
    webhook.statuses.extend([500, 503])
    settings = AlertSettings(webhook_url=webhook.url(), max_attempts=3, retry_backoff_seconds=0.5)
    waits: list[float] = []
    ok, error, attempts = deliver(WebhookChannel(settings.webhook_url, 5), an_alert(), settings,
                                  sleep=waits.append)
    assert (ok, error, attempts) == (True, "", 3)
    assert waits == [0.5, 1.0]  # base × 2^n
    assert len(webhook.requests) == 1


def test_webhook_gives_up_after_the_bounded_attempts(webhook):
    webhook.statuses.extend([500] * 5)
    settings = AlertSettings(webhook_url=webhook.url(), max_attempts=2, retry_backoff_seconds=0)
    ok, error, attempts = deliver(WebhookChannel(settings.webhook_url, 5), an_alert(), settings,
                                  sleep=no_sleep)
    assert (ok, attempts) == (False, 2)
    assert error == "HTTP 500 Internal Server Error"
    assert webhook.requests == []


def test_webhook_connection_refused_is_a_delivery_error():
    url = f"http://127.0.0.1:{free_port()}/hook"
    with pytest.raises(DeliveryError, match="cannot reach the webhook"):
        WebhookChannel(url, timeout=2).send(an_alert())


def test_email_subject_body_and_recipients(smtp):
    settings = AlertSettings(smtp_host="127.0.0.1", smtp_port=smtp.port, smtp_tls="none",
                             email_from="arw@example.com",
                             email_to=("ar-team@example.com", "controller@example.com"))
    assert deliver(EmailChannel(settings), an_alert(), settings, sleep=no_sleep) == (True, "", 1)
    [mail] = smtp.messages
    assert mail.mail_from == "arw@example.com"
    assert mail.rcpt_tos == ["ar-team@example.com", "controller@example.com"]
    assert mail.subject == ("[AR Warehouse] ERROR: Night of 2026-11-01 NOT published: "
                            "check gx_raw_erp_invoices on raw/erp_invoices failed")
    assert mail.message["To"] == "ar-team@example.com, controller@example.com"
    text = mail.text
    assert text.startswith("Night of 2026-11-01 NOT published")
    assert "expect_column_pair_values_a_to_be_greater_than_b" in text
    assert "Alert a1b2c3 (check_failed, error)" in text
    assert "Night of 2026-11-01, run run-1" in text


def test_email_logs_in_when_a_user_is_configured():
    server = SmtpServer(user="arw", password=PASSWORD)
    try:
        settings = AlertSettings(smtp_host="127.0.0.1", smtp_port=server.port, smtp_tls="none",
                                 smtp_user="arw", smtp_password=PASSWORD, email_to=("a@example.com",))
        assert deliver(EmailChannel(settings), an_alert(), settings, sleep=no_sleep)[0]
        assert len(server.messages) == 1
    finally:
        server.close()


def test_secrets_never_reach_logs_errors_or_reprs(caplog, capsys, webhook):
    """A failing webhook (token in its URL) and a refused SMTP login (the password)."""
    caplog.set_level(logging.DEBUG)
    server = SmtpServer(user="arw", password="the-right-one")
    try:
        webhook.statuses.extend([500] * 3)
        settings = AlertSettings(webhook_url=webhook.url(), smtp_host="127.0.0.1",
                                 smtp_port=server.port, smtp_tls="none", smtp_user="arw",
                                 smtp_password=PASSWORD, email_to=("a@example.com",),
                                 max_attempts=2, retry_backoff_seconds=0)
        results = [deliver(WebhookChannel(settings.webhook_url, 5), an_alert(), settings, sleep=no_sleep),
                   deliver(EmailChannel(settings), an_alert(), settings, sleep=no_sleep)]
    finally:
        server.close()
    assert [ok for ok, _, _ in results] == [False, False]
    assert results[1][1].startswith("SMTP 535")  # authentication failed, said without the password
    out = capsys.readouterr()
    seen = caplog.text + out.out + out.err + repr(settings) + repr(WebhookChannel(settings.webhook_url, 1)) \
        + " ".join(e for _, e, _ in results)
    assert "delivery failed" in caplog.text
    assert TOKEN not in seen and PASSWORD not in seen and settings.webhook_url not in seen


def test_redact_covers_the_url_and_its_parts():
    settings = AlertSettings(webhook_url=f"https://hooks.example.com/services/{TOKEN}?k=abcdefgh12")
    secrets = secret_fragments(settings)
    text = f"failed for https://hooks.example.com/services/{TOKEN}?k=abcdefgh12 and /services/{TOKEN}"
    assert TOKEN not in redact(text, secrets)


def test_smtp_settings_from_the_environment(monkeypatch):
    monkeypatch.setenv("ARW_SMTP_HOST", "mail.example.com")
    monkeypatch.setenv("ARW_SMTP_TLS", "ssl")
    monkeypatch.setenv("ARW_ALERT_EMAIL_TO", "a@example.com, b@example.com")
    monkeypatch.setenv("ARW_SMTP_PASSWORD", PASSWORD)
    s = AlertSettings.from_env()
    assert (s.smtp_port, s.email_to, s.email_enabled) == (465, ("a@example.com", "b@example.com"), True)
    assert PASSWORD not in repr(s)
    monkeypatch.setenv("ARW_SMTP_TLS", "tls13")
    with pytest.raises(UsageError, match="ARW_SMTP_TLS: expected one of none, starttls, ssl"):
        AlertSettings.from_env()
