"""One night of cash application: walk (resumed when it may be), then write the ledger's
changes, the receipts' outcomes and the checkpoint in one transaction.

The walk up to a date D is a pure function of what it reads: the bank transactions effective
on or before D, the invoices issued and the credit notes dated on or before D, the customers,
the decisions about those transactions, the matcher's settings and its code. Each night
stores a fingerprint of each of them (a row count and a sum of row hashes, over exactly the
columns the matcher reads) as of its own date, in ``recon.matcher_checkpoint``. The next
night computes the same fingerprint as of D over its own inputs:

- all equal, and the night is after D → the walk resumes after D (``matcher.Resume``): only
  the transactions after D are walked, from the state the ledger and the checkpoint keep;
- anything else (no checkpoint, a backfill, a statement or invoice that arrived late, a new
  decision about an earlier payment, other settings, another version of the matcher, the
  last night's outcomes no longer kept) → the full walk over all history, as on a first night.

Either way the ledger and the outcomes are those of a full walk
(``tests/e2e/test_matcher_resume.py``). The reason for the choice is in the night's summary.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa

from pipelines.reconcile.ledger import LedgerChange, append_changes
from pipelines.reconcile.matcher import MatchResult, Resume, match
from pipelines.settings import MatcherSettings

# input → (table, the date column that puts a row on or before a night, the columns the matcher reads)
_INPUTS = {
    "bank transactions": (
        "staging.stg_bank__transactions", "effective_date",
        "transaction_id, bank_reference, effective_date, amount, currency, counterparty_name, "
        "counterparty_account, remittance_info, structured_reference, end_to_end_id, is_reversal, "
        "reversal_of, return_reason"),
    "invoices": (
        "staging.stg_erp__invoices", "issue_date",
        "invoice_id, invoice_number, customer_id, currency, issue_date, due_date, amount, status"),
    "credit notes": ("staging.stg_erp__credit_notes", "issue_date", "credit_note_id, invoice_id, issue_date, amount"),
    "customers": ("staging.stg_erp__customers", None, "customer_id, name, aliases, bank_accounts"),
}
# decisions about the transactions on or before the night (by id, or by bank reference)
_DECISIONS = """
    SELECT count(*), coalesce(sum(hash(transaction_id, bank_reference, action, invoice_number, invoice_id,
                                       amount, currency, decided_by, decided_at, note, file_seq,
                                       line_number)::HUGEINT), 0)
    FROM staging.stg_manual__decisions
    WHERE transaction_id IN (SELECT transaction_id FROM staging.stg_bank__transactions WHERE effective_date <= $1)
       OR (transaction_id IS NULL AND bank_reference IN (
           SELECT bank_reference FROM staging.stg_bank__transactions WHERE effective_date <= $1))
