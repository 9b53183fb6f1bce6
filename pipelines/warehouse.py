"""The build database: connection and the tables the Python stages own (raw, audit, recon).

dbt owns the staging, intermediate and marts schemas in the same file. DuckDB allows one
writer at a time, so every stage opens the database, does its work in transactions and
closes it before the next stage (dbt opens it in its own process).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from pipelines.settings import Settings

MONEY_RAW = "DECIMAL(38,6)"
MONEY = "DECIMAL(18,2)"

_LINEAGE = """
    _file_hash VARCHAR NOT NULL,
    _file_seq BIGINT NOT NULL,
    _source_file VARCHAR NOT NULL,
    _line_number BIGINT,
    _run_id VARCHAR NOT NULL,
    _loaded_at TIMESTAMP NOT NULL
"""

BANK_TRANSACTION_COLUMNS = f"""
    transaction_id VARCHAR NOT NULL,
    bank_reference VARCHAR,
    account VARCHAR,
    statement_id VARCHAR,
    sequence_number VARCHAR,
    booking_date DATE,
    value_date DATE,
    effective_date DATE,
    amount {MONEY_RAW},
    currency VARCHAR,
    counterparty_name VARCHAR,
    counterparty_account VARCHAR,
    remittance_info VARCHAR,
    structured_reference VARCHAR,
    end_to_end_id VARCHAR,
    is_reversal BOOLEAN,
    reversal_of VARCHAR,
    return_reason VARCHAR,
    source_file VARCHAR,
    bank_format VARCHAR,
    _location VARCHAR,
"""

AUDIT_DDL = f"""
CREATE SCHEMA IF NOT EXISTS raw;
CREATE SCHEMA IF NOT EXISTS audit;
CREATE SCHEMA IF NOT EXISTS recon;

CREATE TABLE IF NOT EXISTS audit.files (
    file_hash VARCHAR PRIMARY KEY,
    file_seq BIGINT NOT NULL,
    file_name VARCHAR NOT NULL,
    relative_path VARCHAR NOT NULL,
    kind VARCHAR NOT NULL,
    size_bytes BIGINT,
    status VARCHAR NOT NULL,          -- loaded | quarantined
    rows_in BIGINT NOT NULL,
    rows_loaded BIGINT NOT NULL,
    rows_rejected BIGINT NOT NULL,
    rows_duplicate BIGINT NOT NULL,   -- bank transactions already known by transaction_id
    reason VARCHAR,
    run_id VARCHAR NOT NULL,
    loaded_at TIMESTAMP NOT NULL
);

CREATE TABLE IF NOT EXISTS audit.file_sightings (
    file_hash VARCHAR NOT NULL,
    relative_path VARCHAR NOT NULL,
    run_id VARCHAR NOT NULL,
    seen_at TIMESTAMP NOT NULL
);

-- The content hash of each inbox file as last read, with its size and modification time
-- (pipelines/ingest/files.py): a file with the same path, size and time is not read again
-- to hash it.
CREATE TABLE IF NOT EXISTS audit.inbox_hashes (
    path VARCHAR PRIMARY KEY,         -- absolute
    size_bytes BIGINT NOT NULL,
    mtime_ns BIGINT NOT NULL,
    file_hash VARCHAR NOT NULL
);

CREATE TABLE IF NOT EXISTS audit.rejects (
    run_id VARCHAR NOT NULL,
    file_hash VARCHAR NOT NULL,
    source_file VARCHAR NOT NULL,
    entity VARCHAR NOT NULL,
    line_number BIGINT,
    location VARCHAR,
    reason VARCHAR NOT NULL,
    raw_record VARCHAR,
    rejected_at TIMESTAMP NOT NULL
);

CREATE TABLE IF NOT EXISTS audit.runs (
    run_id VARCHAR PRIMARY KEY,
    as_of_date DATE NOT NULL,
    started_at TIMESTAMP NOT NULL,
    finished_at TIMESTAMP,
    status VARCHAR NOT NULL,          -- running | published | not_published | failed
    reason VARCHAR
);

-- What each incremental dbt model read last (dbt_project/macros/incremental.sql reads and
-- writes it); created here, before any dbt invocation of the pipeline (transform/dbt.py).
CREATE TABLE IF NOT EXISTS audit.dbt_watermarks (
    model VARCHAR NOT NULL,
    name VARCHAR NOT NULL,
    value VARCHAR,
    saved_at TIMESTAMP NOT NULL,
    PRIMARY KEY (model, name)
);

-- The keys whose rows the keyed incremental dbt models recomputed since the last publish (a
-- NULL key: every row). Publishing applies only those rows to a copy of the published file,
-- then clears them (pipelines/publish.py).
CREATE TABLE IF NOT EXISTS audit.unpublished_keys (
    model VARCHAR NOT NULL,
    key VARCHAR,
    logged_at TIMESTAMP NOT NULL
);

