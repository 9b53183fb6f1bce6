"""``audit.alerts`` is the outbox: every alert is recorded there first, then delivered.

Each row keeps a status per channel (``webhook_status``, ``email_status``: sent, pending, or
off when the channel was not configured) and an overall ``status``:

    recorded    no channel configured: the table is the alert
    pending     at least one channel still to deliver (retried at the next alert stage)
    sent        every configured channel delivered it
    suppressed  the same open problem as at the previous alert stage: not sent again

Small state tables beside it (created here, in the build database only):
``audit.alert_runs`` (one row per alert stage), ``audit.match_rates`` (the auto-match rate
per night and currency, for the trailing average) and ``audit.credit_warning_levels``
(the warning level last reported per customer, so the digest reports only new warnings).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import duckdb

from pipelines.alerts.model import FACT, PROBLEM, Alert, to_json
from pipelines.settings import AlertSettings

SENT, PENDING, OFF, RECORDED, SUPPRESSED = "sent", "pending", "off", "recorded", "suppressed"
CHANNELS = ("webhook", "email")

STATE_DDL = """
CREATE TABLE IF NOT EXISTS audit.alert_runs (
    run_id VARCHAR PRIMARY KEY,
    as_of_date DATE,
    evaluated_at TIMESTAMP NOT NULL,
    published BOOLEAN,
    alerts_new INTEGER,
    alerts_suppressed INTEGER
);
CREATE TABLE IF NOT EXISTS audit.match_rates (
    as_of_date DATE NOT NULL,
    currency VARCHAR NOT NULL,
    run_id VARCHAR,
    evaluated_at TIMESTAMP,
    ar_receipts_amount DECIMAL(18,2),
    matcher_applied_amount DECIMAL(18,2),
    auto_match_rate DECIMAL(9,4),
    PRIMARY KEY (as_of_date, currency)
);
CREATE TABLE IF NOT EXISTS audit.credit_warning_levels (
    customer_id VARCHAR PRIMARY KEY,
    warning_level VARCHAR NOT NULL,
    as_of_date DATE,
    run_id VARCHAR
);
"""


def ensure_alert_tables(con: duckdb.DuckDBPyConnection) -> None:
    from pipelines.warehouse import ensure_schema

    ensure_schema(con)
    con.execute(STATE_DDL)


@dataclass
class Recorded:
    alert: Alert
    alert_id: str
    status: str


def previous_stage_run(con: duckdb.DuckDBPyConnection, run_id: str) -> str | None:
    rows = con.execute("SELECT run_id FROM audit.alert_runs WHERE run_id <> ? "
                       "ORDER BY evaluated_at DESC LIMIT 1", [run_id]).fetchall()
    return rows[0][0] if rows else None


def record(con: duckdb.DuckDBPyConnection, alerts: list[Alert], run_id: str, as_of: date | None,
           settings: AlertSettings) -> list[Recorded]:
    """Insert the night's alerts (deduplicated by fingerprint and policy) as the outbox."""
    previous = previous_stage_run(con, run_id)
    open_before: set[str] = set()
    if previous is not None:
        open_before = {r[0] for r in con.execute(
            "SELECT fingerprint FROM audit.alerts WHERE run_id = ?", [previous]).fetchall()}
    webhook = PENDING if settings.webhook_enabled else OFF
    email = PENDING if settings.email_enabled else OFF
    now = datetime.now()
    out: list[Recorded] = []
    seen: set[str] = set()
    for alert in alerts:
        fingerprint = alert.fingerprint
        alert_id = alert.alert_id(run_id)
        if fingerprint in seen or con.execute(
                "SELECT 1 FROM audit.alerts WHERE alert_id = ?", [alert_id]).fetchall():
            continue  # already recorded for this run
        seen.add(fingerprint)
        if alert.policy == FACT and con.execute(
                "SELECT 1 FROM audit.alerts WHERE fingerprint = ? LIMIT 1", [fingerprint]).fetchall():
            continue  # a fact about a file is told once
        suppressed = (alert.policy == PROBLEM and not settings.resend_unchanged
                      and fingerprint in open_before)
        if suppressed:
            status, w, e = SUPPRESSED, OFF, OFF
        else:
            w, e = webhook, email
            status = PENDING if PENDING in (w, e) else RECORDED
        con.execute("""
            INSERT INTO audit.alerts (alert_id, run_id, created_at, kind, severity, subject, body,
                status, as_of_date, fingerprint, facts, webhook_status, email_status, attempts)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0)
        """, [alert_id, run_id, now, alert.kind, alert.severity, alert.subject, alert.body, status,
              as_of, fingerprint, to_json(alert.facts), w, e])
        out.append(Recorded(alert, alert_id, status))
    return out


