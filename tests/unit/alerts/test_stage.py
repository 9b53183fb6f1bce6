"""The alert stage: record in audit.alerts, deliver, keep what could not be delivered pending.

Each test runs the stage more than once, as consecutive nights would, against real receivers.
"""

from dataclasses import replace
from datetime import date

from pipelines.alerts.model import ERROR, FACT, PROBLEM, WARNING, Alert
from pipelines.alerts.outcome import RunFailure
from pipelines.alerts.stage import run_alert_stage
from pipelines.settings import AlertSettings

from .conftest import rows
from .servers import WebhookServer, free_port

D1, D2, D3 = date(2026, 11, 1), date(2026, 11, 2), date(2026, 11, 3)
FAILURE = RunFailure(checks=[{"check": "gx_raw_erp_invoices", "asset": "raw/erp_invoices",
                              "description": "expect_column_pair_values_a_to_be_greater_than_b "
                                             "(column_A=due_date, column_B=issue_date): 1 of 1 rows"}])


def with_alerts(settings, **changes):
    return replace(settings, alerts=replace(settings.alerts, **changes))


def test_webhook_down_then_up_the_alert_arrives_once_at_the_next_stage(settings):
    port = free_port()  # nothing listens there yet: connection refused
    s = with_alerts(settings, webhook_url=f"http://127.0.0.1:{port}/hook/SECRET-TOKEN-123")

    report = run_alert_stage(s, "run-1", D1, published=False, failure=FAILURE)
    assert (report.recorded, report.delivered, report.pending) == (1, 0, 1)
    [(kind, status, webhook, attempts, error, subject)] = rows(
        s, "SELECT kind, status, webhook_status, attempts, last_error, subject FROM audit.alerts")
    assert (kind, status, webhook, attempts) == ("check_failed", "pending", "pending", 2)
    assert error.startswith("webhook: cannot reach the webhook:") and "SECRET-TOKEN" not in error
    assert subject == ("Night of 2026-11-01 NOT published: check gx_raw_erp_invoices on "
                       "raw/erp_invoices failed")

    server = WebhookServer(port=port)  # the webhook is back
    try:
        report = run_alert_stage(s, "run-2", D2, published=True)
        assert (report.delivered, report.pending) == (1, 0)
        run_alert_stage(s, "run-3", D3, published=True)  # nothing left to send
        [got] = server.requests
        assert got.body["subject"] == subject
        assert got.body["as_of_date"] == "2026-11-01" and got.body["run_id"] == "run-1"
        assert "expect_column_pair_values_a_to_be_greater_than_b" in got.body["text"]
    finally:
        server.close()
    [(status, webhook, attempts, sent_at)] = rows(
        s, "SELECT status, webhook_status, attempts, sent_at FROM audit.alerts")
    assert (status, webhook, attempts) == ("sent", "sent", 3) and sent_at is not None


def test_webhook_500_leaves_it_pending_and_the_next_stage_delivers_it_once(settings, webhook):
    s = with_alerts(settings, webhook_url=webhook.url(), max_attempts=3)
    webhook.statuses.extend([500, 500, 500])
    run_alert_stage(s, "run-1", D1, published=False, failure=FAILURE)
    assert webhook.requests == []
    assert rows(s, "SELECT status, attempts FROM audit.alerts") == [("pending", 3)]

    run_alert_stage(s, "run-2", D2, published=True)
    run_alert_stage(s, "run-3", D3, published=True)
    assert [r.body["run_id"] for r in webhook.requests] == ["run-1"]
    assert rows(s, "SELECT status FROM audit.alerts") == [("sent",)]


def test_a_channel_that_stays_down_is_not_waited_on_for_every_alert(settings):
    s = with_alerts(settings, webhook_url=f"http://127.0.0.1:{free_port()}/hook", max_attempts=3)
    alerts = [Alert("open_exceptions", WARNING, f"problem {i}", "body", {"i": i}) for i in range(4)]
    run_alert_stage(s, "run-1", D1, published=True, evaluate_night=False, extra=alerts)
    attempts = [a for (a,) in rows(s, "SELECT attempts FROM audit.alerts ORDER BY subject")]
    assert attempts == [3, 0, 0, 0]  # tried once with its retries, the others wait for the next stage
    assert rows(s, "SELECT count(*) FROM audit.alerts WHERE status = 'pending'") == [(4,)]


