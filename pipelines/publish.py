"""Write-audit-publish: the marts go to analysts only after every blocking check passed.

The pipeline writes only its build database. Publishing copies the ``marts`` schema and the
audit tables into a new DuckDB file beside the published one, then replaces the published
file with an atomic rename. A reader that has the old file open keeps reading the old night
in full; a new reader sees the new night in full; nobody waits.
"""


import os
from datetime import date, datetime
from pathlib import Path

from dagster import (
    AssetExecutionContext,
    AssetKey,
    MaterializeResult,
    PartitionsDefinition,
    asset,
)

from pipelines.automation import nightly_asset_kwargs
from pipelines.progress import stage
from pipelines.resources import WarehouseResource
from pipelines.settings import Settings
from pipelines.warehouse import connect, scalar

PUBLISHED_AUDIT_TABLES = ("files", "rejects", "runs", "alerts")


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def publish(settings: Settings, run_id: str) -> dict:
    """Copy marts and audit tables to a new file and atomically replace the published one."""
    target = settings.published_db
    tmp = target.with_name(f".{target.name}.{run_id}.tmp")
    tmp.unlink(missing_ok=True)
    now = datetime.now()
    with connect(settings) as con:
        marts = [r[0] for r in con.execute(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_schema = 'marts' AND table_catalog = current_database() "
            "ORDER BY table_name").fetchall()]
        con.execute(f"ATTACH '{tmp}' AS pub")
        try:
            con.execute("CREATE SCHEMA pub.marts")
            con.execute("CREATE SCHEMA pub.audit")
            for table in marts:
                con.execute(f"CREATE TABLE pub.marts.{table} AS SELECT * FROM marts.{table}")
            for table in PUBLISHED_AUDIT_TABLES:
                con.execute(f"CREATE TABLE pub.audit.{table} AS SELECT * FROM audit.{table}")
            con.execute("UPDATE pub.audit.runs SET status = 'published', finished_at = ? "
                        "WHERE run_id = ?", [now, run_id])
            rows = {t: scalar(con, f"SELECT count(*) FROM pub.marts.{t}") for t in marts}
        finally:
            con.execute("DETACH pub")
    _fsync(tmp)
    os.replace(tmp, target)
    _fsync(target.parent)
    with connect(settings) as con:
        con.execute("UPDATE audit.runs SET status = 'published', finished_at = ? WHERE run_id = ?",
                    [now, run_id])
    return rows


def build_publish_asset(mart_keys: list[AssetKey], partitions: PartitionsDefinition):
    @asset(
        key=["published", "ar_warehouse"],
        deps=mart_keys,
        **nightly_asset_kwargs(partitions),
        group_name="publish",
        kinds={"duckdb"},
        description="The published warehouse file (ar.duckdb): the marts and the audit tables, "
        "replaced atomically once every blocking check of the night passed.",
    )
    def published_warehouse(context: AssetExecutionContext, warehouse: WarehouseResource):
        warehouse.fault_point("publish")
        settings = warehouse.settings()
        with stage("publish") as info:
            rows = publish(settings, context.run_id)
            info["note"] = f"{len(rows)} marts"
        context.log.info("published %s (%s)", settings.published_db, date.fromisoformat(context.partition_key))
        return MaterializeResult(metadata={"path": str(settings.published_db),
                                           **{f"rows_{k}": v for k, v in rows.items()}})

    return published_warehouse
