"""Great Expectations suites as Dagster asset checks: one suite file, one check.

``expectations/raw_<table>.json`` checks ``raw.<table>`` (asset ``raw/<table>``) on the night's
rows; ``expectations/marts_<table>.json`` checks ``marts.<table>`` (asset ``marts/<table>``)
as a whole, after dbt builds it and before publish. Checks are blocking unless the suite says
``"meta": {"blocking": false}``: a failing blocking check keeps yesterday's warehouse.

The night's rows of a raw table are the rows of the files taken in since the last published
night; for an ERP table (upserted by key) the latest version of each key, where that version
came since then, so a bad row keeps blocking until it is corrected. Bank tables and manual
decisions have no versions (each transaction id is stored once; every decision counts): all
their rows from those files. Only the columns a suite names are read, with the key and the
lineage (file, line), which sample rows show.

All GX checks of a layer run in one op (``multi_asset_check``): the night's process reads
the next table from DuckDB while the GX worker validates the previous one. Each check is
still its own asset check in Dagster, selectable alone.

Each suite is screened in SQL first (``screen.py``): when none of its expectations is
violated on the same rows, the check passes without reading a DataFrame or running GX
(metadata ``validated_by: sql``); otherwise GX validates and reports the suite as before.
"""

import time
from collections.abc import Iterable, Sequence
from concurrent.futures import BrokenExecutor
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd
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
from pipelines.quality import gx, screen
from pipelines.resources import WarehouseResource
from pipelines.settings import EXPECTATIONS_DIR
from pipelines.warehouse import connect

# Raw tables upserted by key: the latest version of each key is what the warehouse uses.
VERSIONED_KEYS: dict[str, tuple[str, ...]] = {e.table: e.key for e in ENTITIES if e.folder == "erp"}
_HAS_UPDATED_AT = {e.table for e in ENTITIES if any(c.name == "updated_at" for c in e.columns)}
LINEAGE = ("_source_file", "_line_number", "_location")


@dataclass(frozen=True)
class CheckedTable:
    """A suite and the table it checks."""

    schema: str  # raw | marts
    table: str
    suite: gx.Suite

    @property
    def asset_key(self) -> AssetKey:
        return AssetKey([self.schema, self.table])

    @property
    def check_name(self) -> str:
        return f"gx_{self.schema}_{self.table}"

    @property
    def check_key(self) -> AssetCheckKey:
        return AssetCheckKey(self.asset_key, self.check_name)


def suites(schema: str, directory: Path = EXPECTATIONS_DIR) -> list[CheckedTable]:
    """The suite files of a layer: ``<schema>_<table>.json``."""
    return [CheckedTable(schema, path.stem.removeprefix(f"{schema}_"), gx.read_suite(path))
            for path in sorted(directory.glob(f"{schema}_*.json"))]


# --------------------------------------------------------------------------- the rows
def night_file_seqs(con: duckdb.DuckDBPyConnection) -> list[int]:
    """The files taken in since the last published night (by the runs not yet published)."""
    return [r[0] for r in con.execute("""
        SELECT file_seq FROM audit.files
        WHERE status = 'loaded'
          AND run_id NOT IN (SELECT run_id FROM audit.runs WHERE status = 'published')
        ORDER BY file_seq
    """).fetchall()]


