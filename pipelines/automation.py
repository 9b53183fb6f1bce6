"""Daily partitions, the nightly job and its schedule."""

from __future__ import annotations

from dagster import (
    AssetSelection,
    BackfillPolicy,
    DailyPartitionsDefinition,
    ScheduleDefinition,
    define_asset_job,
    in_process_executor,
)

from pipelines.settings import Settings


def nightly_partitions(settings: Settings) -> DailyPartitionsDefinition:
    """One partition per night; the partition key is the night's as-of date."""
    return DailyPartitionsDefinition(start_date=settings.partitions_start,
                                     timezone=settings.timezone)


nightly_job = define_asset_job(
    name="nightly",
    selection=AssetSelection.all(),
    # One process: DuckDB has one writer at a time, and a process per step costs ~2 s.
    executor_def=in_process_executor,
    description="The whole night: ingest, reconcile, dbt build, checks, publish.",
)


def nightly_asset_kwargs(partitions: DailyPartitionsDefinition) -> dict:
    """What every asset of the night shares: one partition per night, one night per run, and
    the single-writer pool of the build database."""
    return {"partitions_def": partitions, "backfill_policy": BackfillPolicy.multi_run(1),
            "pool": "warehouse"}


def nightly_schedule(settings: Settings) -> ScheduleDefinition:
    """Runs the nightly job for yesterday's partition at the configured time and time zone."""
    from dagster import build_schedule_from_partitioned_job

    hour, minute = settings.nightly_time.split(":")
    return build_schedule_from_partitioned_job(
        nightly_job, hour_of_day=int(hour), minute_of_hour=int(minute),
        name="nightly_schedule",
    )