def finish_stage(con: duckdb.DuckDBPyConnection, run_id: str, as_of: date | None, published: bool,
                 recorded: list[Recorded]) -> None:
    new = sum(1 for r in recorded if r.status != SUPPRESSED)
    suppressed = sum(1 for r in recorded if r.status == SUPPRESSED)
    con.execute("""
        INSERT INTO audit.alert_runs VALUES (?, ?, ?, ?, ?, ?)
        ON CONFLICT (run_id) DO UPDATE SET evaluated_at = excluded.evaluated_at,
            published = excluded.published, alerts_new = alert_runs.alerts_new + excluded.alerts_new,
            alerts_suppressed = alert_runs.alerts_suppressed + excluded.alerts_suppressed
    """, [run_id, as_of, datetime.now(), published, new, suppressed])


@dataclass
class OutboxAlert:
    """A recorded alert as the channels see it."""

    alert_id: str
    run_id: str | None
    created_at: datetime
    as_of_date: date | None
    kind: str
    severity: str
    subject: str
    body: str
    facts: str
    webhook_status: str
    email_status: str
    attempts: int

    def channel_status(self, channel: str) -> str:
        return getattr(self, f"{channel}_status") or OFF


def pending(con: duckdb.DuckDBPyConnection) -> list[OutboxAlert]:
    """Alerts still to deliver: errors first, then oldest first."""
    rows = con.execute("""
        SELECT alert_id, run_id, created_at, as_of_date, kind, severity, subject, coalesce(body, ''),
               coalesce(facts, '{}'), coalesce(webhook_status, 'off'), coalesce(email_status, 'off'),
               coalesce(attempts, 0)
        FROM audit.alerts WHERE status = 'pending'
        ORDER BY CASE severity WHEN 'error' THEN 0 WHEN 'warning' THEN 1 ELSE 2 END,
                 created_at, subject, alert_id
    """).fetchall()
    return [OutboxAlert(*r) for r in rows]


def mark(con: duckdb.DuckDBPyConnection, alert: OutboxAlert, results: dict[str, tuple[bool, str, int]]) -> str:
    """Store the delivery results {channel: (delivered, error, attempts)}; returns the status."""
    statuses = {c: alert.channel_status(c) for c in CHANNELS}
    errors = []
    tries = 0
    for channel, (ok, error, attempts) in results.items():
        statuses[channel] = SENT if ok else PENDING
        tries += attempts
        if not ok:
            errors.append(f"{channel}: {error}")
    status = PENDING if PENDING in statuses.values() else SENT
    now = datetime.now()
    con.execute("""
        UPDATE audit.alerts SET status = ?, webhook_status = ?, email_status = ?,
            attempts = coalesce(attempts, 0) + ?, last_attempt_at = ?, last_error = ?,
            sent_at = CASE WHEN ? = 'sent' THEN ? ELSE sent_at END
        WHERE alert_id = ?
    """, [status, statuses["webhook"], statuses["email"], tries, now,
          "; ".join(errors) or None, status, now, alert.alert_id])
    return status


def summary_line(con: duckdb.DuckDBPyConnection, run_id: str) -> str:
    """The Alerts line of the nightly summary."""
    exists = con.execute("SELECT count(*) FROM information_schema.tables WHERE table_schema = 'audit' "
                         "AND table_name = 'alerts' AND table_catalog = current_database()").fetchall()
    if not exists or not exists[0][0]:
        return "Alerts: none"
    counts = dict(con.execute("SELECT status, count(*) FROM audit.alerts WHERE run_id = ? GROUP BY ALL",
                              [run_id]).fetchall())
    older_pending = con.execute("SELECT count(*) FROM audit.alerts WHERE status = 'pending' AND "
                                "run_id IS DISTINCT FROM ?", [run_id]).fetchall()[0][0]
    new = sum(n for s, n in counts.items() if s != SUPPRESSED)
    if not new and not counts.get(SUPPRESSED) and not older_pending:
        return "Alerts: none"
    parts = []
    if new:
        detail = [f"{counts[s]} {s}" for s in (SENT, PENDING, RECORDED) if counts.get(s)]
        kinds = [r[0] for r in con.execute(
            "SELECT kind FROM audit.alerts WHERE run_id = ? AND status <> 'suppressed' "
            "GROUP BY kind ORDER BY min(created_at), kind", [run_id]).fetchall()]
        parts.append(f"{new} new ({', '.join(detail)}): {', '.join(kinds)}")
    if counts.get(SUPPRESSED):
        parts.append(f"{counts[SUPPRESSED]} unchanged since last night, not sent again")
    if older_pending:
        parts.append(f"{older_pending} earlier alert(s) still pending delivery")
    line = "Alerts: " + "; ".join(parts)
    if counts.get(PENDING) or older_pending:
        line += " (kept in audit.alerts, retried at the next night's alert stage)"
    return line

