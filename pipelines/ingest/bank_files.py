"""Bank statement files into ``raw.bank_transactions`` and ``raw.bank_statements``.

Each new file (by content hash) is parsed by the reader its content calls for
(``pipelines.ingest.bank.dispatch``). In one transaction per file: transactions whose
``transaction_id`` is already stored are counted as duplicates and not stored again (a
re-sent file, an overlapping month, an intraday report followed by the day's statement);
rejected rows go to ``audit.rejects``; the statements with their balance check go to
``raw.bank_statements``; the file is registered. rows in = loaded + duplicate + rejected.
A file no reader can read is quarantined with the reader's reason.
"""

from __future__ import annotations

import contextlib
import json
import logging
from datetime import datetime

import duckdb
import pandas as pd

from pipelines.ingest.bank.common import format_decimal
from pipelines.ingest.bank.records import TRANSACTION_FIELDS, ParseResult, UnreadableFile
from pipelines.ingest.erp import LoadStats
from pipelines.ingest.files import (
    InboxFile,
    list_inbox,
    new_files,
    next_file_seq,
    quarantine,
    register_file,
)
from pipelines.settings import Settings
from pipelines.warehouse import MONEY_RAW, scalar

log = logging.getLogger("arw.ingest")

BANK_PATTERNS = ("**/*",)


