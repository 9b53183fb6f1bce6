"""Alerts for runs started by Dagster (the schedule, the UI): run-status sensors.

``arw nightly`` runs the alert stage itself at the end of the night (pipelines/nightly.py);
under ``dagster dev`` or the daemon, these sensors do the same when a run ends:

- ``alert_on_run_failure`` (``@run_failure_sensor``, every job): records and sends an alert
  with the failed checks and steps. For the nightly job it runs the whole alert stage for
  the run's night (reconciliation triggers too); for any other run, the failure alert only.
- ``alert_on_night_published``: a nightly run that succeeded published its night; the alert
  stage then evaluates the triggers and the business digest.

Both run in the daemon's process against the build database, after the run has finished,
so they never compete with a running night for the DuckDB writer.
"""

from datetime import date

from dagster import (
    DagsterEventType,
    DagsterRunStatus,
    DefaultSensorStatus,
    RunFailureSensorContext,
    RunStatusSensorContext,
    run_failure_sensor,
    run_status_sensor,
)

from pipelines.alerts.outcome import RunFailure, not_published_alert
from pipelines.alerts.stage import run_alert_stage
from pipelines.automation import nightly_job
from pipelines.resources import WarehouseResource

NIGHTLY_JOB = "nightly"
PUBLISHED_KEY = ["published", "ar_warehouse"]


def _as_of(tags: dict) -> date | None:
    key = tags.get("dagster/partition")
    try:
        return date.fromisoformat(key) if key else None
    except ValueError:
        return None


def _events(context: RunStatusSensorContext) -> list:
    return [e.dagster_event for e in context.instance.all_logs(context.dagster_run.run_id)
            if e.dagster_event is not None]


def _published(events: list) -> bool:
    return any(e.event_type == DagsterEventType.ASSET_MATERIALIZATION
               and e.asset_key is not None and e.asset_key.path == PUBLISHED_KEY for e in events)


@run_failure_sensor(name="alert_on_run_failure", default_status=DefaultSensorStatus.RUNNING,
                    description="A failed run: an alert in audit.alerts, to the webhook and by "
                                "e-mail, saying which check or step failed and why.")
def alert_on_run_failure(context: RunFailureSensorContext, warehouse: WarehouseResource):
    run = context.dagster_run
    settings = warehouse.settings()
    events = _events(context)
    failure = RunFailure.from_events(events, run_error=context.failure_event.message or "")
    as_of = _as_of(run.tags)
    if run.job_name == NIGHTLY_JOB and as_of is not None:
        run_alert_stage(settings, run.run_id, as_of, published=_published(events), failure=failure)
    else:
        alert = not_published_alert(None, run.run_id, failure, job=run.job_name)
        run_alert_stage(settings, run.run_id, as_of, published=False, evaluate_night=False,
                        extra=[alert], job=run.job_name)


@run_status_sensor(name="alert_on_night_published", run_status=DagsterRunStatus.SUCCESS,
                   monitored_jobs=[nightly_job], default_status=DefaultSensorStatus.RUNNING,
                   description="A published night: reconciliation alerts and the business digest.")
def alert_on_night_published(context: RunStatusSensorContext, warehouse: WarehouseResource):
    run = context.dagster_run
    as_of = _as_of(run.tags)
    if as_of is None or not _published(_events(context)):
        return  # a part of the job run from the UI: not a night
    run_alert_stage(warehouse.settings(), run.run_id, as_of, published=True)


def alert_sensors() -> list:
    return [alert_on_run_failure, alert_on_night_published]
