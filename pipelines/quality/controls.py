"""Money and row controls as blocking asset checks (CONTRACT §2, architecture principle 5).

"Every night accounts for every row": for each file taken in since the last published night,

    rows in = rows loaded + rows rejected + rows duplicate   (audit.files, as ingest counted)
    rows of the file in raw.<table>   = rows loaded            (what is actually stored)
    rows of the file in audit.rejects = rows rejected          (nothing dropped silently)

One SQL statement per raw table, on the night's files only (a handful of rows in
audit.files, and a range scan of ``_file_seq`` in the raw table). The other money control,
"AR receipts = applied + unapplied (+ excluded)", is a dbt test on fct_bank_receipts.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import duckdb
from dagster import (
    AssetCheckExecutionContext,
    AssetCheckKey,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetKey,
    PartitionsDefinition,
    multi_asset_check,
)

from pipelines.ingest.erp import ENTITIES
from pipelines.progress import stage
from pipelines.quality.checks import night_file_seqs
from pipelines.resources import WarehouseResource
from pipelines.warehouse import connect

CHECK_NAME = "rows_accounted_for"
MAX_LISTED = 5

# audit.files.kind → the raw table its rows go to.
TABLE_OF_KIND: dict[str, str] = {e.kind: e.table for e in ENTITIES}
TABLE_OF_KIND["bank"] = "bank_transactions"


@dataclass(frozen=True)
class FileCount:
    relative_path: str
    rows_in: int
    rows_loaded: int
    rows_rejected: int
    rows_duplicate: int
    rows_stored: int
    rejects_stored: int

    def problems(self, table: str) -> list[str]:
        out = []
        accounted = self.rows_loaded + self.rows_rejected + self.rows_duplicate
        if self.rows_in != accounted:
            out.append(f"rows in {self.rows_in:,} ≠ loaded {self.rows_loaded:,} + rejected "
                       f"{self.rows_rejected:,} + duplicates {self.rows_duplicate:,} ({accounted:,})")
        if self.rows_stored != self.rows_loaded:
            out.append(f"raw.{table} holds {self.rows_stored:,} of its rows, "
                       f"ingest loaded {self.rows_loaded:,}")
        if self.rejects_stored != self.rows_rejected:
            out.append(f"audit.rejects holds {self.rejects_stored:,} of its rows, "
                       f"ingest rejected {self.rows_rejected:,}")
        return [f"{self.relative_path}: {p}" for p in out]


def file_counts(con: duckdb.DuckDBPyConnection, table: str, file_seqs: Sequence[int]) -> list[FileCount]:
    """The night's files of one raw table with what ingest counted and what is stored."""
    kinds = [k for k, t in TABLE_OF_KIND.items() if t == table]
    if not file_seqs or not kinds:
        return []
    seqs = ", ".join(str(int(s)) for s in file_seqs)
    lo, hi = min(file_seqs), max(file_seqs)
    kind_list = ", ".join("'" + k.replace("'", "''") + "'" for k in kinds)
    rows = con.execute(f"""
        WITH night AS (
            SELECT * FROM audit.files WHERE file_seq IN ({seqs}) AND kind IN ({kind_list})
        ),
        stored AS (
            SELECT _file_seq AS file_seq, count(*) AS n FROM raw."{table}"
            WHERE _file_seq BETWEEN {lo} AND {hi} AND _file_seq IN ({seqs})
            GROUP BY ALL
        ),
        rejects AS (
            SELECT file_hash, count(*) AS n FROM audit.rejects
            WHERE file_hash IN (SELECT file_hash FROM night) GROUP BY ALL
        )
        SELECT night.relative_path, night.rows_in, night.rows_loaded, night.rows_rejected,
               night.rows_duplicate, coalesce(stored.n, 0), coalesce(rejects.n, 0)
        FROM night
        LEFT JOIN stored USING (file_seq)
        LEFT JOIN rejects USING (file_hash)
        ORDER BY night.file_seq
    """).fetchall()
    return [FileCount(*r) for r in rows]


def control_result(table: str, counts: list[FileCount]) -> AssetCheckResult:
    problems = [p for c in counts for p in c.problems(table)]
    description = None
    if problems:
        description = "; ".join(problems[:MAX_LISTED])
        if len(problems) > MAX_LISTED:
            description += f"; and {len(problems) - MAX_LISTED} more"
    return AssetCheckResult(
        asset_key=AssetKey(["raw", table]), check_name=CHECK_NAME, passed=not problems,
        severity=AssetCheckSeverity.ERROR, description=description,
        metadata={
            "files": len(counts),
            "rows_in": sum(c.rows_in for c in counts),
            "rows_loaded": sum(c.rows_loaded for c in counts),
            "rows_rejected": sum(c.rows_rejected for c in counts),
            "rows_duplicate": sum(c.rows_duplicate for c in counts),
            "rows_stored": sum(c.rows_stored for c in counts),
            "problems": problems,
        },
    )


def build_row_controls(partitions: PartitionsDefinition | None):
    tables = sorted(set(TABLE_OF_KIND.values()))
    specs = [AssetCheckSpec(
        name=CHECK_NAME, asset=["raw", t], blocking=True, partitions_def=partitions,
        description="Every row of the night's files is accounted for: rows in = loaded + "
                    "rejected + duplicates, and the loaded and rejected rows are really stored.",
    ) for t in tables]

    @multi_asset_check(specs=specs, name="row_controls", can_subset=True, pool="warehouse",
                       description="Rows in = loaded + rejected (+ duplicates), per file.")
    def row_controls(context: AssetCheckExecutionContext, warehouse: WarehouseResource):
        selected = {k.asset_key.path[-1] for k in context.selected_asset_check_keys
                    if k.name == CHECK_NAME}
        results = []
        with stage("check rows") as info, connect(warehouse.settings(), read_only=True) as con:
            seqs = night_file_seqs(con)
            for table in tables:
                if table in selected:
                    results.append(control_result(table, file_counts(con, table, seqs)))
            failed = [r.asset_key.path[-1] for r in results if not r.passed]
            info["note"] = f"{len(seqs)} files, " + (f"FAILED: {', '.join(failed)}" if failed else "accounted for")
        yield from results

    return row_controls


def row_control_keys() -> list[AssetCheckKey]:
    return [AssetCheckKey(AssetKey(["raw", t]), CHECK_NAME) for t in sorted(set(TABLE_OF_KIND.values()))]
