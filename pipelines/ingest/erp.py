"""ERP extracts (and manual decisions) into ``raw.*``: append-only, typed, with lineage.

Each entity has a spec (columns, types, which are required). A file is read as text (by
DuckDB: ``read_parquet``, or ``read_csv`` where it reads the file exactly as pandas would;
by pandas otherwise, which also names what is wrong with an unreadable file), every
row is validated set-based in DuckDB, the good rows are appended to ``raw.<table>`` with
their source file, line and load time, and the bad rows go to ``audit.rejects`` with a
reason naming the file, the line, what was expected and what was found. A file missing a
required column, or that cannot be read at all, is quarantined. Upsert by key (latest
``updated_at``, then latest file, then latest line) happens in the dbt staging models.

A file's rows, rejects and registry entry commit together, with those of the files read
before it in the same batch (``_Batch``: up to ``BATCH_ROWS`` rows): a night stopped half-way
re-reads exactly the files whose batch did not commit.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import duckdb
import pandas as pd

from pipelines.ingest.bank.common import ISO_4217_CURRENT
from pipelines.ingest.files import (
    InboxFile,
    list_inbox,
    new_files,
    next_file_seq,
    quarantine,
    register_file,
)
from pipelines.settings import Settings
from pipelines.warehouse import MONEY_RAW, one_row, raw_lineage_columns

log = logging.getLogger("arw.ingest")

# Rows per transaction. DuckDB writes a large append straight into the database file; a
# commit per small file writes every row twice (the WAL, then the checkpoint): at 1M invoices
# in 18 monthly files, 3.6 s of commits against 0.9 s in one transaction.
BATCH_ROWS = 1_000_000


class _Batch:
    """One open transaction over consecutive files of an entity."""

    def __init__(self, con: duckdb.DuckDBPyConnection):
        self.con = con
        self.open = False
        self.rows = 0

    def begin(self) -> None:
        if not self.open:
            self.con.execute("BEGIN TRANSACTION")
            self.open, self.rows = True, 0

    def added(self, rows: int) -> None:
        self.rows += rows
        if self.rows >= BATCH_ROWS:
            self.commit()

    def commit(self) -> None:
        if self.open:
            self.con.execute("COMMIT")
            self.open = False

    def rollback(self) -> None:
        if self.open:
            self.con.execute("ROLLBACK")
            self.open = False

TEXT, DATE, DECIMAL, INT, BOOL, CURRENCY, TIMESTAMP, PERIOD = (
    "text", "date", "decimal", "int", "bool", "currency", "timestamp", "period")

_SQL_TYPES = {TEXT: "VARCHAR", DATE: "DATE", DECIMAL: MONEY_RAW, INT: "INTEGER", BOOL: "BOOLEAN",
              CURRENCY: "VARCHAR", TIMESTAMP: "TIMESTAMP", PERIOD: "VARCHAR"}


# The reason a worklist row a person left undecided is set aside with: not bad input (the
# bad-input alert leaves these rows out), the exception simply stays open.
UNDECIDED_REASON = "no decision filled in (action blank)"


@dataclass(frozen=True)
class Col:
    name: str
    type: str = TEXT
    required: bool = False
    choices: tuple[str, ...] = ()
    positive: bool = False


@dataclass(frozen=True)
class Entity:
    name: str
    folder: str
    patterns: tuple[str, ...]
    key: tuple[str, ...]
    columns: tuple[Col, ...]
    # groups of columns of which at least one must be filled
    one_of: tuple[tuple[str, ...], ...] = field(default_factory=tuple)
    # A column whose blank value means the row holds nothing to load yet (a worklist row a
    # person left undecided): such a row is rejected with this one reason, not its checks.
    blank_means_undecided: tuple[str, str] | None = None

    @property
    def table(self) -> str:
        prefix = "manual" if self.folder == "manual" else "erp"
        return f"{prefix}_{self.name}"

    @property
    def kind(self) -> str:
        return f"{self.folder}:{self.name}"


def _patterns(stem: str) -> tuple[str, ...]:
    return (f"{stem}*.csv", f"{stem}*.parquet")


ENTITIES: tuple[Entity, ...] = (
    Entity("customers", "erp", _patterns("customers"), ("customer_id",), (
        Col("customer_id", required=True), Col("name", required=True), Col("country"),
        Col("currency", CURRENCY, required=True), Col("credit_limit", DECIMAL),
        Col("payment_terms_days", INT, required=True), Col("salesperson_id", required=True),
        Col("is_key_account", BOOL), Col("bank_accounts"), Col("aliases"),
        Col("updated_at", TIMESTAMP))),
    Entity("salespeople", "erp", _patterns("salespeople"), ("salesperson_id",), (
        Col("salesperson_id", required=True), Col("name", required=True), Col("team"),
        Col("manager_id"), Col("updated_at", TIMESTAMP))),
    Entity("orders", "erp", _patterns("orders"), ("order_id",), (
        Col("order_id", required=True), Col("customer_id", required=True), Col("salesperson_id"),
        Col("order_date", DATE, required=True), Col("currency", CURRENCY, required=True),
        Col("amount", DECIMAL, required=True),
        Col("status", required=True, choices=("open", "invoiced", "cancelled")),
        Col("updated_at", TIMESTAMP))),
    Entity("invoices", "erp", _patterns("invoices"), ("invoice_id",), (
        Col("invoice_id", required=True), Col("invoice_number", required=True), Col("order_id"),
        Col("customer_id", required=True), Col("salesperson_id"),
        Col("issue_date", DATE, required=True), Col("due_date", DATE, required=True),
        Col("currency", CURRENCY, required=True), Col("amount", DECIMAL, required=True, positive=True),
        Col("status", required=True, choices=("issued", "cancelled")), Col("disputed", BOOL),
        Col("updated_at", TIMESTAMP))),
    Entity("credit_notes", "erp", _patterns("credit_notes"), ("credit_note_id",), (
        Col("credit_note_id", required=True), Col("invoice_id"), Col("customer_id", required=True),
        Col("issue_date", DATE, required=True), Col("currency", CURRENCY, required=True),
        Col("amount", DECIMAL, required=True, positive=True), Col("updated_at", TIMESTAMP))),
    Entity("collection_targets", "erp", _patterns("collection_targets"),
           ("salesperson_id", "period", "currency"), (
        Col("salesperson_id", required=True), Col("period", PERIOD, required=True),
        Col("currency", CURRENCY, required=True), Col("target_amount", DECIMAL, required=True),
        Col("updated_at", TIMESTAMP))),
    Entity("fx_rates", "erp", _patterns("fx_rates"), ("date", "currency"), (
        Col("date", DATE, required=True), Col("currency", CURRENCY, required=True),
        Col("rate_to_reporting", DECIMAL, required=True, positive=True),
        Col("updated_at", TIMESTAMP))),
    Entity("ar_open_items", "erp", _patterns("ar_open_items"), ("as_of_date", "invoice_id"), (
        Col("as_of_date", DATE, required=True), Col("invoice_id", required=True),
        Col("open_amount", DECIMAL, required=True), Col("updated_at", TIMESTAMP))),
    Entity("decisions", "manual", _patterns("decisions"), ("transaction_id", "bank_reference", "invoice_id", "invoice_number"), (
        Col("transaction_id"), Col("bank_reference"),
        Col("action", required=True,
            choices=("allocate", "unapply", "on_account", "not_ar", "write_off")),
        Col("invoice_number"), Col("invoice_id"), Col("amount", DECIMAL), Col("currency", CURRENCY),
        Col("decided_by", required=True), Col("decided_at", TIMESTAMP, required=True),
        Col("note")), one_of=(("transaction_id", "bank_reference"),),
        blank_means_undecided=("action", UNDECIDED_REASON)),
)

ENTITY_BY_NAME = {e.name: e for e in ENTITIES}


def erp_table_ddl() -> list[str]:
    ddl = []
    for entity in ENTITIES:
        cols = ",\n    ".join(f"{c.name} {_SQL_TYPES[c.type]}" for c in entity.columns)
        ddl.append(f"CREATE TABLE IF NOT EXISTS raw.{entity.table} (\n    {cols},\n"
                   f"{raw_lineage_columns()});")
    return ddl


@dataclass
class LoadStats:
    files_loaded: int = 0
    files_quarantined: int = 0
    files_skipped: int = 0
    rows_in: int = 0
    rows_loaded: int = 0
    rows_rejected: int = 0
    messages: list[str] = field(default_factory=list)

    def add(self, other: LoadStats) -> None:
        for name in ("files_loaded", "files_quarantined", "files_skipped", "rows_in",
                     "rows_loaded", "rows_rejected"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.messages.extend(other.messages)


class FileUnreadable(Exception):
    pass


def read_text_frame(path: Path) -> pd.DataFrame:
    """Read a CSV or Parquet file as text columns, ids and money exactly as delivered."""
    if path.suffix.lower() == ".parquet":
        try:
            frame = pd.read_parquet(path)
        except Exception as exc:  # noqa: BLE001 - any reader error makes the file unreadable
            raise FileUnreadable(f"expected a Parquet file, found unreadable data ({exc})") from exc
        out = pd.DataFrame(index=frame.index)
        for col in frame.columns:
            series = frame[col]
            if pd.api.types.is_datetime64_any_dtype(series):
                out[col] = series.dt.strftime("%Y-%m-%d").fillna("")
            else:
                out[col] = series.astype("string").fillna("").astype(str)
        return out
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig",
                            skipinitialspace=False)
    except UnicodeDecodeError as exc:
        raise FileUnreadable(
            f"byte {exc.start}: expected UTF-8 text, found byte 0x{exc.object[exc.start]:02x}"
        ) from exc
    except pd.errors.EmptyDataError as exc:
        raise FileUnreadable("line 1: expected a header row, found an empty file") from exc
    except pd.errors.ParserError as exc:
        raise FileUnreadable(f"expected the same number of fields on every line, found: {exc}") from exc
    frame.columns = [str(c).strip() for c in frame.columns]
    return frame


class _NotExact(Exception):
    """DuckDB cannot read this file exactly as ``read_text_frame`` would: use pandas."""


def _csv_header(path: Path) -> list[str]:
    with path.open("rb") as handle:
        first = handle.readline()
    if not first.strip():
        raise _NotExact  # empty file or a blank first line: pandas says what is wrong
    try:
        text = first.decode("utf-8-sig").rstrip("\r\n")
    except UnicodeDecodeError as exc:
        raise _NotExact from exc
    if '"' in text:
        raise _NotExact  # quoted header names (could span lines): leave them to pandas
    names = [n.strip() for n in text.split(",")]
    if len(set(names)) != len(names) or "" in names:
        raise _NotExact
    return names


def _data_lines(path: Path) -> int:
    count, last = 0, b"\n"
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 22), b""):
            count += chunk.count(b"\n")
            last = chunk[-1:]
    return count + (last != b"\n") - 1


def _duckdb_text_table(con: duckdb.DuckDBPyConnection, path: Path,
                       entity: Entity) -> tuple[list[str], frozenset[str]]:
    """``_incoming_text`` (a temp view over a Parquet file, a temp table of a CSV file): the
    file's columns as text ('' for empty, as
    ``read_text_frame`` gives them) and ``_line_number``, read by DuckDB: no Python object per
    value, so millions of rows take seconds. Raises ``_NotExact`` where pandas must decide
    (unusual CSV layouts, unreadable files: their reasons come from ``read_text_frame``).
    Returns the file's column names and those of them read in their own type (``_native``)."""
    target = f"'{str(path).replace(chr(39), chr(39) * 2)}'"
    try:
        if path.suffix.lower() == ".parquet":
            described = con.execute(f"DESCRIBE SELECT * FROM read_parquet({target})").fetchall()
            spec = {c.name: c for c in entity.columns}
            spec_types = {c.name: c.type for c in entity.columns}
            columns, native = [], set()
            for name, dtype, *_ in described:
                quoted = '"' + name.replace('"', '""') + '"'
                if name in spec and _native(spec[name], dtype):
                    native.add(name)
                    columns.append(quoted)
                    continue
                if dtype.startswith("TIMESTAMP") and spec_types.get(name) == DATE:
                    value = f"strftime({quoted}, '%Y-%m-%d')"
                else:
                    value = f"CAST({quoted} AS VARCHAR)"
                columns.append(f"coalesce({value}, '') AS {quoted}")
            # a view: the checks read the file once, straight from Parquet
            con.execute(f"""
                CREATE OR REPLACE TEMP VIEW _incoming_text AS
                SELECT file_row_number + 2 AS _line_number, {', '.join(columns)}
                FROM read_parquet({target}, file_row_number = true)
            """)
            return [r[0] for r in described], frozenset(native)
        names = _csv_header(path)
        expected = _data_lines(path)
        spec = "{" + ", ".join(f"'c{i}': 'VARCHAR'" for i in range(len(names))) + "}"
        renamed = ", ".join(f"coalesce(c{i}, '') AS \"{n.replace(chr(34), chr(34) * 2)}\""
                            for i, n in enumerate(names))
        con.execute(f"""
            CREATE OR REPLACE TEMP TABLE _incoming_text AS
            SELECT row_number() OVER () + 1 AS _line_number, {renamed}
            FROM read_csv({target}, header = false, skip = 1, auto_detect = false, delim = ',',
                          quote = '"', escape = '"', columns = {spec}, strict_mode = true,
                          null_padding = false, encoding = 'utf-8')
        """)
    except (duckdb.Error, OSError) as exc:
        raise _NotExact from exc
    if con.execute("SELECT count(*) FROM _incoming_text").fetchone()[0] != expected:
        raise _NotExact  # blank lines or line breaks inside quotes: pandas counts those
    return names, frozenset()


