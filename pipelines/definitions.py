"""The whole pipeline, as one Dagster ``Definitions``: read it as the table of contents.

    ingest (raw.*)  →  dbt staging  →  reconcile (recon.allocation_ledger)
        →  dbt ledger staging, intermediate, marts  →  publish (ar.duckdb)

Checks: Great Expectations suites on the raw tables (after ingest) and on the key marts
(before publish), the row control on the raw tables, dbt tests (inside dbt build); all
blocking. Alerts: sensors on the nightly job's outcome (``arw nightly`` runs the same alert
stage itself at the end of the night).
`dagster dev -w workspace.yaml` loads ``defs``; `arw nightly` builds the same definitions
and runs the nightly job in process.
"""

from __future__ import annotations

import dagster as dg

from pipelines.alerts.sensors import alert_sensors
from pipelines.automation import nightly_job, nightly_partitions, nightly_schedule
from pipelines.ingest.assets import build_ingest_assets
from pipelines.publish import build_publish_asset
from pipelines.quality.checks import gx_checks
from pipelines.quality.controls import build_row_controls
from pipelines.reconcile.assets import build_reconcile_asset
from pipelines.resources import WarehouseResource
from pipelines.settings import Settings, disable_telemetry
from pipelines.transform.dbt import build_dbt_assets, ensure_manifest


def build_definitions(settings: Settings) -> dg.Definitions:
    disable_telemetry()
    partitions = nightly_partitions(settings)
    dbt_staging, dbt_marts = build_dbt_assets(ensure_manifest(), partitions)
    mart_keys = [key for key in dbt_marts.keys if key.path[0] == "marts"]
    return dg.Definitions(
        assets=[
            *build_ingest_assets(partitions),  # inbox → raw.*
            dbt_staging,  # raw.* → staging.*
            build_reconcile_asset(partitions),  # staging.* → recon.allocation_ledger
            dbt_marts,  # ledger → intermediate.*, marts.*
            build_publish_asset(mart_keys, partitions),  # marts → ar.duckdb
        ],
        asset_checks=[
            build_row_controls(partitions),  # raw: rows in = loaded + rejected (+ duplicates)
            *gx_checks(partitions, mart_keys),  # expectations/raw_*.json, marts_*.json
        ],
        jobs=[nightly_job],
        schedules=[nightly_schedule(settings)],
        sensors=alert_sensors(),  # failed runs and finished nights → audit.alerts, webhook, e-mail
        resources={
            "warehouse": WarehouseResource(inbox=str(settings.inbox),
                                           warehouse_dir=str(settings.warehouse_dir)),
        },
    )


@dg.definitions
def defs() -> dg.Definitions:
    return build_definitions(Settings.from_env())
