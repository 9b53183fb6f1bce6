"""The generic bank CSV layout read by DuckDB: the fast path for large, clean files.

``generic_csv.parse`` reads a file row by row in Python (a Transaction object per row): about
a minute per million rows here. This module reads the same file with DuckDB's CSV reader and
computes every field set-based — the same values, the same ``transaction_id`` (SHA-1 of the
same parts, the same counters), the same ``line N`` locations and the same statement per
account — so a clean file of millions of rows loads in seconds.

It takes only files it can read exactly as the Python reader does: the generic header on the
first line (no byte-order mark), one physical line per row (no blank lines, no line breaks
inside quotes), and every row valid (an account, ISO dates, a plain non-zero amount with at
most six decimals, an ISO 4217 currency, no field beyond the header). Anything else — a row
the Python reader would reject with its reason, a file it would quarantine — returns None and
the caller reads the file with ``generic_csv.parse``, so reasons and rejects stay exactly
theirs.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import duckdb

from pipelines.ingest.bank.common import ISO_4217_CURRENT, ISO_4217_HISTORIC
from pipelines.ingest.bank.detect import HEAD_BYTES, detect_format
from pipelines.ingest.bank.generic_csv import (
    FORMAT,
    GENERIC_COLUMNS,
    OPTIONAL_COLUMNS,
    generic_header_delimiter,
)
from pipelines.ingest.bank.records import UnreadableFile

__all__ = ["FORMAT", "TABLE", "Candidate", "candidate", "drop", "rows_sql", "stage", "stage_all",
           "statements_sql"]

TABLE = "_generic_csv_rows"
_BOM = b"\xef\xbb\xbf"
# What str.strip() without arguments strips: every character str.isspace() calls space
# (ASCII white space, the separators \x1c-\x1f, NEL, Unicode's space separators).
PY_WHITESPACE = ("\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004"
                 "\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000")


def _strip(expr: str) -> str:
    """Python's ``str.strip()`` in SQL; the trim (slow with this many characters) only where
    the first or last character is not plain ASCII."""
    plain = f"ascii({expr}) BETWEEN 33 AND 126 AND ascii(substr({expr}, length({expr}))) BETWEEN 33 AND 126"
    return f"CASE WHEN {expr} = '' OR ({plain}) THEN {expr} ELSE trim({expr}, {_sql_str(PY_WHITESPACE)}) END"


def _sql_str(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _header(path: Path) -> tuple[str, list[str]] | None:
    """The delimiter and normalised column names when line 1 is the generic header."""
    with path.open("rb") as handle:
        head = handle.read(HEAD_BYTES)
    if head.startswith(_BOM):
        return None
    try:
        if detect_format(head, path.name) != FORMAT:
            return None
        first = head.split(b"\n", 1)[0].rstrip(b"\r").decode("utf-8")
    except (UnreadableFile, UnicodeDecodeError):
        return None
    delimiter = generic_header_delimiter(first)
    if delimiter is None:
        return None
    names = [n.strip().strip('"').strip().lower() for n in next(csv.reader([first], delimiter=delimiter))]
    if len(set(names)) != len(names):
        return None
    return delimiter, names


def _data_lines(path: Path) -> int:
    """Lines after the header (a last line without a line break counts)."""
    count = 0
    last = b"\n"
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 22), b""):
            count += chunk.count(b"\n")
            last = chunk[-1:]
    if last != b"\n":
        count += 1
    return count - 1


@dataclass(frozen=True)
class Candidate:
    """A file whose first line is the generic header: it may be read by this path."""

    pos: int  # its place in the night's order
    path: Path
    delimiter: str
    names: tuple[str, ...]
    lines: int  # data lines (after the header)

    @property
    def layout(self) -> tuple[str, tuple[str, ...]]:
        return self.delimiter, self.names


def candidate(path: Path, pos: int) -> Candidate | None:
    """The file as a candidate for this path, or None (its reader is the Python one)."""
    header = _header(path)
    if header is None:
        return None
    lines = _data_lines(path)
    if lines < 1:
        return None
    return Candidate(pos, path, header[0], tuple(header[1]), lines)


def _files_table(con: duckdb.DuckDBPyConnection, group: list[Candidate]) -> None:
    values = ", ".join(f"({c.pos}, {_sql_str(str(c.path))}, {offset})"
                       for c, offset in zip(group, _offsets(group), strict=True))
    con.execute(f"CREATE OR REPLACE TEMP TABLE _generic_csv_files AS "
                f"SELECT * FROM (VALUES {values}) t(_pos, filename, row_offset)")


def _offsets(group: list[Candidate]) -> list[int]:
    out, total = [], 0
    for c in group:
        out.append(total)
        total += c.lines
    return out


def stage(con: duckdb.DuckDBPyConnection, group: list[Candidate]) -> dict[int, int] | None:
    """Read files of one layout (in one ``read_csv``) into the temp table ``_generic_csv_rows``
    (created or appended to): per row the file's ``_pos``, ``line`` and the fields stripped as
    ``generic_csv.parse`` strips them. Returns {pos: rows} of the files read exactly — every
    row valid, one physical line per row (see the module docstring); the others are left out
    of the table and the dict, for the Python reader. None when the group could not be read
    together (a malformed file among them): stage its files one by one."""
    delimiter, names = group[0].layout
    columns = "{" + ", ".join(f"'c{i}': 'VARCHAR'" for i in range(len(names))) + "}"
    index = {name: f"c{i}" for i, name in enumerate(names)}

    def cell(name: str) -> str:
        col = index.get(name)
        return _strip(f"coalesce({col}, '')") if col else "''"

    fields = {name: cell(name) for name in (*GENERIC_COLUMNS, *OPTIONAL_COLUMNS)}
    select = ", ".join(f"{expr} AS {name}" for name, expr in fields.items())
    currencies = ", ".join(_sql_str(c) for c in sorted(ISO_4217_CURRENT | ISO_4217_HISTORIC))
    date = r"regexp_full_match({0}, '[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}') AND try_strptime({0}, '%Y-%m-%d') IS NOT NULL"
    bad = f"""account = ''
              OR NOT ({date.format('booking_date')})
              OR (value_date <> '' AND NOT ({date.format('value_date')}))
              OR NOT regexp_full_match(amount, '-?[0-9]+(\\.[0-9]{{1,6}})?')
              OR TRY_CAST(amount AS DECIMAL(38, 6)) = 0
              OR upper(currency) NOT IN ({currencies})"""
    paths = "[" + ", ".join(_sql_str(str(c.path)) for c in group) + "]"
    _files_table(con, group)
    try:
        # The files are read in the order given and their rows come in file order (DuckDB keeps
        # insertion order), so a row's line is its place in the stream less the earlier files'.
        con.execute(f"""
            CREATE OR REPLACE TEMP TABLE _generic_csv_read AS
            SELECT f._pos, r.rn - f.row_offset + 1 AS line, r.* EXCLUDE (rn, filename)
            FROM (SELECT row_number() OVER () AS rn, filename, {select}
                  FROM read_csv({paths}, header = false, skip = 1, auto_detect = false,
                                delim = {_sql_str(delimiter)}, quote = '"', escape = '"',
                                columns = {columns}, strict_mode = true, null_padding = true,
                                encoding = 'utf-8', filename = true)) r
            JOIN _generic_csv_files f USING (filename)
        """)
        counts = {pos: (rows, bad_rows, first, last) for pos, rows, bad_rows, first, last in con.execute(f"""
            SELECT _pos, count(*), count(*) FILTER (WHERE {bad}), min(line), max(line)
            FROM _generic_csv_read GROUP BY _pos""").fetchall()}
        expected = {c.pos: c.lines for c in group}
        # line numbers hold only when every file has exactly its lines (no blank lines, no
        # line breaks inside quotes): otherwise read the files one by one
        if any(counts.get(pos, (0,))[0] != lines for pos, lines in expected.items()):
            if len(group) == 1:
                return {}
            return None
        clean = [pos for pos, (rows, bad_rows, first, last) in counts.items()
                 if not bad_rows and first == 2 and last == rows + 1]
        exists = con.execute("SELECT count(*) FROM duckdb_tables() WHERE temporary "
                             f"AND table_name = '{TABLE}'").fetchone()[0]
        verb = f"INSERT INTO {TABLE}" if exists else f"CREATE TEMP TABLE {TABLE} AS"
        con.execute(f"{verb} SELECT * FROM _generic_csv_read WHERE _pos IN "
                    f"({', '.join(str(p) for p in clean) or 'NULL'})")
        return {pos: counts[pos][0] for pos in clean}
    except duckdb.Error:
        return {} if len(group) == 1 else None
    finally:
        con.execute("DROP TABLE IF EXISTS _generic_csv_read")
        con.execute("DROP TABLE IF EXISTS _generic_csv_files")


def stage_all(con: duckdb.DuckDBPyConnection, candidates: list[Candidate]) -> dict[int, int]:
    """Stage the candidates, consecutive files of one layout together; {pos: rows} of those
    read exactly."""
    staged: dict[int, int] = {}
    group: list[Candidate] = []
    for c in [*candidates, None]:
        if group and (c is None or c.layout != group[0].layout or c.pos != group[-1].pos + 1):
            result = stage(con, group)
            if result is None:
                for one in group:
                    staged.update(stage(con, [one]) or {})
            else:
                staged.update(result)
            group = []
        if c is not None:
            group.append(c)
    return staged


def drop(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(f"DROP TABLE IF EXISTS {TABLE}")


def rows_sql(positions: tuple[int, int]) -> str:
    """The contract's fields of the staged rows of files ``positions`` (first, last), as
    ``generic_csv.parse`` gives them, with ``_pos`` and ``line``. ``transaction_id`` as
    ``generic_csv._assign_id``: with a reference (account, reference, k), k = earlier rows of
    the file with that account and reference; without one (account, "csv", booking date, n),
    n = earlier rows of the file with that account and day and no reference. The counters
    are windows over the few rows that need one (a reference repeated in its file, rows
    without a reference); every other row's counter is 0."""
    sep = "chr(31)"
    lo, hi = positions
    rows = f"(SELECT * FROM {TABLE} WHERE _pos BETWEEN {lo} AND {hi})"
    repeated = (f"(SELECT _pos, account, reference FROM {rows} WHERE reference <> '' "
                "GROUP BY ALL HAVING count(*) > 1)")
    by_reference = f"account || {sep} || reference || {sep} || "
    return f"""
        WITH counted AS (
            SELECT r.*, {by_reference}'0' AS id_text
            FROM {rows} r ANTI JOIN {repeated} d USING (_pos, account, reference)
            WHERE r.reference <> ''
            UNION ALL
            SELECT r.*, {by_reference}(row_number() OVER (PARTITION BY _pos, account, reference ORDER BY line) - 1)
            FROM {rows} r SEMI JOIN {repeated} d USING (_pos, account, reference)
            UNION ALL
            SELECT r.*, account || {sep} || 'csv' || {sep} || booking_date || {sep}
                        || (row_number() OVER (PARTITION BY _pos, account, booking_date ORDER BY line) - 1)
            FROM {rows} r WHERE r.reference = ''
        )
        SELECT _pos, line, 'T' || left(sha1(id_text), 24) AS transaction_id,
               reference AS bank_reference, account, '' AS statement_id, '' AS sequence_number,
               CAST(booking_date AS DATE) AS booking_date,
               CAST(nullif(value_date, '') AS DATE) AS value_date,
               CAST(coalesce(nullif(value_date, ''), booking_date) AS DATE) AS effective_date,
               CAST(amount AS DECIMAL(38, 6)) AS amount, upper(currency) AS currency,
               counterparty_name, counterparty_account, remittance_info, structured_reference,
               end_to_end_id, false AS is_reversal, '' AS reversal_of, '' AS return_reason,
               '{FORMAT}' AS bank_format, 'line ' || line AS _location
        FROM counted"""


def statements_sql(positions: tuple[int, int]) -> str:
    """One statement per file and account of the staged rows, as ``generic_csv._statements``:
    no balances (not_checkable), the currency when the account's rows have one, dates and
    the exact total of the entries, in order of the account's first row."""
    lo, hi = positions
    return f"""
        SELECT _pos, '' AS statement_id, account,
               CASE WHEN count(DISTINCT upper(currency)) = 1 THEN min(upper(currency)) ELSE '' END
                 AS currency,
               '' AS sequence_number, min(booking_date)::DATE AS from_date,
               max(booking_date)::DATE AS to_date,
               NULL::DECIMAL(38, 6) AS opening_balance, NULL::DECIMAL(38, 6) AS closing_balance,
               sum(CAST(amount AS DECIMAL(38, 6))) AS entries_total, count(*) AS entry_count,
               'not_checkable' AS balance_status, NULL::DECIMAL(38, 6) AS balance_difference,
               '{FORMAT}' AS bank_format
        FROM {TABLE} WHERE _pos BETWEEN {lo} AND {hi}
        GROUP BY _pos, account ORDER BY _pos, min(line)"""