"""
# settings that do not change what the walk decides
_NOT_DECIDING = {"outcome_history_days", "resume", "slice_transactions"}


def _code_hash() -> str:
    digest = hashlib.sha256()
    for path in sorted(Path(__file__).parent.glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def fingerprints(con: duckdb.DuckDBPyConnection, days: list[date], config: MatcherSettings) -> dict[date, dict]:
    """The fingerprint of the walk up to each of ``days``: per input, its row count and sum of
    row hashes (one pass over each table for all the days)."""
    prints: dict[date, dict] = {day: {} for day in days}
    for name, (table, column, columns) in _INPUTS.items():
        aggregates = []
        for i in range(len(days)):
            within = f" FILTER (WHERE {column} <= ${i + 1})" if column else ""
            aggregates.append(f"count(*){within}, coalesce(sum(h){within}, 0)")
        dated = f"{column}, " if column else ""
        row = con.execute(f"SELECT {', '.join(aggregates)} FROM (SELECT {dated}hash({columns})::HUGEINT AS h "
                          f"FROM {table})", days if column else []).fetchone()
        for i, day in enumerate(days):
            prints[day][name] = f"{row[2 * i]}:{row[2 * i + 1]}"
    settings = {k: str(v) for k, v in asdict(config).items() if k not in _NOT_DECIDING}
    code = _code_hash()
    for day in days:
        count, total = con.execute(_DECISIONS, [day]).fetchone()
        prints[day]["decisions"] = f"{count}:{total}"
        prints[day]["matcher settings"] = json.dumps(settings, sort_keys=True)
        prints[day]["matcher code"] = code
    return prints


@dataclass(frozen=True)
class Plan:
    after: date | None  # resume after this night, or walk all history
    learned_accounts: dict[str, str]
    why: str  # said in the night's summary
    fingerprint: dict  # as of the night being run: stored for the next


def plan(con: duckdb.DuckDBPyConnection, as_of: date, config: MatcherSettings) -> Plan:
    """Resume after the last night walked, or walk all history (and why)."""
    last = con.execute("SELECT as_of_date, fingerprint, outcomes FROM recon.matcher_checkpoint").fetchone()
    after = last[0] if last and last[0] < as_of else None
    prints = fingerprints(con, [as_of] + ([after] if after else []), config)

    def full(why: str) -> Plan:
        return Plan(None, {}, f"full walk: {why}", prints[as_of])

    if not config.resume:
        return full("resuming is switched off (ARW_MATCHER_RESUME)")
    if last is None:
        return full("no earlier night to resume after")
    if after is None:
        return full(f"the night is not after the last one walked ({last[0]})")
    stored, now = json.loads(last[1]), prints[after]
    changed = [name for name in now if stored.get(name) != now[name]]
    if changed:
        return full(f"changed since the night of {after}: {', '.join(changed)}")
    kept = con.execute("SELECT count(*) FROM recon.receipt_outcomes WHERE as_of_date = ?", [after]).fetchone()[0]
    if kept != last[2]:
        return full(f"the outcomes of the night of {after} are no longer kept")
    learned = dict(con.execute("SELECT account_key, customer_id FROM recon.learned_accounts").fetchall())
    return Plan(after, learned, f"resumed after the night of {after}", prints[as_of])


def slices(con: duckdb.DuckDBPyConnection, after: date | None, as_of: date, size: int) -> list[date]:
    """The last day of each slice of the walk: whole days, each slice up to ``size``
    transactions (a single day with more is a slice of its own); the last is ``as_of``."""
    ends: list[date] = []
    count, previous = 0, None
    for day, rows in con.execute(
            "SELECT effective_date, count(*) FROM staging.stg_bank__transactions "
            "WHERE effective_date <= ? AND effective_date > coalesce(?, DATE '0001-01-01') "
            "GROUP BY 1 ORDER BY 1", [as_of, after]).fetchall():
        if count and count + rows > size:
            ends.append(previous)
            count = 0
        count += rows
        previous = day
    return [*ends, as_of]


@dataclass(frozen=True)
class NightResult:
    plan: Plan
    slices: int
    entries_wanted: int
    walked: int  # receipts and reversed debits the walk decided
    counts: dict[str, int]  # the night's outcomes (all receipts)
    change: LedgerChange


_OUTCOME_COLUMNS = ("transaction_id", "payer_customer_id", "payer_evidence", "outcome", "reason_code", "candidates")


def reconcile_night(con: duckdb.DuckDBPyConnection, as_of: date, config: MatcherSettings,
                    run_id: str) -> NightResult:
    """Match the night's payments and write the ledger's changes, the outcomes and the
    checkpoint (one transaction: a failed night leaves all three as they were)."""
    chosen = plan(con, as_of, config)
    after, learned = chosen.after, chosen.learned_accounts
    ends = slices(con, after, as_of, config.slice_transactions)
    allocations = reversals = wanted = walked = 0
    con.execute("BEGIN TRANSACTION")
    try:
        # the night's outcomes as they grow: the earlier receipts' (night ``after``'s), then each slice's
        con.execute(f"CREATE OR REPLACE TEMP TABLE _night_outcomes AS SELECT {', '.join(_OUTCOME_COLUMNS)} "
                    "FROM recon.receipt_outcomes WHERE as_of_date = ?", [after])
        for i, end in enumerate(ends):
            resume = None
            if after is not None:
                returned = {tid for (tid,) in con.execute(
                    "SELECT transaction_id FROM _night_outcomes WHERE outcome = 'returned'").fetchall()}
                resume = Resume(after, learned, returned, invoice_keys_ready=i > 0)
            result = match(con, end, config, resume)
            change = append_changes(con, result.entries, run_id, end, since=after, night=as_of)
            _add_outcomes(con, result)
            allocations, reversals = allocations + change.allocations, reversals + change.reversals
            wanted, walked = wanted + len(result.entries), walked + len(result.outcomes)
            after, learned = end, result.learned_accounts
            del result
        store_outcomes(con, as_of, run_id, config.outcome_history_days)
        counts = dict(con.execute("SELECT outcome, count(*) FROM recon.receipt_outcomes WHERE as_of_date = ? "
                                  "GROUP BY outcome ORDER BY outcome", [as_of]).fetchall())
        _save_checkpoint(con, as_of, run_id, chosen.fingerprint, sum(counts.values()), learned)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return NightResult(chosen, len(ends), wanted, walked, counts, LedgerChange(allocations, reversals))


def _add_outcomes(con: duckdb.DuckDBPyConnection, result: MatchResult) -> None:
    """Append a walk's outcomes to the night's, and mark the earlier receipts its returns sent back."""
    outcomes = result.outcomes
    table = pa.table({
        "transaction_id": [o.transaction_id for o in outcomes],
        "payer_customer_id": [o.payer_customer_id for o in outcomes],
        "payer_evidence": [o.payer_evidence for o in outcomes],
        "outcome": [o.outcome for o in outcomes],
        "reason_code": [o.reason_code for o in outcomes],
        "candidates": [";".join(o.candidates) for o in outcomes],
    }, schema=pa.schema([(name, pa.string()) for name in _OUTCOME_COLUMNS]))
    returned = pa.table({"transaction_id": list(result.earlier_returned),
                         "reason": list(result.earlier_returned.values())},
                        schema=pa.schema([("transaction_id", pa.string()), ("reason", pa.string())]))
    con.register("_outcomes_in", table)
    con.register("_returned_in", returned)
    try:
        if result.earlier_returned:
            con.execute("UPDATE _night_outcomes o SET outcome = 'returned', reason_code = nullif(r.reason, '') "
                        "FROM _returned_in r WHERE o.transaction_id = r.transaction_id")
        con.execute("INSERT INTO _night_outcomes SELECT transaction_id, payer_customer_id, payer_evidence, "
                    "outcome, nullif(reason_code, ''), nullif(candidates, '') FROM _outcomes_in")
    finally:
        con.unregister("_outcomes_in")
        con.unregister("_returned_in")


def _save_checkpoint(con: duckdb.DuckDBPyConnection, as_of: date, run_id: str, fingerprint: dict,
                     outcomes: int, learned: dict[str, str]) -> None:
    con.execute("DELETE FROM recon.matcher_checkpoint")
    con.execute("INSERT INTO recon.matcher_checkpoint VALUES (?, ?, ?, ?)",
                [as_of, run_id, json.dumps(fingerprint, sort_keys=True), outcomes])
    con.execute("DELETE FROM recon.learned_accounts")
    con.register("_learned_in", pa.table({"account_key": list(learned), "customer_id": list(learned.values())},
                                         schema=pa.schema([("account_key", pa.string()),
                                                           ("customer_id", pa.string())])))
    try:
        con.execute("INSERT INTO recon.learned_accounts SELECT * FROM _learned_in")
    finally:
        con.unregister("_learned_in")


def store_outcomes(con: duckdb.DuckDBPyConnection, as_of: date, run_id: str, history_days: int = 7) -> None:
    """Replace the night's receipt outcomes (recon.receipt_outcomes for ``as_of``) with
    ``_night_outcomes`` and drop those of nights more than ``history_days`` before it: each
    night holds every receipt's outcome, so the table would otherwise grow by a full copy a
    night. Later nights are kept (a backfill of an earlier date leaves them as they are)."""
    con.execute("DELETE FROM recon.receipt_outcomes WHERE as_of_date = ?", [as_of])
    con.execute(f"INSERT INTO recon.receipt_outcomes SELECT ?, ?, {', '.join(_OUTCOME_COLUMNS)} "
                "FROM _night_outcomes", [as_of, run_id])
    con.execute("DELETE FROM recon.receipt_outcomes WHERE as_of_date < ?", [as_of - timedelta(days=history_days)])
