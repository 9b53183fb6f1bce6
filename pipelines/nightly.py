"""`arw nightly`: the same Dagster assets as the UI, run in one process, with a summary."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime

from dagster import AssetKey, DagsterEventType, DagsterInstance

from pipelines.alerts.outcome import RunFailure
from pipelines.alerts.stage import run_alert_stage
from pipelines.errors import UsageError
from pipelines.quality import gx
from pipelines.settings import Settings
from pipelines.summary import render_summary
from pipelines.transform import dbt
from pipelines.warehouse import connect, ensure_schema

log = logging.getLogger("arw.nightly")

PUBLISHED_KEY = ("published", "ar_warehouse")


@dataclass
class NightOutcome:
    published: bool
    run_id: str
    reason: str
    summary: str
    seconds: float
    # For `make bench`: the Dagster run's wall time, its steps (ops) and their own durations,
    # and the asset materialisations it recorded.
    dagster_seconds: float = 0.0
    steps: int = 0
    step_seconds: float = 0.0
    assets: int = 0


def _check_inputs(settings: Settings, as_of: date) -> None:
    if not settings.inbox.is_dir():
        raise UsageError(f"inbox {settings.inbox}: expected a folder with erp/ and bank/, found nothing")
    if not (settings.inbox / "erp").is_dir() and not (settings.inbox / "bank").is_dir():
        raise UsageError(f"inbox {settings.inbox}: expected the folders erp/ and bank/, found neither")
    start = date.fromisoformat(settings.partitions_start)
    if as_of < start or as_of > settings.yesterday():
        raise UsageError(f"--as-of {as_of}: expected a date from {start} (ARW_PARTITIONS_START) "
                         f"to yesterday ({settings.yesterday()})")


MAX_REASONS = 5


def _failure_reason(result) -> str:
    reasons = []
    failed_checks = [e for e in result.get_asset_check_evaluations() if not e.passed]
    for evaluation in failed_checks[:MAX_REASONS]:
        desc = evaluation.description or "failed"
        reasons.append(f"check {evaluation.check_name} on {evaluation.asset_key.to_user_string()}: {desc}")
    if len(failed_checks) > MAX_REASONS:
        reasons.append(f"and {len(failed_checks) - MAX_REASONS} more failed checks")
    for event in result.all_events:
        if event.event_type == DagsterEventType.STEP_FAILURE:
            err = event.step_failure_data.error
            message = err.message.strip().splitlines()[0] if err else "failed"
            if err and err.cause:
                message += " — " + err.cause.message.strip().splitlines()[0]
            reasons.append(f"step {event.step_key}: {message}")
    return "; ".join(reasons) or "the publish step did not run"


def execute_night_job(settings: Settings, as_of: date, select: Callable[[AssetKey], bool] | None = None,
                      log_suffix: str = ""):
    """Run the nightly job for ``as_of`` in this process (all of it, or the assets ``select``
    accepts); dbt's and GX's own output goes to the night's log file, not the terminal.
    Returns Dagster's result and the run's wall time."""
    from pipelines.definitions import build_definitions

    defs = build_definitions(settings)
    job = defs.resolve_job_def("nightly")
    asset_selection = None if select is None else [
        k for k in defs.resolve_asset_graph().get_all_asset_keys() if select(k)]
    log_path = settings.warehouse_dir / "logs" / f"night-{as_of.isoformat()}{log_suffix}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with (log_path.open("a", encoding="utf-8") as log_file, contextlib.redirect_stdout(log_file),
          contextlib.redirect_stderr(log_file)):
        result = job.execute_in_process(
            partition_key=as_of.isoformat(),
            instance=DagsterInstance.ephemeral(),
            raise_on_error=False,
            asset_selection=asset_selection,
            run_config={"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}},
        )
    return result, time.monotonic() - started


def step_durations_ms(result) -> list[float]:
    """How long each step (op) of a Dagster run took, finished or failed."""
    return [e.event_specific_data.duration_ms for e in result.all_events
            if e.event_type in (DagsterEventType.STEP_SUCCESS, DagsterEventType.STEP_FAILURE)
            and getattr(e.event_specific_data, "duration_ms", None) is not None]


def run_nightly(settings: Settings, as_of: date) -> NightOutcome:
    _check_inputs(settings, as_of)
    started = time.monotonic()
    gx.prewarm()  # GX and dbt import in the background while the night ingests
    dbt.prewarm()
    log.info("night of %s: inbox %s, warehouse %s", as_of, settings.inbox, settings.warehouse_dir)
    result, dagster_seconds = execute_night_job(settings, as_of)
    published_keys = {tuple(e.asset_key.path) for e in result.get_asset_materialization_events()
                      if e.asset_key is not None}
    step_ms = step_durations_ms(result)
    published = PUBLISHED_KEY in published_keys
    reason = "" if published else _failure_reason(result)
    with connect(settings) as con:
        ensure_schema(con)
        con.execute(
            "INSERT INTO audit.runs VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (run_id) DO UPDATE SET "
            "finished_at = excluded.finished_at, status = excluded.status, reason = excluded.reason",
            [result.run_id, as_of, datetime.now(), datetime.now(),
             "published" if published else "not_published", reason or None])
    # Alerts: the night's outcome, reconciliation and statement problems, the digest; then
    # delivery. Never raises: a delivery failure does not change the night's exit code.
    run_alert_stage(settings, result.run_id, as_of, published,
                    None if published else RunFailure.from_events(result.all_events))
    seconds = time.monotonic() - started
    summary = render_summary(settings, result.run_id, as_of, published, reason, seconds)
    return NightOutcome(published, result.run_id, reason, summary, seconds,
                        dagster_seconds=dagster_seconds, steps=len(step_ms),
                        step_seconds=sum(step_ms) / 1000, assets=len(published_keys))