def _drop_incoming(con: duckdb.DuckDBPyConnection) -> None:
    """Drop ``_incoming_text`` (a view over a Parquet file, or a table)."""
    kinds = con.execute("SELECT 'VIEW' FROM duckdb_views() WHERE temporary AND view_name = '_incoming_text' "
                        "UNION ALL SELECT 'TABLE' FROM duckdb_tables() WHERE temporary "
                        "AND table_name = '_incoming_text'").fetchall()
    for (kind,) in kinds:
        con.execute(f"DROP {kind} IF EXISTS _incoming_text")


def _text_table(con: duckdb.DuckDBPyConnection, path: Path, entity: Entity) -> tuple[list[str], frozenset[str]]:
    """TEMP TABLE ``_incoming_text`` (see ``_duckdb_text_table``), by DuckDB where it reads the
    file exactly, else through ``read_text_frame``. Returns the file's column names and those
    read in their own type; raises ``FileUnreadable``."""
    try:
        return _duckdb_text_table(con, path, entity)
    except _NotExact:
        _drop_incoming(con)
    frame = read_text_frame(path)
    frame.insert(0, "_line_number", range(2, len(frame) + 2))
    con.register("_incoming_frame", frame)
    try:
        con.execute("CREATE OR REPLACE TEMP TABLE _incoming_text AS SELECT * FROM _incoming_frame")
    finally:
        con.unregister("_incoming_frame")
    return [str(c) for c in frame.columns[1:]], frozenset()


