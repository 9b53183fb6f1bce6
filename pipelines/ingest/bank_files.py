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


def ingest_bank(con: duckdb.DuckDBPyConnection, settings: Settings, run_id: str) -> LoadStats:
    stats = LoadStats()
    paths = list_inbox(settings.inbox, "bank", BANK_PATTERNS)
    fresh = new_files(con, settings, paths, run_id)
    stats.files_skipped = len(paths) - len(fresh)
    for f in fresh:
        stats.add(load_bank_file(con, settings, f, run_id))
    return stats
