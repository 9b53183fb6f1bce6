"""Ingest assets: the inbox's new files into ``raw.*`` (one asset key per raw table)."""


from datetime import date, datetime

import duckdb
from dagster import (
    AssetExecutionContext,
    AssetSpec,
    MaterializeResult,
    PartitionsDefinition,
    multi_asset,
)

from pipelines.automation import nightly_asset_kwargs
from pipelines.ingest.bank_files import ingest_bank
from pipelines.ingest.erp import ENTITIES, LoadStats, ingest_entities
from pipelines.progress import stage
from pipelines.resources import WarehouseResource
from pipelines.warehouse import connect, ensure_schema

ERP_ENTITIES = tuple(e for e in ENTITIES if e.folder == "erp")
MANUAL_ENTITIES = tuple(e for e in ENTITIES if e.folder == "manual")


def start_run(con: duckdb.DuckDBPyConnection, run_id: str, as_of: date) -> None:
    con.execute(
        "INSERT INTO audit.runs VALUES (?, ?, ?, NULL, 'running', NULL) ON CONFLICT DO NOTHING",
        [run_id, as_of, datetime.now()],
    )


def _metadata(stats: LoadStats) -> dict:
    return {
        "files_loaded": stats.files_loaded,
        "files_quarantined": stats.files_quarantined,
        "files_already_taken_in": stats.files_skipped,
        "rows_in": stats.rows_in,
        "rows_loaded": stats.rows_loaded,
        "rows_rejected": stats.rows_rejected,
    }


def _ingest(context: AssetExecutionContext, warehouse: WarehouseResource, entities) -> dict:
    settings = warehouse.settings()
    as_of = date.fromisoformat(context.partition_key)
    with stage(f"ingest {entities[0].folder}") as info, connect(settings) as con:
        ensure_schema(con)
        start_run(con, context.run.run_id, as_of)
        stats = ingest_entities(con, settings, context.run.run_id, entities)
        files = sum(s.files_loaded for s in stats.values())
        rows = sum(s.rows_loaded for s in stats.values())
        info["note"] = f"{files} new file(s), {rows:,} rows"
        return stats


def build_ingest_assets(partitions: PartitionsDefinition) -> list:
    """The ingest assets for the given nightly partitions."""

    @multi_asset(
        specs=[AssetSpec(["raw", e.table], description=f"ERP {e.name}, append-only, as delivered.",
                         group_name="ingest", kinds={"duckdb"}) for e in ERP_ENTITIES],
        **nightly_asset_kwargs(partitions),
        can_subset=False,
    )
    def ingest_erp(context: AssetExecutionContext, warehouse: WarehouseResource):
        """Every new ERP file (by content hash) validated row by row into raw.erp_*."""
        warehouse.fault_point("ingest_erp")
        stats = _ingest(context, warehouse, ERP_ENTITIES)
        for entity in ERP_ENTITIES:
            yield MaterializeResult(asset_key=["raw", entity.table], metadata=_metadata(stats[entity.name]))


    @multi_asset(
        specs=[AssetSpec(["raw", e.table], description="Decisions made by a person.",
                         group_name="ingest", kinds={"duckdb"}) for e in MANUAL_ENTITIES],
        **nightly_asset_kwargs(partitions),
    )
    def ingest_manual(context: AssetExecutionContext, warehouse: WarehouseResource):
        """Every new manual decisions file into raw.manual_decisions."""
        stats = _ingest(context, warehouse, MANUAL_ENTITIES)
        for entity in MANUAL_ENTITIES:
            yield MaterializeResult(asset_key=["raw", entity.table], metadata=_metadata(stats[entity.name]))


    @multi_asset(
        specs=[
            AssetSpec(["raw", "bank_transactions"], group_name="ingest", kinds={"duckdb"},
                      description="One row per bank transaction (contract §1), each transaction_id once."),
            AssetSpec(["raw", "bank_statements"], group_name="ingest", kinds={"duckdb"},
                      description="One row per statement with its balance check."),
        ],
        **nightly_asset_kwargs(partitions),
        can_subset=False,
    )
    def ingest_bank_statements(context: AssetExecutionContext, warehouse: WarehouseResource):
        """Every new bank statement file, any format, into raw.bank_transactions / bank_statements."""
        warehouse.fault_point("ingest_bank")
        settings = warehouse.settings()
        as_of = date.fromisoformat(context.partition_key)
        with stage("ingest bank") as info, connect(settings) as con:
            ensure_schema(con)
            start_run(con, context.run.run_id, as_of)
            stats = ingest_bank(con, settings, context.run.run_id)
            info["note"] = f"{stats.files_loaded} new file(s), {stats.rows_loaded:,} transactions"
            balances = dict(con.execute(
                "SELECT balance_status, count(*) FROM raw.bank_statements GROUP BY ALL").fetchall())
        yield MaterializeResult(asset_key=["raw", "bank_transactions"], metadata=_metadata(stats))
        yield MaterializeResult(asset_key=["raw", "bank_statements"],
                                metadata={f"statements_{k}": v for k, v in balances.items()})

    return [ingest_erp, ingest_bank_statements, ingest_manual]