# Parquet columns already of the entity's type are read as they are, not as text checked and
# typed again (a million dates and amounts through text took most of the ERP ingest): the
# text check could not fail on any of their values, so rows, rejects and reasons are the same
# (tests/unit/ingest/test_erp_duckdb_reader.py).
NATIVE_PARQUET = True


def _native(col: Col, dtype: str) -> bool:
    """A Parquet column of type ``dtype`` holds only values ``col``'s text check accepts."""
    if not NATIVE_PARQUET or col.choices:
        return False
    if col.type == DECIMAL:  # the check accepts at most 6 decimals
        scale = re.fullmatch(r"DECIMAL\(\d+,(\d+)\)", dtype)
        return scale is not None and int(scale[1]) <= 6
    return (col.type, dtype) in {(DATE, "DATE"), (TIMESTAMP, "TIMESTAMP"), (BOOL, "BOOLEAN")}


def _blank(name: str, native: frozenset[str]) -> str:
    return f'"{name}" IS NULL' if name in native else f"trim(\"{name}\") = ''"


def _as_text(name: str, native: frozenset[str]) -> str:
    """The value as the text reader gives it ('' for empty): what a reject records."""
    return f"coalesce(CAST(\"{name}\" AS VARCHAR), '')" if name in native else f'"{name}"'