def _text(value: object) -> str | None:
    if value is None:
        return None
    if hasattr(value, "as_tuple"):
        return format_decimal(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def _frame(result: ParseResult) -> pd.DataFrame:
    rows = []
    for t in result.loaded:
        row = {
            name: _text(getattr(t, name)) for name in TRANSACTION_FIELDS if name != "reject_reason"
        }
        row["effective_date"] = _text(t.effective_date)
        row["is_reversal"] = "true" if t.is_reversal else "false"
        row["bank_format"] = result.format
        row["_location"] = t.location
        rows.append(row)
    columns = [n for n in TRANSACTION_FIELDS if n != "reject_reason"] + ["bank_format", "_location"]
    return pd.DataFrame(rows, columns=columns, dtype=object)


def _statements_frame(result: ParseResult) -> pd.DataFrame:
    rows = [
        {
            "statement_id": s.statement_id,
            "account": s.account,
            "currency": s.currency,
            "sequence_number": s.sequence_number,
            "from_date": _text(s.from_date),
            "to_date": _text(s.to_date),
            "opening_balance": _text(s.opening_balance),
            "closing_balance": _text(s.closing_balance),
            "entries_total": _text(s.entries_total),
            "entry_count": s.entry_count,
            "balance_status": s.balance_status,
            "balance_difference": _text(s.balance_difference),
            "bank_format": result.format,
        }
        for s in result.statements
    ]
    return pd.DataFrame(
        rows,
        columns=[
            "statement_id",
            "account",
            "currency",
            "sequence_number",
            "from_date",
            "to_date",
            "opening_balance",
            "closing_balance",
            "entries_total",
            "entry_count",
            "balance_status",
            "balance_difference",
            "bank_format",
        ],
        dtype=object,
    )


def load_bank_file(
    con: duckdb.DuckDBPyConnection, settings: Settings, f: InboxFile, run_id: str
) -> LoadStats:
    stats = LoadStats()
    from pipelines.ingest.bank.dispatch import parse_file

    file_seq = next_file_seq(con)
    try:
        # camt is streamed from disk; reasons and lineage name the inbox path, bank/<file>
        result = parse_file(
            f.path, profile_dirs=settings.bank_profile_dirs, source_file=f.relative_path
        )
    except UnreadableFile as exc:
        reason = exc.reason
        quarantine(settings, f, reason)
        register_file(con, f, file_seq, "bank", "quarantined", run_id, reason=reason)
        stats.files_quarantined += 1
        stats.messages.append(f"quarantined {f.relative_path}: {reason}")
        log.warning("quarantined %s: %s", f.relative_path, reason)
        return stats

    now = datetime.now()
    lineage = [f.file_hash, file_seq, f.relative_path, run_id, now]
    frame = _frame(result)
    statements = _statements_frame(result)
    con.execute("BEGIN TRANSACTION")
    try:
        con.register("_bank_in", frame)
        # one row per transaction_id: the first occurrence in the file wins
        con.execute("""
            CREATE OR REPLACE TEMP TABLE _bank_new AS
            SELECT * FROM _bank_in
            WHERE transaction_id NOT IN (SELECT transaction_id FROM raw.bank_transactions)
            QUALIFY row_number() OVER (PARTITION BY transaction_id ORDER BY _location) = 1
        """)
        con.execute(
            f"""
            INSERT INTO raw.bank_transactions
            SELECT transaction_id, bank_reference, account, statement_id, sequence_number,
                   CAST(booking_date AS DATE), CAST(value_date AS DATE), CAST(effective_date AS DATE),
                   CAST(amount AS {MONEY_RAW}), currency, counterparty_name, counterparty_account,
                   remittance_info, structured_reference, end_to_end_id,
                   CAST(is_reversal AS BOOLEAN), reversal_of, return_reason, ?, bank_format, _location,
                   ?, ?, ?, NULL, ?, ?
            FROM _bank_new
        """,
            [f.relative_path, *lineage],
        )
        loaded = scalar(con, "SELECT count(*) FROM _bank_new")
        con.register("_stmt_in", statements)
        con.execute(
            f"""
            INSERT INTO raw.bank_statements
            SELECT statement_id, account, currency, sequence_number, CAST(from_date AS DATE),
                   CAST(to_date AS DATE), CAST(opening_balance AS {MONEY_RAW}),
                   CAST(closing_balance AS {MONEY_RAW}), CAST(entries_total AS {MONEY_RAW}),
                   CAST(entry_count AS BIGINT), balance_status,
                   CAST(balance_difference AS {MONEY_RAW}), bank_format, ?, ?, ?, NULL, ?, ?
            FROM _stmt_in
        """,
            lineage,
        )
        rejected = result.rejected
        if rejected:
            con.executemany(
                "INSERT INTO audit.rejects VALUES (?, ?, ?, 'bank', NULL, ?, ?, ?, ?)",
                [
                    [
                        run_id,
                        f.file_hash,
                        f.relative_path,
                        t.location,
                        t.reject_reason,
                        json.dumps({k: _text(v) for k, v in t.as_row().items()}),
                        now,
                    ]
                    for t in rejected
                ],
            )
        rows_in = len(result.transactions)
        duplicates = len(frame) - loaded
        register_file(
            con,
            f,
            file_seq,
            "bank",
            "loaded",
            run_id,
            rows_in=rows_in,
            rows_loaded=loaded,
            rows_rejected=len(rejected),
            rows_duplicate=duplicates,
        )
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    finally:
        for name in ("_bank_in", "_stmt_in"):
            with contextlib.suppress(Exception):  # not registered when an early step failed
                con.unregister(name)
    stats.files_loaded += 1
    stats.rows_in += len(result.transactions)
    stats.rows_loaded += loaded
    stats.rows_rejected += len(result.rejected)
    if result.rejected:
        stats.messages.append(
            f"{f.relative_path}: {len(result.rejected)} of {len(result.transactions)} rows rejected"
        )
    return stats


_BATCH_FILES = "_bank_batch_files"
# Generic-CSV rows staged and loaded together at most (more files are loaded in several
# batches; each batch reads the stored ids once).
BATCH_ROWS = 2_000_000


def _load_batch(con: duckdb.DuckDBPyConnection, batch: list[tuple[int, InboxFile, int]],
                run_id: str) -> LoadStats:
    """Load consecutive generic-CSV files staged by ``generic_csv_sql.stage_all`` (positions
    ``pos``, with their rows) in one transaction and one pass, with exactly the outcome of
    loading them one after the other: a transaction_id already stored, or seen earlier in the
    batch (an earlier file, an earlier line), is a duplicate. One anti-join against
    raw.bank_transactions per batch instead of one per file: at 10 million stored
    transactions each pass reads every stored id."""
    from pipelines.ingest.bank import generic_csv_sql

    first_seq = next_file_seq(con)
    positions = (batch[0][0], batch[-1][0])
    now = datetime.now()
    files = pd.DataFrame({
        "_pos": [pos for pos, _, _ in batch], "file_hash": [f.file_hash for _, f, _ in batch],
        "file_seq": [first_seq + i for i in range(len(batch))],
        "relative_path": [f.relative_path for _, f, _ in batch]})
    con.register("_bank_batch_files_df", files)
    con.execute(f"CREATE OR REPLACE TEMP TABLE {_BATCH_FILES} AS SELECT * FROM _bank_batch_files_df")
    con.unregister("_bank_batch_files_df")
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(
            f"""
            INSERT INTO raw.bank_transactions
            WITH batch AS MATERIALIZED ({generic_csv_sql.rows_sql(positions)})
            SELECT t.transaction_id, bank_reference, account, statement_id, sequence_number,
                   booking_date, value_date, effective_date, amount, currency, counterparty_name,
                   counterparty_account, remittance_info, structured_reference, end_to_end_id,
                   is_reversal, reversal_of, return_reason, f.relative_path, bank_format, _location,
                   f.file_hash, f.file_seq, f.relative_path, NULL, ?, ?
            FROM batch t JOIN {_BATCH_FILES} f USING (_pos)
            -- an id twice in the batch: its first occurrence (a group-by finds the few; a
            -- window over every row would sort them all)
            LEFT JOIN (SELECT transaction_id, min(_pos * 10000000000 + line) AS first_key
                       FROM batch GROUP BY ALL HAVING count(*) > 1) twice USING (transaction_id)
            WHERE NOT EXISTS (SELECT 1 FROM raw.bank_transactions r
                              WHERE r.transaction_id = t.transaction_id)
              AND (twice.first_key IS NULL OR twice.first_key = _pos * 10000000000 + line)
            ORDER BY _pos, line
            """,
            [run_id, now],
        )
        con.execute(
            f"""
            INSERT INTO raw.bank_statements
            SELECT s.* EXCLUDE (_pos), f.file_hash, f.file_seq, f.relative_path, NULL, ?, ?
            FROM ({generic_csv_sql.statements_sql(positions)}) s JOIN {_BATCH_FILES} f USING (_pos)
            ORDER BY _pos
            """,
            [run_id, now],
        )
        loaded = dict(con.execute(
            f"SELECT _file_seq, count(*) FROM raw.bank_transactions "
            f"WHERE _file_seq BETWEEN {first_seq} AND {first_seq + len(batch) - 1} GROUP BY ALL"
        ).fetchall())
        stats = LoadStats()
        for i, (_, f, rows_in) in enumerate(batch):
            n = loaded.get(first_seq + i, 0)
            register_file(con, f, first_seq + i, "bank", "loaded", run_id, rows_in=rows_in,
                          rows_loaded=n, rows_rejected=0, rows_duplicate=rows_in - n)
            stats.add(LoadStats(files_loaded=1, rows_in=rows_in, rows_loaded=n))
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    finally:
        con.execute(f"DROP TABLE IF EXISTS {_BATCH_FILES}")
    return stats


def ingest_bank(con: duckdb.DuckDBPyConnection, settings: Settings, run_id: str) -> LoadStats:
    """Take in every new bank file, in name order. Clean generic-layout CSV files are read by
    DuckDB (``generic_csv_sql``: the same rows, ids and statements as the Python reader,
    without a Python object per row), consecutive ones together, and loaded together
    (``_load_batch``); every other file is parsed by its reader and loaded on its own
    (``load_bank_file``). Either way a file's rows commit with its registry entry."""
    from pipelines.ingest.bank import generic_csv_sql

    stats = LoadStats()
    paths = list_inbox(settings.inbox, "bank", BANK_PATTERNS)
    fresh = new_files(con, settings, paths, run_id)
    stats.files_skipped = len(paths) - len(fresh)
    generic_csv_sql.drop(con)
    candidates = [generic_csv_sql.candidate(f.path, pos) for pos, f in enumerate(fresh)]
    start = 0
    try:
        # Chunks of consecutive files of at most BATCH_ROWS rows (a single larger file alone):
        # staged, then loaded in order, then dropped, so memory stays bounded at any size.
        while start < len(fresh):
            end, rows = start, 0
            while end < len(fresh) and (end == start or rows + (candidates[end].lines if candidates[end]
                                                                  else 0) <= BATCH_ROWS):
                rows += candidates[end].lines if candidates[end] else 0
                end += 1
            chunk = [c for c in candidates[start:end] if c is not None]
            staged = generic_csv_sql.stage_all(con, chunk) if chunk else {}
            batch: list[tuple[int, InboxFile, int]] = []
            for pos in range(start, end):
                if pos in staged:
                    batch.append((pos, fresh[pos], staged[pos]))
                    continue
                if batch:
                    stats.add(_load_batch(con, batch, run_id))
                    batch = []
                stats.add(load_bank_file(con, settings, fresh[pos], run_id))
            if batch:
                stats.add(_load_batch(con, batch, run_id))
            generic_csv_sql.drop(con)
            start = end
    finally:
        generic_csv_sql.drop(con)
    return stats
