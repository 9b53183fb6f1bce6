"""The append-only allocation ledger (``recon.allocation_ledger``).

Each night the matcher computes the allocations it wants for every transaction effective on
or before the night's date (a pure function of the inputs, CONTRACT §3). This module compares
them with what the ledger has in force and appends the difference: a reversal entry for each
allocation no longer wanted (or wanted with another amount), then a new allocation entry.
Nothing is ever updated or deleted, so the ledger explains every restatement.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

import duckdb
import pandas as pd

from pipelines.warehouse import MONEY, scalar


@dataclass(frozen=True)
class Allocation:
    transaction_id: str
    invoice_id: str
    amount: Decimal
    currency: str
    effective_date: date
    rule: str
    rule_version: str
    score: float
    evidence: str
    decided_by: str = "matcher"


@dataclass(frozen=True)
class LedgerChange:
    allocations: int
    reversals: int


def append_changes(con: duckdb.DuckDBPyConnection, desired: list[Allocation], run_id: str,
                   as_of: date) -> LedgerChange:
    """Bring the ledger in line with ``desired`` for transactions effective on or before ``as_of``.

    Transactions after ``as_of`` are left alone (a backfill of an earlier night does not
    reverse what later nights decided).
    """
    frame = pd.DataFrame(
        [{
            "transaction_id": a.transaction_id, "invoice_id": a.invoice_id,
            "amount": str(a.amount), "currency": a.currency,
            "effective_date": a.effective_date.isoformat(), "rule": a.rule,
            "rule_version": a.rule_version, "score": a.score, "evidence": a.evidence,
            "decided_by": a.decided_by,
        } for a in desired],
        columns=["transaction_id", "invoice_id", "amount", "currency", "effective_date", "rule",
                 "rule_version", "score", "evidence", "decided_by"],
        dtype=object,
    )
    con.register("_desired_in", frame)
    try:
        con.execute(f"""
            CREATE OR REPLACE TEMP TABLE _desired AS
            SELECT transaction_id, invoice_id, CAST(amount AS {MONEY}) AS amount, currency,
                   CAST(effective_date AS DATE) AS effective_date, rule, rule_version,
                   CAST(score AS DOUBLE) AS score, evidence, decided_by
            FROM _desired_in
        """)
    finally:
        con.unregister("_desired_in")

    # What is in force now, per (transaction, invoice), with the rule of its latest allocation.
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _in_force AS
        WITH sums AS (
            SELECT transaction_id, invoice_id, currency, min(effective_date) AS effective_date,
                   sum(amount) AS amount
            FROM recon.allocation_ledger
            WHERE effective_date <= DATE '{as_of.isoformat()}'
            GROUP BY ALL
            HAVING sum(amount) <> 0
        ), latest AS (
            SELECT transaction_id, invoice_id, rule, rule_version, score, evidence, decided_by
            FROM recon.allocation_ledger
            WHERE event_type = 'allocation'
            QUALIFY row_number() OVER (PARTITION BY transaction_id, invoice_id
                                       ORDER BY event_seq DESC) = 1
        )
        SELECT sums.*, latest.rule, latest.rule_version, latest.score, latest.evidence,
               latest.decided_by
        FROM sums LEFT JOIN latest USING (transaction_id, invoice_id)
    """)
    # Changed = in force but not desired with the same amount, rule and version.
    con.execute("""
        CREATE OR REPLACE TEMP TABLE _to_reverse AS
        SELECT f.* FROM _in_force f
        LEFT JOIN _desired d USING (transaction_id, invoice_id)
        WHERE d.transaction_id IS NULL OR d.amount <> f.amount OR d.rule <> f.rule
           OR d.rule_version <> f.rule_version OR d.decided_by <> f.decided_by
    """)
    con.execute("""
        CREATE OR REPLACE TEMP TABLE _to_allocate AS
        SELECT d.* FROM _desired d
        LEFT JOIN _in_force f USING (transaction_id, invoice_id)
        WHERE f.transaction_id IS NULL
           OR (d.transaction_id, d.invoice_id) IN (SELECT (transaction_id, invoice_id) FROM _to_reverse)
    """)
    now = datetime.now()
    start = scalar(con, "SELECT coalesce(max(event_seq), 0) FROM recon.allocation_ledger")
    con.execute("""
        INSERT INTO recon.allocation_ledger
        SELECT ? + row_number() OVER (ORDER BY effective_date, transaction_id, invoice_id),
               'reversal', ?, ?, ?, transaction_id, invoice_id, -amount, currency, effective_date,
               rule, rule_version, score, evidence, decided_by,
               'restated: the inputs as of ' || ? || ' no longer support this allocation'
        FROM _to_reverse
    """, [start, run_id, as_of, now, as_of.isoformat()])
    reversals = scalar(con, "SELECT count(*) FROM _to_reverse")
    con.execute("""
        INSERT INTO recon.allocation_ledger
        SELECT ? + ? + row_number() OVER (ORDER BY effective_date, transaction_id, invoice_id),
               'allocation', ?, ?, ?, transaction_id, invoice_id, amount, currency, effective_date,
               rule, rule_version, score, evidence, decided_by, NULL
        FROM _to_allocate
    """, [start, reversals, run_id, as_of, now])
    allocations = scalar(con, "SELECT count(*) FROM _to_allocate")
    return LedgerChange(allocations=allocations, reversals=reversals)
