"""Blocking asset checks: Great Expectations suites on the night's raw rows."""


from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetCheckSeverity,
    PartitionsDefinition,
    asset_check,
)

from pipelines.ingest.erp import ENTITIES, Entity
from pipelines.progress import stage
from pipelines.quality.gx import validate_frame
from pipelines.resources import WarehouseResource
from pipelines.settings import EXPECTATIONS_DIR
from pipelines.warehouse import connect

_ENTITY_BY_TABLE = {e.table: e for e in ENTITIES}


def nights_rows_sql(entity: Entity) -> str:
    """The latest version of each key, where that version came since the last published night."""
    keys = ", ".join(entity.key)
    return f"""
        SELECT * EXCLUDE (_file_hash, _file_seq, _run_id, _loaded_at) FROM (
            SELECT * FROM raw.{entity.table}
            QUALIFY row_number() OVER (PARTITION BY {keys}
                ORDER BY updated_at DESC NULLS LAST, _file_seq DESC, _line_number DESC) = 1
        )
        WHERE _run_id NOT IN (SELECT run_id FROM audit.runs WHERE status = 'published')
    """


def build_gx_check(table: str, partitions: PartitionsDefinition, blocking: bool = True):
    entity = _ENTITY_BY_TABLE[table]
    suite_path = EXPECTATIONS_DIR / f"raw_{table}.json"

    @asset_check(asset=["raw", table], name=f"gx_raw_{table}", blocking=blocking,
                 partitions_def=partitions, pool="warehouse",
                 description=f"Great Expectations suite {suite_path.name} on the night's rows.")
    def gx_check(context: AssetCheckExecutionContext, warehouse: WarehouseResource) -> AssetCheckResult:
        settings = warehouse.settings()
        with connect(settings, read_only=True) as con:
            frame = con.execute(nights_rows_sql(entity)).df()
        with stage(f"check {suite_path.stem}") as info:
            result = validate_frame(suite_path, frame)
            info["note"] = f"{len(frame):,} rows, {'passed' if result.passed else 'FAILED'}"
        return AssetCheckResult(
            passed=result.passed,
            severity=AssetCheckSeverity.ERROR,
            description=None if result.passed else "; ".join(
                f"{f['expectation']} {f['kwargs']}: {f['unexpected_count']} rows, e.g. {f['sample_values']}"
                for f in result.failures),
            metadata={"rows_checked": result.rows_checked, "expectations": result.evaluated,
                      "failures": result.failures},
        )

    return gx_check


def gx_checks(partitions: PartitionsDefinition):
    return [build_gx_check(path.stem.removeprefix("raw_"), partitions)
            for path in sorted(EXPECTATIONS_DIR.glob("raw_*.json"))]