def test_each_channel_delivers_exactly_once_when_only_one_failed(settings, webhook, smtp):
    s = with_alerts(settings, webhook_url=webhook.url(), smtp_host="127.0.0.1", smtp_port=smtp.port,
                    smtp_tls="none", email_to=("ar@example.com",))
    smtp.close()  # the mail server is down tonight
    run_alert_stage(s, "run-1", D1, published=False, failure=FAILURE)
    assert rows(s, "SELECT status, webhook_status, email_status FROM audit.alerts") == [
        ("pending", "sent", "pending")]
    from .servers import SmtpServer

    mail = SmtpServer()
    try:
        s = with_alerts(s, smtp_port=mail.port)
        run_alert_stage(s, "run-2", D2, published=True)
        assert len(webhook.requests) == 1 and len(mail.messages) == 1
        assert mail.messages[0].subject.startswith("[AR Warehouse] ERROR: Night of 2026-11-01 NOT published")
    finally:
        mail.close()
    assert rows(s, "SELECT status, webhook_status, email_status FROM audit.alerts") == [
        ("sent", "sent", "sent")]


def test_without_channels_the_table_is_the_alert(settings):
    run_alert_stage(settings, "run-1", D1, published=False, failure=FAILURE)
    assert rows(settings, "SELECT kind, severity, status, webhook_status, email_status FROM audit.alerts") == [
        ("check_failed", ERROR, "recorded", "off", "off")]


def test_an_unchanged_open_problem_is_not_sent_again_until_it_changes(settings, webhook):
    s = with_alerts(settings, webhook_url=webhook.url())

    def night(run, day, count):
        alert = Alert("open_exceptions", WARNING, f"{count} open reconciliation exceptions",
                      "…", {"count": count}, policy=PROBLEM)
        run_alert_stage(s, run, day, published=True, evaluate_night=False,
                        extra=[alert] if count else [])

    night("run-1", D1, 60)
    night("run-2", D2, 60)  # unchanged: recorded as suppressed, not sent
    night("run-3", D3, 61)  # changed: sent
    night("run-4", date(2026, 11, 4), 0)  # resolved
    night("run-5", date(2026, 11, 5), 61)  # back again: sent again
    assert [r.body["facts"]["count"] for r in webhook.requests] == [60, 61, 61]
    assert rows(s, "SELECT run_id, status FROM audit.alerts ORDER BY run_id") == [
        ("run-1", "sent"), ("run-2", "suppressed"), ("run-3", "sent"), ("run-5", "sent")]


def test_resend_unchanged_sends_the_open_problem_every_night(settings, webhook):
    s = with_alerts(settings, webhook_url=webhook.url(), resend_unchanged=True)
    alert = Alert("open_exceptions", WARNING, "60 open reconciliation exceptions", "…", {"count": 60})
    for run, day in (("run-1", D1), ("run-2", D2)):
        run_alert_stage(s, run, day, published=True, evaluate_night=False, extra=[alert])
    assert len(webhook.requests) == 2


def test_a_fact_about_a_file_is_told_once_and_events_every_time(settings, webhook):
    s = with_alerts(settings, webhook_url=webhook.url())
    fact = Alert("statement_balance", WARNING, "Bank statement does not add up: bank/a.xml", "…",
                 {"file_hash": "abc"}, policy=FACT)
    for run, day in (("run-1", D1), ("run-2", D2), ("run-3", D3)):
        run_alert_stage(s, run, day, published=False, failure=FAILURE, extra=[fact])
    kinds = [r.body["kind"] for r in webhook.requests]
    assert kinds.count("statement_balance") == 1
    assert kinds.count("check_failed") == 3  # each night not published is its own event


def test_the_same_run_evaluated_twice_records_its_alerts_once(settings):
    for _ in range(2):
        run_alert_stage(settings, "run-1", D1, published=False, failure=FAILURE)
    assert rows(settings, "SELECT count(*) FROM audit.alerts") == [(1,)]


def test_delivery_settings_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("ARW_ALERT_MAX_ATTEMPTS", "5")
    monkeypatch.setenv("ARW_ALERT_RETRY_BACKOFF_SECONDS", "0.01")
    monkeypatch.setenv("ARW_ALERT_RESEND_UNCHANGED", "true")
    monkeypatch.setenv("ARW_ALERT_EXCEPTIONS_THRESHOLD", "7")
    a = AlertSettings.from_env()
    assert (a.max_attempts, a.retry_backoff_seconds, a.resend_unchanged, a.exceptions_threshold) == (
        5, 0.01, True, 7)
