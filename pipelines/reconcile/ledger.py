"""The append-only allocation ledger (``recon.allocation_ledger``).

Each night the matcher computes the entries it wants for every transaction effective on or
before the night's date (a pure function of the inputs, CONTRACT §3). An entry is keyed by
(transaction, invoice, kind, effective date, rule): an allocation, its return at a later
date, a fee adjustment. This module compares them with what the ledger has in force and
appends the difference: a reversal event for each entry no longer wanted (or wanted with
another amount or decision), then the new entry. Nothing is ever updated or deleted, so the
ledger explains every restatement.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

import duckdb
import pyarrow as pa

from pipelines.warehouse import MONEY, registered, scalar


# Not frozen: a frozen dataclass sets each field through object.__setattr__, 5x the cost of
# making one, and the matcher makes one per entry (a million a night at 1M invoices). Nothing
# changes an entry once made.
@dataclass(slots=True)
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
    # allocation (cash applied) or an adjustment: bank_fee, small_balance_write_off, manual_write_off
    kind: str = "allocation"


_DESIRED_SCHEMA = pa.schema([
    ("transaction_id", pa.string()), ("invoice_id", pa.string()), ("amount", pa.string()),
    ("currency", pa.string()), ("effective_date", pa.date32()), ("rule", pa.string()),
    ("rule_version", pa.string()), ("score", pa.float64()), ("evidence", pa.string()),
    ("decided_by", pa.string()), ("kind", pa.string()),
])


@dataclass(frozen=True)
class LedgerChange:
    allocations: int
    reversals: int


def _desired_table(desired: list[Allocation]) -> pa.Table:
    return pa.table({
        "transaction_id": [a.transaction_id for a in desired],
        "invoice_id": [a.invoice_id for a in desired],
        "amount": [str(a.amount) for a in desired],
        "currency": [a.currency for a in desired],
        "effective_date": [a.effective_date for a in desired],
        "rule": [a.rule for a in desired],
        "rule_version": [a.rule_version for a in desired],
        "score": [float(a.score) for a in desired],
        "evidence": [a.evidence for a in desired],
        "decided_by": [a.decided_by for a in desired],
        "kind": [a.kind for a in desired],
    }, schema=_DESIRED_SCHEMA)


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector: the matcher makes millions of small objects and
    no cycles, and each full collection would scan them all again (a third of the walk)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def append_changes(con: duckdb.DuckDBPyConnection, desired: list[Allocation], run_id: str,
                   as_of: date, since: date | None = None, night: date | None = None) -> LedgerChange:
    """Bring the ledger in line with ``desired`` for entries effective on or before ``as_of``
    (and after ``since``, when given: a resumed walk wants only entries after it). The events
    record ``night`` (default ``as_of``) as the night that wrote them: a night walked in
    slices writes each slice with its own ``as_of``.

    Entries after ``as_of`` are left alone (a backfill of an earlier night does not
    reverse what later nights decided).
    """
    with gc_paused():
        frame = _desired_table(desired)
    # One entry per key: the few keys wanted more than once are summed (their evidence joined);
    # grouping every entry took most of this step (~4 s of 5 at 1M entries).
    key = "transaction_id, invoice_id, kind, effective_date, rule"
    with registered(con, _desired_in=frame):
        con.execute(f"""
            CREATE OR REPLACE TEMP TABLE _desired AS
            WITH d AS (
                SELECT transaction_id, invoice_id, kind, CAST(effective_date AS DATE) AS effective_date, rule,
                       CAST(amount AS {MONEY}) AS amount, currency, rule_version, CAST(score AS DOUBLE) AS score,
                       evidence, decided_by
                FROM _desired_in
            ),
            repeated AS (SELECT {key} FROM d GROUP BY ALL HAVING count(*) > 1)
            SELECT * FROM d ANTI JOIN repeated USING ({key}) WHERE amount <> 0
            UNION ALL
            SELECT {key}, sum(amount), any_value(currency), any_value(rule_version), max(score),
                   string_agg(evidence, ' | ' ORDER BY evidence), any_value(decided_by)
            FROM d SEMI JOIN repeated USING ({key})
            GROUP BY ALL HAVING sum(amount) <> 0
        """)

    # What is in force now, per entry key, with the details of its latest allocation event.
    after = "" if since is None else f" AND effective_date > DATE '{since.isoformat()}'"
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _in_force AS
        SELECT {key}, any_value(currency) AS currency, sum(amount) AS amount,
               arg_max(rule_version, event_seq) FILTER (WHERE event_type = 'allocation') AS rule_version,
               arg_max(score, event_seq) FILTER (WHERE event_type = 'allocation') AS score,
               arg_max(evidence, event_seq) FILTER (WHERE event_type = 'allocation') AS evidence,
               arg_max(decided_by, event_seq) FILTER (WHERE event_type = 'allocation') AS decided_by
        FROM recon.allocation_ledger
        WHERE effective_date <= DATE '{as_of.isoformat()}'{after}
        GROUP BY {key}
        HAVING sum(amount) <> 0
    """)
    # Changed = in force but not wanted with the same amount, version and decider.
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _to_reverse AS
        SELECT f.* FROM _in_force f
        LEFT JOIN _desired d USING ({key})
        WHERE d.transaction_id IS NULL OR d.amount <> f.amount
           OR d.rule_version <> f.rule_version OR d.decided_by <> f.decided_by
    """)
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _to_allocate AS
        SELECT d.* FROM _desired d
        LEFT JOIN _in_force f USING ({key})
        WHERE f.transaction_id IS NULL
           OR ({key}) IN (SELECT ({key}) FROM _to_reverse)
    """)
    now = datetime.now()
    start = scalar(con, "SELECT coalesce(max(event_seq), 0) FROM recon.allocation_ledger")
    con.execute("""
        INSERT INTO recon.allocation_ledger
        SELECT ? + row_number() OVER (ORDER BY effective_date, transaction_id, invoice_id, kind, rule),
               'reversal', kind, ?, ?, ?, transaction_id, invoice_id, -amount, currency, effective_date,
               rule, rule_version, score, evidence, decided_by,
               'restated: the inputs as of ' || ? || ' no longer support this allocation'
        FROM _to_reverse
    """, [start, run_id, night or as_of, now, (night or as_of).isoformat()])
    reversals = scalar(con, "SELECT count(*) FROM _to_reverse")
    con.execute("""
        INSERT INTO recon.allocation_ledger
        SELECT ? + ? + row_number() OVER (ORDER BY effective_date, transaction_id, invoice_id, kind, rule),
               'allocation', kind, ?, ?, ?, transaction_id, invoice_id, amount, currency, effective_date,
               rule, rule_version, score, evidence, decided_by, NULL
        FROM _to_allocate
    """, [start, reversals, run_id, night or as_of, now])
    allocations = scalar(con, "SELECT count(*) FROM _to_allocate")
    return LedgerChange(allocations=allocations, reversals=reversals)
