"""The alert stage: the end of every night (and of every monitored run, through the sensors).

1. Evaluate: the night's outcome (not published: which check or step, and why), the
   triggers (pipelines/alerts/triggers.py) and, when the night published, the business
   digest — all from the build database.
2. Record: into ``audit.alerts`` (the outbox), deduplicated by fingerprint, in one
   transaction with the state the triggers keep (match rates, credit warning levels).
3. Deliver: every pending alert (tonight's and any left from earlier nights) to each
   configured channel, with bounded retries. A channel that stays down is not tried again
   for the rest of the stage; what it did not deliver stays pending for the next stage.

Nothing here raises: a delivery failure, or even a broken trigger, never fails the night
and never changes its exit code. A trigger that errors becomes an alert itself.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date

from pipelines.alerts import outbox
from pipelines.alerts.channels import configured_channels, deliver, redact, secret_fragments
from pipelines.alerts.digest import business_digest
from pipelines.alerts.model import WARNING, Alert
from pipelines.alerts.outcome import RunFailure, not_published_alert
from pipelines.alerts.triggers import TRIGGERS, Night
from pipelines.progress import stage as progress_stage
from pipelines.settings import Settings
from pipelines.warehouse import connect

log = logging.getLogger("arw.alerts")


@dataclass
class StageReport:
    recorded: int = 0
    suppressed: int = 0
    delivered: int = 0
    pending: int = 0
    errors: list[str] = field(default_factory=list)


def evaluate(con, night: Night, failure: RunFailure | None, job: str = "nightly",
             published_path: str = "") -> list[Alert]:
    """Every alert the night calls for (a trigger that fails is reported as an alert)."""
    alerts: list[Alert] = []
    if not night.published:
        alerts.append(not_published_alert(night.as_of, night.run_id, failure or RunFailure(),
                                          job=job, published_path=published_path))
    secrets = secret_fragments(night.settings)
    for trigger in (*TRIGGERS, business_digest):
        try:
            alerts.extend(trigger(con, night))
        except Exception as exc:  # noqa: BLE001 - one broken trigger must not silence the others
            message = redact(f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}",
                             secrets)
            log.warning("alert trigger %s failed: %s", trigger.__name__, message)
            alerts.append(Alert(kind="alert_trigger_error", severity=WARNING,
                                subject=f"Alert check {trigger.__name__} could not run",
                                body=f"{message}\nThe other alert checks ran; this one did not, "
                                     "so a problem it looks for may go unnoticed tonight.",
                                facts={"trigger": trigger.__name__, "error": message}))
    return alerts


def deliver_pending(settings: Settings, sleep: Callable[[float], None] = time.sleep) -> tuple[int, int]:
    """Send every pending alert; returns (delivered, still pending)."""
    a = settings.alerts
    channels = configured_channels(a)
    with connect(settings) as con:
        outbox.ensure_alert_tables(con)
        todo = outbox.pending(con)
    delivered = 0
    down: set[str] = set()
    for alert in todo:
        results = {}
        for channel in channels:
            if alert.channel_status(channel.name) != outbox.PENDING or channel.name in down:
                continue
            ok, error, attempts = deliver(channel, alert, a, sleep=sleep)
            results[channel.name] = (ok, error, attempts)
            if not ok:
                down.add(channel.name)  # do not wait on it again for every other alert
        if not results:
            continue
        with connect(settings) as con:
            status = outbox.mark(con, alert, results)
        delivered += status == outbox.SENT
    with connect(settings, read_only=True) as con:
        still = con.execute("SELECT count(*) FROM audit.alerts WHERE status = 'pending'").fetchall()[0][0]
    return delivered, still


def run_alert_stage(settings: Settings, run_id: str, as_of: date | None, published: bool,
                    failure: RunFailure | None = None, *, evaluate_night: bool = True,
                    extra: Sequence[Alert] = (), job: str = "nightly",
                    sleep: Callable[[float], None] = time.sleep) -> StageReport:
    """Evaluate, record and deliver the alerts of a run. Never raises."""
    report = StageReport()
    with progress_stage("alerts") as info:
        try:
            with connect(settings) as con:
                outbox.ensure_alert_tables(con)
                alerts = list(extra)
                night = None
                if evaluate_night and as_of is not None:
                    # Triggers only read; the state they keep is written below, with the alerts.
                    night = Night(run_id, as_of, published, settings.alerts)
                    alerts += evaluate(con, night, failure, job=job,
                                       published_path=str(settings.published_db))
                con.execute("BEGIN TRANSACTION")
                try:
                    if night is not None:
                        night.apply_writes(con)
                    recorded = outbox.record(con, alerts, run_id, as_of, settings.alerts)
                    outbox.finish_stage(con, run_id, as_of, published, recorded)
                    con.execute("COMMIT")
                except Exception:
                    con.execute("ROLLBACK")
                    raise
            report.recorded = sum(1 for r in recorded if r.status != outbox.SUPPRESSED)
            report.suppressed = len(recorded) - report.recorded
        except Exception as exc:  # noqa: BLE001 - alerts never fail the night
            log.exception("alert stage: recording failed")
            report.errors.append(f"recording: {type(exc).__name__}: {exc}")
        try:
            report.delivered, report.pending = deliver_pending(settings, sleep=sleep)
        except Exception as exc:  # noqa: BLE001
            log.exception("alert stage: delivery failed")
            report.errors.append(f"delivery: {type(exc).__name__}")
        info["note"] = (f"{report.recorded} new, {report.suppressed} unchanged; "
                        f"{report.delivered} delivered, {report.pending} pending")
    return report