-- The builds of those models since the last publish, and whether each recomputed every row:
-- while none did, their generic dbt tests check only the logged keys (dbt_project/macros/
-- test_scope.sql). Publishing clears them with the keys.
CREATE TABLE IF NOT EXISTS audit.unpublished_builds (
    model VARCHAR NOT NULL,
    full_rebuild BOOLEAN NOT NULL,
    logged_at TIMESTAMP NOT NULL
);

-- What the published file holds (one row, written after each publish): the next publish
-- starts from a copy of it only when the file is still exactly that one.
CREATE TABLE IF NOT EXISTS audit.published_state (
    run_id VARCHAR NOT NULL,
    as_of_date DATE NOT NULL,
    published_at TIMESTAMP NOT NULL,
    file_identity VARCHAR NOT NULL,   -- inode, size and modification time of ar.duckdb
    full_copy_bytes BIGINT NOT NULL,  -- the file's size after the last full copy
    settings VARCHAR NOT NULL,        -- DuckDB version and masking (with the salt's digest)
    how VARCHAR NOT NULL              -- full copy (why), or what was brought up to date
);

-- The alert outbox (pipelines/alerts): every alert, and where it has been delivered.
CREATE TABLE IF NOT EXISTS audit.alerts (
    alert_id VARCHAR PRIMARY KEY,
    run_id VARCHAR,
    created_at TIMESTAMP NOT NULL,
    kind VARCHAR NOT NULL,
    severity VARCHAR NOT NULL,        -- error | warning | info
    subject VARCHAR NOT NULL,
    body VARCHAR,
    status VARCHAR NOT NULL           -- recorded | sent | pending | suppressed
);
-- Columns added by the alerts issue (ADD ... IF NOT EXISTS: older warehouses gain them).
ALTER TABLE audit.alerts ADD COLUMN IF NOT EXISTS as_of_date DATE;
ALTER TABLE audit.alerts ADD COLUMN IF NOT EXISTS fingerprint VARCHAR;  -- kind + subject + facts
ALTER TABLE audit.alerts ADD COLUMN IF NOT EXISTS facts VARCHAR;        -- JSON
ALTER TABLE audit.alerts ADD COLUMN IF NOT EXISTS webhook_status VARCHAR;  -- sent | pending | off
ALTER TABLE audit.alerts ADD COLUMN IF NOT EXISTS email_status VARCHAR;    -- sent | pending | off
ALTER TABLE audit.alerts ADD COLUMN IF NOT EXISTS attempts INTEGER;
ALTER TABLE audit.alerts ADD COLUMN IF NOT EXISTS last_attempt_at TIMESTAMP;
ALTER TABLE audit.alerts ADD COLUMN IF NOT EXISTS last_error VARCHAR;
ALTER TABLE audit.alerts ADD COLUMN IF NOT EXISTS sent_at TIMESTAMP;

CREATE TABLE IF NOT EXISTS raw.bank_transactions (
    {BANK_TRANSACTION_COLUMNS}
    {_LINEAGE}
);

CREATE TABLE IF NOT EXISTS raw.bank_statements (
    statement_id VARCHAR,
    account VARCHAR,
    currency VARCHAR,
    sequence_number VARCHAR,
    from_date DATE,
    to_date DATE,
    opening_balance {MONEY_RAW},
    closing_balance {MONEY_RAW},
    entries_total {MONEY_RAW},
    entry_count BIGINT,
    balance_status VARCHAR,
    balance_difference {MONEY_RAW},
    bank_format VARCHAR,
    {_LINEAGE}
);

CREATE TABLE IF NOT EXISTS recon.allocation_ledger (
    event_seq BIGINT NOT NULL,
    event_type VARCHAR NOT NULL,       -- allocation | reversal
    kind VARCHAR NOT NULL,             -- allocation | bank_fee | small_balance_write_off | manual_write_off
    run_id VARCHAR NOT NULL,
    as_of_date DATE NOT NULL,
    recorded_at TIMESTAMP NOT NULL,
    transaction_id VARCHAR NOT NULL,
    invoice_id VARCHAR NOT NULL,
    amount {MONEY} NOT NULL,           -- signed: a reversal is negative
    currency VARCHAR NOT NULL,
    effective_date DATE NOT NULL,
    rule VARCHAR NOT NULL,
    rule_version VARCHAR NOT NULL,
    score DOUBLE NOT NULL,
    evidence VARCHAR,
    decided_by VARCHAR NOT NULL,
    reason VARCHAR
);

-- What the matcher concluded for each receipt, per night (replaced for the night's date).
CREATE TABLE IF NOT EXISTS recon.receipt_outcomes (
    as_of_date DATE NOT NULL,
    run_id VARCHAR NOT NULL,
    transaction_id VARCHAR NOT NULL,
    payer_customer_id VARCHAR,
    payer_evidence VARCHAR,
    outcome VARCHAR NOT NULL,          -- allocated | on_account | exception | not_ar | returned
    reason_code VARCHAR,
    candidates VARCHAR                 -- invoice numbers, `;`-separated
);

-- The first night the matcher left each receipt as an exception, kept for good (the nights'
-- outcomes above are kept only ARW_OUTCOME_HISTORY_DAYS): fct_reconciliation_exceptions'
-- first_seen_date. Filled from the kept outcomes the first time (store_outcomes).
CREATE TABLE IF NOT EXISTS recon.exception_first_seen (
    transaction_id VARCHAR NOT NULL,
    first_seen_date DATE NOT NULL
);

-- Where the matcher may resume (pipelines/reconcile/night.py): the last night walked, with a
-- fingerprint of what its walk read (undated inputs here, dated ones per day below), the
-- payer accounts it had learned and every return of a receipt it saw. One night's worth.
CREATE TABLE IF NOT EXISTS recon.matcher_checkpoint (
    as_of_date DATE NOT NULL,
    run_id VARCHAR NOT NULL,
    fingerprint VARCHAR NOT NULL,      -- JSON: matcher settings and code
    outcomes BIGINT NOT NULL,          -- the night's rows in recon.receipt_outcomes
    walk VARCHAR NOT NULL,             -- resumed after which day, or a full walk, and why
    walked BIGINT NOT NULL             -- payments the night's walk decided
);
-- A night walked in several slices commits each slice as it goes (DuckDB frees a transaction's
-- replaced temporary tables only at its commit: ~2.5 GB a slice at 10M invoices); this row says
-- such a night started and did not finish. The next night then walks in full (night.plan).
CREATE TABLE IF NOT EXISTS recon.matcher_unfinished (
    as_of_date DATE NOT NULL,
    run_id VARCHAR NOT NULL,
    started_at TIMESTAMP NOT NULL
);
CREATE TABLE IF NOT EXISTS recon.matcher_checkpoint_days (
    input VARCHAR NOT NULL,            -- bank transactions | invoices | credit notes | decisions
    day DATE NOT NULL,
    row_count BIGINT NOT NULL,
    hash_sum HUGEINT NOT NULL
);
CREATE TABLE IF NOT EXISTS recon.matcher_checkpoint_customers (
    customer_id VARCHAR,               -- what the matcher read of each customer
    name VARCHAR,
    aliases VARCHAR,
    bank_accounts VARCHAR
);
CREATE TABLE IF NOT EXISTS recon.learned_accounts (
    account_key VARCHAR NOT NULL,
    customer_id VARCHAR NOT NULL,
    learned_on DATE NOT NULL
);
CREATE TABLE IF NOT EXISTS recon.receipt_returns (
    transaction_id VARCHAR NOT NULL,   -- the receipt sent back
    return_transaction_id VARCHAR NOT NULL,
    returned_on DATE NOT NULL,
    reason VARCHAR,
    outcome_before VARCHAR,            -- the receipt's outcome and reason before this return
    reason_before VARCHAR
);
"""


def raw_lineage_columns() -> str:
    return _LINEAGE


def duckdb_config(settings: Settings) -> dict:
    """The DuckDB limits every connection of the pipeline opens with (ARW_DUCKDB_THREADS,
    ARW_DUCKDB_MEMORY_LIMIT; dbt's connection gets them through dbt_project/profiles.yml)."""
    return {"threads": settings.duckdb_threads, "memory_limit": settings.duckdb_memory_limit}


def open_read_only(path: Path, settings: Settings | None = None) -> duckdb.DuckDBPyConnection:
    """A read-only connection to a warehouse file (the published one, or the build database
    for the docs) with the configured limits (from the environment when no settings given)."""
    return duckdb.connect(str(path), read_only=True,
                          config=duckdb_config(settings or Settings.from_env()))


@contextmanager
def connect(settings: Settings, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
    """Open the build database with the configured threads and memory limit."""
    settings.warehouse_dir.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(settings.build_db), read_only=read_only, config=duckdb_config(settings))
    con.execute("SET enable_progress_bar = false")
    try:
        yield con
    finally:
        con.close()


def ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Create the Python-owned schemas and tables (idempotent)."""
    from pipelines.ingest.erp import erp_table_ddl

    con.execute(AUDIT_DDL)
    for ddl in erp_table_ddl():
        con.execute(ddl)


@contextmanager
def registered(con: duckdb.DuckDBPyConnection, **relations) -> Iterator[None]:
    """Python data (Arrow tables, DataFrames) readable in SQL under the given names, for the
    statements inside the block; unregistered after it, also on error."""
    for name, data in relations.items():
        con.register(name, data)
    try:
        yield
    finally:
        for name in relations:
            con.unregister(name)


def scalar(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None):
    """The first value of the first row (the result is read to the end, as DuckDB 2 requires)."""
    return one_row(con, sql, params)[0]


def one_row(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> tuple:
    rows = con.execute(sql, params or []).fetchall()
    return rows[0] if rows else (None,)