def _in_files(seqs: Sequence[int]) -> str:
    if not seqs:
        return "false"
    # The range lets DuckDB skip row groups by their min/max (rows are appended in file order).
    return (f"_file_seq BETWEEN {min(seqs)} AND {max(seqs)} "
            f"AND _file_seq IN ({', '.join(str(int(s)) for s in seqs)})")


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def table_columns(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> dict[str, str]:
    return dict(con.execute(
        "SELECT column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = ? AND table_name = ? AND table_catalog = current_database() "
        "ORDER BY ordinal_position", [schema, table]).fetchall())


def rows_sql(checked: CheckedTable, columns: Iterable[str], file_seqs: Sequence[int]) -> str:
    """The SQL for the rows a check validates (see the module docstring)."""
    cols = ", ".join(_quote(c) for c in columns)
    source = f"{checked.schema}.{_quote(checked.table)}"
    if checked.schema != "raw":
        return f"SELECT {cols} FROM {source}"
    in_files = _in_files(file_seqs)
    keys = VERSIONED_KEYS.get(checked.table)
    if not keys:
        return f"SELECT {cols} FROM {source} WHERE {in_files}"
    key_list = ", ".join(_quote(k) for k in keys)
    order = "_file_seq DESC, _line_number DESC"
    if checked.table in _HAS_UPDATED_AT:
        order = "updated_at DESC NULLS LAST, " + order
    # Only the keys the night touched that have more than one version are windowed (a
    # group-by finds them): a key delivered once is its own latest version, and ranking every
    # version of ten million keys is what a first night would otherwise spend its time on.
    return f"""
        WITH touched AS (SELECT DISTINCT {key_list} FROM {source} WHERE {in_files}),
        multi AS (SELECT {key_list} FROM {source} SEMI JOIN touched USING ({key_list})
                  GROUP BY ALL HAVING count(*) > 1)
        SELECT {cols} FROM (
            SELECT * FROM {source} ANTI JOIN multi USING ({key_list}) WHERE {in_files}
            UNION ALL
            SELECT * FROM (
                SELECT * FROM {source} SEMI JOIN multi USING ({key_list})
                QUALIFY row_number() OVER (PARTITION BY {key_list} ORDER BY {order}) = 1
            ) WHERE {in_files}
        ) AS latest
    """


def read_rows(con: duckdb.DuckDBPyConnection, checked: CheckedTable,
              file_seqs: Sequence[int]) -> pd.DataFrame:
    """The rows to validate: the suite's columns (that exist), the key and the lineage."""
    available = table_columns(con, checked.schema, checked.table)
    if not available:
        raise LookupError(f"table {checked.schema}.{checked.table} does not exist")
    wanted = dict.fromkeys([*checked.suite.key, *checked.suite.columns, *LINEAGE])
    columns = [c for c in wanted if c in available]
    frame = con.execute(rows_sql(checked, columns, file_seqs)).df(date_as_object=True)
    for col in columns:  # DATE columns as datetime.date, so suites can compare them to "YYYY-MM-DD"
        if available[col] == "DATE" and pd.api.types.is_datetime64_any_dtype(frame[col]):
            frame[col] = frame[col].astype(object).where(frame[col].notna(), None)
    return frame


# --------------------------------------------------------------------------- the checks
def _result(checked: CheckedTable, result: gx.SuiteResult | None, error: str | None,
            read_seconds: float) -> AssetCheckResult:
    severity = AssetCheckSeverity.ERROR if checked.suite.blocking else AssetCheckSeverity.WARN
    metadata = {"suite": checked.suite.path.name, "read_seconds": round(read_seconds, 3)}
    if error is not None:
        return AssetCheckResult(asset_key=checked.asset_key, check_name=checked.check_name,
                                passed=False, severity=severity,
                                description=f"could not be evaluated: {error}",
                                metadata={**metadata, "error": error})
    assert result is not None
    return AssetCheckResult(
        asset_key=checked.asset_key, check_name=checked.check_name, passed=result.passed,
        severity=severity,
        description=None if result.passed else result.describe(),
        metadata={**metadata, "rows_checked": result.rows_checked,
                  "validate_seconds": round(result.seconds, 3), "validated_by": result.engine,
                  "expectations": result.evaluated,
                  "failed_expectations": [f["expectation"] for f in result.failures],
                  "failures": result.failures},
    )


def run_suites(con: duckdb.DuckDBPyConnection, tables: Sequence[CheckedTable]):
    """Validate each table's rows; yields (table, SuiteResult or None, error, read seconds).

    Each frame goes to the GX worker as soon as it is read, so reading the next table
    overlaps with validating the previous one.
    """
    file_seqs = night_file_seqs(con) if any(t.schema == "raw" for t in tables) else []
    submitted = []
    for checked in tables:
        started = time.monotonic()
        screened = _screen(con, checked, file_seqs)
        if screened is not None and screened.passed and screened.rows:
            result = gx.SuiteResult(checked.suite.name, True, screened.rows, len(checked.suite.expectations),
                                    seconds=screened.seconds, engine="sql")
            submitted.append((checked, _done(result), None, time.monotonic() - started))
            continue
        try:
            frame = read_rows(con, checked, file_seqs)
        except (duckdb.Error, LookupError) as exc:
            submitted.append((checked, None, str(exc).splitlines()[0], time.monotonic() - started))
            continue
        read = time.monotonic() - started
        if frame.empty:  # nothing new tonight: nothing to validate
            empty = gx.SuiteResult(checked.suite.name, True, 0, 0)
            submitted.append((checked, _done(empty), None, read))
            continue
        submitted.append((checked, gx.submit(checked.suite.path, frame, checked.suite.key), None, read))
    for checked, future, error, read in submitted:
        if future is None:
            yield checked, None, error, read
            continue
        try:
            try:
                result = future.result()
            except BrokenExecutor:  # the GX worker died: validate here rather than fail the night
                gx.shutdown()
                result = gx.validate_in_process(checked.suite.path, read_rows(con, checked, file_seqs),
                                           checked.suite.key)
        except Exception as exc:  # noqa: BLE001 - a suite that cannot run fails its check
            yield checked, None, f"{type(exc).__name__}: {exc}", read
            continue
        yield checked, result, None, read


def _screen(con: duckdb.DuckDBPyConnection, checked: CheckedTable, file_seqs: Sequence[int]):
    """The suite evaluated in SQL on the same rows (``screen.py``); None when GX must decide."""
    available = table_columns(con, checked.schema, checked.table)
    if not available:
        return None
    wanted = dict.fromkeys([*checked.suite.key, *checked.suite.columns, *LINEAGE])
    columns = [c for c in wanted if c in available]
    return screen.screen(con, rows_sql(checked, columns, file_seqs), checked.suite.expectations,
                         available)


def _done(result: gx.SuiteResult):
    from concurrent.futures import Future

    future: Future = Future()
    future.set_result(result)
    return future


def build_gx_checks(tables: Sequence[CheckedTable], partitions: PartitionsDefinition | None,
                    name: str):
    """One op that runs the given suites, each reported as its own asset check."""
    by_key = {t.check_key: t for t in tables}
    specs = [AssetCheckSpec(
        name=t.check_name, asset=t.asset_key, blocking=t.suite.blocking, partitions_def=partitions,
        description=f"Great Expectations suite expectations/{t.suite.path.name}"
                    + (" on the night's rows." if t.schema == "raw" else " on the whole mart."),
    ) for t in tables]

    @multi_asset_check(specs=specs, name=name, can_subset=True, pool="warehouse",
                       description=f"Great Expectations suites on {', '.join(sorted({t.schema for t in tables}))} tables.")
    def gx_suite_checks(context: AssetCheckExecutionContext, warehouse: WarehouseResource):
        todo = [by_key[k] for k in sorted(context.selected_asset_check_keys, key=str) if k in by_key]
        settings = warehouse.settings()
        results = []
        with stage(f"checks {name.removeprefix('gx_')}") as info:
            with connect(settings, read_only=True) as con:
                for checked, result, error, read_seconds in run_suites(con, todo):
                    results.append(_result(checked, result, error, read_seconds))
            failed = [r.check_name for r in results if not r.passed]
            info["note"] = (f"{len(results)} suites, "
                            + (f"FAILED: {', '.join(failed)}" if failed else "passed"))
        yield from results

    return gx_suite_checks


def gx_checks(partitions: PartitionsDefinition, mart_keys: Iterable[AssetKey] = ()) -> list:
    """The raw suites (after ingest) and the mart suites whose mart exists (before publish)."""
    checks = []
    raw = suites("raw")
    if raw:
        checks.append(build_gx_checks(raw, partitions, "gx_raw"))
    known = set(mart_keys)
    marts = [t for t in suites("marts") if t.asset_key in known]
    if marts:
        checks.append(build_gx_checks(marts, partitions, "gx_marts"))
    return checks