def _sql_str(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _check_expressions(entity: Entity, file_label: str, native: frozenset[str] = frozenset()) -> list[str]:
    """One SQL expression per check; each yields a reason text or NULL (``native``: the
    columns read in their own type, see ``_native``)."""
    checks: list[str] = []
    for col in entity.columns:
        if col.name in native:  # its type check cannot fail
            if col.required:
                checks.append(f"CASE WHEN {_blank(col.name, native)} THEN '{col.name}: expected a value, found empty' END")
            if col.positive:
                checks.append(f"CASE WHEN \"{col.name}\" <= 0 THEN '{col.name}: expected an amount greater than 0, "
                              f"found \"' || {_as_text(col.name, native)} || '\"' END")
            continue
        c = f'trim("{col.name}")'
        found = f"'found \"' || \"{col.name}\" || '\"'"
        if col.required:
            checks.append(f"CASE WHEN {c} = '' THEN '{col.name}: expected a value, found empty' END")
        not_blank = f"{c} <> ''"
        if col.type == DATE:
            checks.append(f"CASE WHEN {not_blank} AND try_strptime({c}, '%Y-%m-%d') IS NULL THEN "
                          f"'{col.name}: expected a date YYYY-MM-DD, ' || {found} END")
        elif col.type == TIMESTAMP:
            checks.append(f"CASE WHEN {not_blank} AND TRY_CAST({c} AS TIMESTAMP) IS NULL THEN "
                          f"'{col.name}: expected a date or timestamp (ISO 8601), ' || {found} END")
        elif col.type == DECIMAL:
            valid = f"regexp_full_match({c}, '[+-]?[0-9]+(\\.[0-9]{{1,6}})?')"
            checks.append(f"CASE WHEN {not_blank} AND NOT {valid} THEN "
                          f"'{col.name}: expected a decimal number with \".\" and at most 6 decimals, ' || {found} END")
            if col.positive:
                checks.append(f"CASE WHEN {not_blank} AND {valid} AND CAST({c} AS {MONEY_RAW}) <= 0 THEN "
                              f"'{col.name}: expected an amount greater than 0, ' || {found} END")
        elif col.type == INT:
            checks.append(f"CASE WHEN {not_blank} AND NOT regexp_full_match({c}, '[+-]?[0-9]{{1,9}}') THEN "
                          f"'{col.name}: expected a whole number, ' || {found} END")
        elif col.type == BOOL:
            checks.append(f"CASE WHEN {not_blank} AND lower({c}) NOT IN "
                          f"('true','false','yes','no','1','0','y','n','t','f') THEN "
                          f"'{col.name}: expected true or false, ' || {found} END")
        elif col.type == CURRENCY:
            checks.append(f"CASE WHEN {not_blank} AND upper({c}) NOT IN (SELECT code FROM _iso_currencies) THEN "
                          f"'{col.name}: expected an ISO 4217 currency code, ' || {found} END")
        elif col.type == PERIOD:
            checks.append(f"CASE WHEN {not_blank} AND try_strptime({c} || '-01', '%Y-%m-%d') IS NULL THEN "
                          f"'{col.name}: expected a month YYYY-MM, ' || {found} END")
        if col.choices:
            options = ", ".join(col.choices)
            in_list = ", ".join(_sql_str(o) for o in col.choices)
            checks.append(f"CASE WHEN {not_blank} AND lower({c}) NOT IN ({in_list}) THEN "
                          f"'{col.name}: expected one of {options}, ' || {found} END")
    for group in entity.one_of:
        cond = " AND ".join(_blank(g, native) for g in group)
        checks.append(f"CASE WHEN {cond} THEN 'expected a value in one of {', '.join(group)}, found none' END")
    return checks


def _typed_expression(col: Col, native: bool = False) -> str:
    if native:
        return f'CAST("{col.name}" AS {_SQL_TYPES[col.type]})'
    c = f'nullif(trim("{col.name}"), \'\')'
    if col.type == DATE:
        return f"CAST(strptime({c}, '%Y-%m-%d') AS DATE)"
    if col.type == TIMESTAMP:
        return f"CAST({c} AS TIMESTAMP)"
    if col.type == DECIMAL:
        return f"CAST({c} AS {MONEY_RAW})"
    if col.type == INT:
        return f"CAST({c} AS INTEGER)"
    if col.type == BOOL:
        return f"lower({c}) IN ('true','yes','1','y','t')"
    if col.type == CURRENCY:
        return f"upper({c})"
    if col.choices:
        return f"lower({c})"
    # identifiers and text are kept exactly as delivered (no trim of inner content)
    return f"nullif(\"{col.name}\", '')"


def load_file(con: duckdb.DuckDBPyConnection, settings: Settings, entity: Entity, f: InboxFile,
              run_id: str, batch: _Batch) -> LoadStats:
    """Load one file: rows + rejects + registry in ``batch``'s transaction (shared with the
    files before it), or quarantine."""
    stats = LoadStats()
    label = f.relative_path
    file_seq = next_file_seq(con)
    try:
        file_columns, native = _text_table(con, f.path, entity)
        missing = [c.name for c in entity.columns if c.required and c.name not in file_columns]
        if missing:
            raise FileUnreadable(
                f"line 1 (header): expected columns {', '.join(missing)}, found "
                f"{', '.join(file_columns) or 'no columns'}")
    except FileUnreadable as exc:
        _drop_incoming(con)
        # the files before it commit first: the file moves to quarantine/ right away, so its
        # registry row must not wait in a transaction a later failure could roll back
        batch.commit()
        reason = f"{label}, {exc}"
        quarantine(settings, f, reason)
        register_file(con, f, file_seq, entity.kind, "quarantined", run_id, reason=reason)
        stats.files_quarantined += 1
        stats.messages.append(f"quarantined {label}: {exc}")
        log.warning("quarantined %s: %s", label, exc)
        return stats

    # the entity's columns in its order; optional columns absent from the file are empty
    present = set(file_columns)
    select = ", ".join(f'"{c.name}"' if c.name in present else f"'' AS \"{c.name}\""
                       for c in entity.columns)
    con.execute(f"CREATE OR REPLACE TEMP VIEW _incoming AS SELECT _line_number, {select} "
                "FROM _incoming_text")
    checks = _check_expressions(entity, label, native)
    reason_sql = "concat_ws('; ', " + ", ".join(checks) + ")"
    if entity.blank_means_undecided:
        column, undecided = entity.blank_means_undecided
        reason_sql = (f"CASE WHEN {_blank(column, native)} THEN {_sql_str(undecided)} "
                      f"ELSE {reason_sql} END")
    now = datetime.now()
    batch.begin()
    try:
        con.execute(f"CREATE OR REPLACE TEMP TABLE _checked AS "
                    f"SELECT *, {reason_sql} AS _reason FROM _incoming")
        typed = ", ".join(f"{_typed_expression(c, c.name in native)} AS {c.name}" for c in entity.columns)
        con.execute(
            f"INSERT INTO raw.{entity.table} SELECT {typed}, ?, ?, ?, _line_number, ?, ? "
            f"FROM _checked WHERE _reason = ''",
            [f.file_hash, file_seq, f.relative_path, run_id, now],
        )
        struct = ", ".join(f"'{c.name}': {_as_text(c.name, native)}" for c in entity.columns)
        con.execute(
            f"INSERT INTO audit.rejects SELECT ?, ?, ?, ?, _line_number, 'line ' || _line_number, "
            f"? || ', line ' || _line_number || ': ' || _reason, "
            f"to_json({{{struct}}})::VARCHAR, ? FROM _checked WHERE _reason <> ''",
            [run_id, f.file_hash, f.relative_path, entity.kind, label, now],
        )
        loaded, rejected = one_row(
            con, "SELECT count(*) FILTER (WHERE _reason = ''), count(*) FILTER (WHERE _reason <> '') "
            "FROM _checked")
        rows_in = loaded + rejected
        register_file(con, f, file_seq, entity.kind, "loaded", run_id, rows_in=rows_in,
                      rows_loaded=loaded, rows_rejected=rejected)
        batch.added(rows_in)
    except Exception:
        batch.rollback()
        raise
    finally:
        con.execute("DROP VIEW IF EXISTS _incoming")
        _drop_incoming(con)
        con.execute("DROP TABLE IF EXISTS _checked")
    stats.files_loaded += 1
    stats.rows_in += rows_in
    stats.rows_loaded += loaded
    stats.rows_rejected += rejected
    if rejected:
        stats.messages.append(f"{label}: {rejected} of {rows_in} rows rejected")
    return stats


def ingest_entities(con: duckdb.DuckDBPyConnection, settings: Settings, run_id: str,
                    entities: tuple[Entity, ...]) -> dict[str, LoadStats]:
    """Take in every new file for the given entities. Returns stats per entity."""
    _register_currencies(con)
    result: dict[str, LoadStats] = {}
    for entity in entities:
        stats = LoadStats()
        paths = list_inbox(settings.inbox, entity.folder, entity.patterns)
        fresh = new_files(con, settings, paths, run_id)
        stats.files_skipped = len(paths) - len(fresh)
        batch = _Batch(con)
        try:
            for f in fresh:
                stats.add(load_file(con, settings, entity, f, run_id, batch))
        except BaseException:
            batch.rollback()
            raise
        batch.commit()
        result[entity.name] = stats
    return result


def _register_currencies(con: duckdb.DuckDBPyConnection) -> None:
    con.register("_iso_currencies_df", pd.DataFrame({"code": sorted(ISO_4217_CURRENT)}))
    con.execute("CREATE OR REPLACE TEMP TABLE _iso_currencies AS SELECT code FROM _iso_currencies_df")
    con.unregister("_iso_currencies_df")
