"""One night of cash application: walk (resumed where it may be), then write the ledger's
changes, the receipts' outcomes and the checkpoint (one transaction; a night in several
slices commits each slice's ledger entries, see ``_walk_and_store``).

The walk up to a date R is a pure function of what it reads: the bank transactions effective
on or before R, the invoices issued and the credit notes dated on or before R, the decisions
about those transactions, the customers, the matcher's settings and its code. Each night
stores a fingerprint of them (row counts and sums of row hashes, over exactly the columns the
matcher reads): per day for the dated inputs (``recon.matcher_checkpoint_days``), as a whole
for the others (``recon.matcher_checkpoint``). The next night compares them with its own
inputs. R is the day before the earliest day whose rows differ, or the last night's date, or
the night's own date, whichever is earliest:

- the walk up to R is then the last night's, and the walk resumes after R
  (``matcher.Resume``), from what the ledger and the checkpoint keep: the amounts applied
  (ledger entries dated on or before R), the accounts learned by R, the receipts' outcomes
  as of R (the last night's, with returns after R undone from ``recon.receipt_returns``);
  a statement that arrived late or a decision about an earlier payment costs a walk from
  its own date on, not over all history;
- the full walk over all history, as on a first night, when there is no checkpoint, the
  customers, settings or code changed, the change is on the first day, or the last night's
  outcomes are no longer kept.

Either way the ledger and the outcomes are those of a full walk
(``tests/e2e/test_matcher_resume.py``). The choice and why is in the night's summary. A long
walk goes in slices of whole days (``ARW_MATCHER_SLICE_TRANSACTIONS``), each resumed after
the one before, so memory follows a slice rather than all history.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa

from pipelines.reconcile.evidence import normalise_account_sql, normalise_name_sql
from pipelines.reconcile.ledger import LedgerChange, append_changes, gc_paused
from pipelines.reconcile.matcher import CustomerNames, MatchResult, Resume, match, name_key
from pipelines.settings import MatcherSettings
from pipelines.warehouse import registered, scalar

# dated input → the rows (day, hash of the columns the matcher reads) it contributes
_DATED = {
    "bank transactions": """
        SELECT effective_date AS day,
               hash(transaction_id, bank_reference, effective_date, amount, currency, counterparty_name,
                    counterparty_account, remittance_info, structured_reference, end_to_end_id, is_reversal,
                    reversal_of, return_reason) AS h
        FROM staging.stg_bank__transactions""",
    "invoices": """
        SELECT issue_date AS day,
               hash(invoice_id, invoice_number, customer_id, currency, issue_date, due_date, amount, status) AS h
        FROM staging.stg_erp__invoices""",
    "credit notes": """
        SELECT issue_date AS day, hash(credit_note_id, invoice_id, issue_date, amount) AS h
        FROM staging.stg_erp__credit_notes""",
    # a decision belongs to the earliest day of a transaction it concerns (by id, or bank reference)
    "decisions": """
        SELECT t.day, hash(d.transaction_id, d.bank_reference, d.action, d.invoice_number, d.invoice_id, d.amount,
                           d.currency, d.decided_by, d.decided_at, d.note, d.file_seq, d.line_number) AS h
        FROM staging.stg_manual__decisions d
        JOIN (SELECT file_seq, line_number, min(day) AS day FROM (
                  SELECT d.file_seq, d.line_number, t.effective_date AS day FROM staging.stg_manual__decisions d
                  JOIN staging.stg_bank__transactions t ON t.transaction_id = d.transaction_id
                  UNION ALL
                  SELECT d.file_seq, d.line_number, t.effective_date FROM staging.stg_manual__decisions d
                  JOIN staging.stg_bank__transactions t
                    ON d.transaction_id IS NULL AND t.bank_reference = d.bank_reference)
              GROUP BY ALL) t USING (file_seq, line_number)""",
}
# what the matcher reads of a customer: a copy is kept with the checkpoint
_IDENTITY = "SELECT customer_id, name, aliases, bank_accounts FROM staging.stg_erp__customers"
# settings that do not change what the walk decides
_NOT_DECIDING = {"outcome_history_days", "resume", "slice_transactions"}


def _code_hash() -> str:
    digest = hashlib.sha256()
    for path in sorted(Path(__file__).parent.glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def undated_fingerprint(config: MatcherSettings) -> dict:
    settings = {k: str(v) for k, v in asdict(config).items() if k not in _NOT_DECIDING}
    return {"matcher settings": json.dumps(settings, sort_keys=True), "matcher code": _code_hash()}


def customers_changed_from(con: duckdb.DuckDBPyConnection, upto: date, threshold: float) -> date | None:
    """The first day, on or before ``upto``, of a payment whose payer the customers changed
    since the checkpoint (new, gone, renamed, other aliases or accounts) could identify
    differently: its account or exact name is one of theirs, or its name is within the fuzzy
    threshold of one of theirs. None if there is none: the walk up to ``upto`` stands."""
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _changed_customers AS
        ({_IDENTITY} EXCEPT SELECT * FROM recon.matcher_checkpoint_customers)
        UNION ALL (SELECT * FROM recon.matcher_checkpoint_customers EXCEPT {_IDENTITY})
    """)
    names = [n for (n,) in con.execute(
        "SELECT name FROM _changed_customers UNION ALL "
        "SELECT unnest(string_split(coalesce(aliases, ''), ';')) FROM _changed_customers").fetchall()]
    if not names:
        return None
    first = con.execute(f"""
        WITH accounts AS (
            SELECT {normalise_account_sql('a')} AS k
            FROM (SELECT unnest(string_split(coalesce(bank_accounts, ''), ';')) AS a FROM _changed_customers)
            WHERE trim(a) <> ''
        ),
        names AS (SELECT {normalise_name_sql('n')} AS k FROM (SELECT unnest($2::VARCHAR[]) AS n) WHERE trim(n) <> '')
        SELECT min(effective_date) FROM staging.stg_bank__transactions
        WHERE effective_date <= $1 AND amount > 0
          AND ({normalise_account_sql('counterparty_account')} IN (SELECT k FROM accounts)
               OR {normalise_name_sql('counterparty_name')} IN (SELECT k FROM names))
    """, [upto, names]).fetchone()[0]
    keys = {k for k in map(name_key, names) if k}
    if keys:  # the fuzzy look-up (matcher._fuzzy_lookup): any name that close may now resolve otherwise
        from rapidfuzz import fuzz, process

        seen: dict[str, date] = {}
        for name, day in con.execute(
                "SELECT counterparty_name, min(effective_date) FROM staging.stg_bank__transactions "
                "WHERE effective_date <= ? AND amount > 0 AND counterparty_name IS NOT NULL GROUP BY 1",
                [upto]).fetchall():
            key = name_key(name)
            if key and (key not in seen or day < seen[key]):
                seen[key] = day
        choices = list(seen)
        for key in keys:
            for _, _, i in process.extract(key, choices, scorer=fuzz.token_sort_ratio, score_cutoff=threshold,
                                           limit=None):
                first = min(first or seen[choices[i]], seen[choices[i]])
    return first


def day_fingerprints(con: duckdb.DuckDBPyConnection, upto: date) -> None:
    """``_day_prints``: per dated input and day on or before ``upto``, its rows and hash sum."""
    parts = " UNION ALL ".join(
        f"SELECT '{name}' AS input, day, count(*) AS row_count, sum(h::HUGEINT) AS hash_sum "
        f"FROM ({sql}) WHERE day <= $1 GROUP BY day" for name, sql in _DATED.items())
    con.execute(f"CREATE OR REPLACE TEMP TABLE _day_prints AS {parts}", [upto])


@dataclass(frozen=True)
class Plan:
    after: date | None  # resume after this day, or walk all history
    why: str  # said in the night's summary
    fingerprint: dict  # the undated inputs' (stored for the next night; _day_prints the dated ones)
    night: date | None = None  # the checkpoint's night the state as of ``after`` comes from


def plan(con: duckdb.DuckDBPyConnection, as_of: date, config: MatcherSettings) -> Plan:
    """Where the walk resumes, or a full walk (and why)."""
    last = con.execute("SELECT as_of_date, fingerprint, outcomes FROM recon.matcher_checkpoint").fetchone()
    day_fingerprints(con, as_of)
    undated = undated_fingerprint(config)

    def full(why: str) -> Plan:
        return Plan(None, f"full walk: {why}", undated)

    if not config.resume:
        return full("resuming is switched off (ARW_MATCHER_RESUME)")
    if last is None:
        return full("no earlier night to resume after")
    unfinished = con.execute("SELECT as_of_date, run_id FROM recon.matcher_unfinished "
                             "ORDER BY started_at DESC LIMIT 1").fetchall()
    if unfinished:
        # its first slices' ledger entries stand without their checkpoint: only a full walk
        # is sure to bring the whole ledger back in line
        return full(f"the night of {unfinished[0][0]} (run {unfinished[0][1]}) stopped part-way")
    night, stored = last[0], json.loads(last[1])
    changed = [name for name in undated if stored.get(name) != undated[name]]
    if changed:
        return full(f"changed since the night of {night}: {', '.join(changed)}")
    kept = con.execute("SELECT count(*) FROM recon.receipt_outcomes WHERE as_of_date = ?", [night]).fetchone()[0]
    if kept != last[2]:
        return full(f"the outcomes of the night of {night} are no longer kept")
    first, inputs = con.execute("""
        WITH now AS (SELECT * FROM _day_prints WHERE day <= $1),
        diff AS (
            (SELECT * FROM now EXCEPT SELECT * FROM recon.matcher_checkpoint_days)
            UNION ALL
            (SELECT * FROM recon.matcher_checkpoint_days WHERE day <= $2
             EXCEPT SELECT * FROM now)
        )
        SELECT min(day), string_agg(DISTINCT input, ', ' ORDER BY input) FILTER (WHERE day = (SELECT min(day) FROM diff))
        FROM diff
    """, [night, as_of]).fetchone()
    by_customers = customers_changed_from(con, min(night, as_of), config.name_match_threshold)
    if by_customers is not None and (first is None or by_customers <= first):
        inputs = "customer data for a payment" if first != by_customers else f"{inputs}, customer data for a payment"
        first = by_customers
    if first is None:
        after = min(night, as_of)
        return Plan(after, f"resumed after {after}, the last night walked" if after == night
                    else f"resumed after {after}: nothing changed up to the night", undated, night)
    start = con.execute("SELECT min(day) FROM recon.matcher_checkpoint_days").fetchone()[0]
    if start is None or first <= start:
        return full(f"{inputs} dated {first} changed, the first day")
    after = first - timedelta(days=1)
    return Plan(after, f"resumed after {after}: {inputs} dated {first} changed since the night of {night}",
                undated, night)


def slices(con: duckdb.DuckDBPyConnection, after: date | None, as_of: date, size: int) -> list[date]:
    """The last day of each slice of the walk: whole days, each slice up to ``size``
    transactions (a single day with more is a slice of its own); the last is ``as_of``.
    The transactions per day are the fingerprint's (``day_fingerprints`` as of ``as_of``)."""
    ends: list[date] = []
    count, previous = 0, None
    for day, rows in con.execute(
            "SELECT day, row_count FROM _day_prints WHERE input = 'bank transactions' "
            "AND day <= ? AND day > coalesce(?, DATE '0001-01-01') ORDER BY day", [as_of, after]).fetchall():
        if count and count + rows > size:
            ends.append(previous)
            count = 0
        count += rows
        previous = day
    return [*ends, as_of]


def _transactions_after(con: duckdb.DuckDBPyConnection, after: date, as_of: date) -> int:
    """The bank transactions dated after ``after`` up to ``as_of`` (the fingerprint's count)."""
    return scalar(con, "SELECT coalesce(sum(row_count), 0) FROM _day_prints WHERE input = 'bank transactions' "
                       "AND day > ? AND day <= ?", [after, as_of])


@dataclass(frozen=True)
class NightResult:
    plan: Plan
    slices: int
    entries_wanted: int
    walked: int  # receipts and reversed debits the walk decided
    counts: dict[str, int]  # the night's outcomes (all receipts)
    change: LedgerChange


_OUTCOME_COLUMNS = ("transaction_id", "payer_customer_id", "payer_evidence", "outcome", "reason_code", "candidates")

# The receipts' outcomes as of ``after`` (not yet any later night's): the last night's for the
# receipts effective on or before it, with the returns after it undone. ({earlier_only}: the
# join that keeps the receipts effective on or before ``after``; left out when ``after`` is the
# last night itself, whose outcomes are all of receipts effective by then: 4.8 -> 1.4 s at
# 9M receipts.)
_RESTORE_OUTCOMES = """
    CREATE OR REPLACE TEMP TABLE _night_outcomes AS
    WITH returned AS (
        SELECT transaction_id, arg_max(reason, (returned_on, return_transaction_id)) AS reason
        FROM recon.receipt_returns WHERE returned_on <= $after GROUP BY transaction_id
    ),
    before AS (
        SELECT transaction_id, arg_min(outcome_before, (returned_on, return_transaction_id)) AS outcome,
               arg_min(reason_before, (returned_on, return_transaction_id)) AS reason
        FROM recon.receipt_returns GROUP BY transaction_id
    )
    SELECT o.transaction_id, o.payer_customer_id, o.payer_evidence,
           CASE WHEN r.transaction_id IS NOT NULL THEN 'returned'
                WHEN b.transaction_id IS NOT NULL THEN b.outcome ELSE o.outcome END AS outcome,
           CASE WHEN r.transaction_id IS NOT NULL THEN nullif(r.reason, '')
                WHEN b.transaction_id IS NOT NULL THEN b.reason ELSE o.reason_code END AS reason_code,
           o.candidates
    FROM recon.receipt_outcomes o
    {earlier_only}
    LEFT JOIN returned r USING (transaction_id)
    LEFT JOIN before b USING (transaction_id)
    WHERE o.as_of_date = $night
"""
_EARLIER_ONLY = ("SEMI JOIN (SELECT transaction_id FROM staging.stg_bank__transactions "
                 "WHERE effective_date <= $after) t USING (transaction_id)")


def reconcile_night(con: duckdb.DuckDBPyConnection, as_of: date, config: MatcherSettings,
                    run_id: str) -> NightResult:
    """Match the night's payments and write the ledger's changes, the outcomes and the
    checkpoint. A failed night in one slice leaves all three as they were; one in several
    slices may leave the ledger entries of its first slices, which the next night's full walk
    brings back in line."""
    chosen = plan(con, as_of, config)
    after = chosen.after
    ends = slices(con, after, as_of, config.slice_transactions)
    if after is not None and not _transactions_after(con, after, as_of):
        # a resumed walk with no bank transaction to read (a night without statements):
        # nothing to decide, the outcomes and accounts stand as restored
        ends = []
    # The cyclic collector stays paused for the whole night, not only during each walk: the
    # first allocation after a walk would otherwise start a full collection over the millions
    # of objects its result still holds (~2 s a slice at 1M transactions). They hold no cycles.
    with gc_paused():
        return _walk_and_store(con, as_of, config, run_id, chosen, after, ends)


def _walk_and_store(con: duckdb.DuckDBPyConnection, as_of: date, config: MatcherSettings, run_id: str,
                    chosen: Plan, after: date | None, ends: list[date]) -> NightResult:
    allocations = reversals = wanted = walked = 0
    # One slice: one transaction. Several: each slice commits its ledger entries (the walk up
    # to a slice's end is a pure function of the inputs up to it; DuckDB keeps a
    # transaction's replaced temporary tables until its commit, so one transaction over all
    # slices grew by ~2.5 GB a slice at 10M invoices). The outcomes, returns, learned accounts
    # and checkpoint are written with the last slice; until then recon.matcher_unfinished
    # says the night stopped part-way, and the next night walks in full.
    sliced = len(ends) > 1
    con.execute("BEGIN TRANSACTION")
    try:
        # the night's outcomes and returns as they grow: as of ``after``, then each slice's
        con.execute("CREATE OR REPLACE TEMP TABLE _night_returns AS SELECT * FROM recon.receipt_returns "
                    "WHERE returned_on <= ?", [after])
        if after is None:
            con.execute(f"CREATE OR REPLACE TEMP TABLE _night_outcomes AS SELECT {', '.join(_OUTCOME_COLUMNS)} "
                        "FROM recon.receipt_outcomes WHERE false")
            learned, learned_on = {}, {}
        else:
            earlier_only = "" if after >= chosen.night else _EARLIER_ONLY
            con.execute(_RESTORE_OUTCOMES.format(earlier_only=earlier_only), {"after": after, "night": chosen.night})
            rows = con.execute("SELECT account_key, customer_id, learned_on FROM recon.learned_accounts "
                               "WHERE learned_on <= ?", [after]).fetchall()
            learned, learned_on = {a: c for a, c, _ in rows}, {a: d for a, _, d in rows}
        if sliced:
            con.execute("INSERT INTO recon.matcher_unfinished VALUES (?, ?, now())", [as_of, run_id])
        names = CustomerNames(con)  # one per night: the slices share it
        for i, end in enumerate(ends):
            if sliced:
                con.execute("COMMIT")
                _drop_scratch(con)
                con.execute("BEGIN TRANSACTION")
            resume = None
            if after is not None:
                returned = {tid for (tid,) in con.execute(
                    "SELECT transaction_id FROM _night_outcomes WHERE outcome = 'returned'").fetchall()}
                # the first slice of a full walk made every invoice's keys; a resumed one only
                # those its own tokens can meet
                resume = Resume(after, learned, learned_on, returned,
                                invoice_keys_ready=i > 0 and chosen.after is None)
            result = match(con, end, config, resume, names)
            change = append_changes(con, result.entries, run_id, end, since=after, night=as_of)
            _add_outcomes(con, result)
            allocations, reversals = allocations + change.allocations, reversals + change.reversals
            wanted, walked = wanted + len(result.entries), walked + len(result.outcomes)
            after, learned, learned_on = end, result.learned_accounts, result.learned_on
            del result
        store_outcomes(con, as_of, run_id, config.outcome_history_days)
        counts = dict(con.execute("SELECT outcome, count(*) FROM recon.receipt_outcomes WHERE as_of_date = ? "
                                  "GROUP BY outcome ORDER BY outcome", [as_of]).fetchall())
        _save_checkpoint(con, as_of, run_id, chosen, sum(counts.values()), walked, learned, learned_on)
        con.execute("DELETE FROM recon.matcher_unfinished")
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return NightResult(chosen, len(ends), wanted, walked, counts, LedgerChange(allocations, reversals))


# temporary tables a night keeps from slice to slice (the others are a slice's scratch)
_NIGHT_TABLES = ("_night_outcomes", "_night_returns", "_day_prints", "_invoice_keys")


def _drop_scratch(con: duckdb.DuckDBPyConnection) -> None:
    """Drop the last slice's scratch tables, outside a transaction: a table replaced inside
    one keeps its old rows until the commit, so each slice would hold two slices' worth."""
    for (name,) in con.execute("SELECT table_name FROM duckdb_tables() WHERE temporary AND table_name LIKE '\\_%' "
                               "ESCAPE '\\'").fetchall():
        if name not in _NIGHT_TABLES:
            con.execute(f'DROP TABLE IF EXISTS temp."{name}"')


def _add_outcomes(con: duckdb.DuckDBPyConnection, result: MatchResult) -> None:
    """Append a walk's outcomes and returns to the night's, and mark the earlier receipts its
    returns sent back."""
    outcomes = result.outcomes
    table = pa.table({
        "transaction_id": [o.transaction_id for o in outcomes],
        "payer_customer_id": [o.payer_customer_id for o in outcomes],
        "payer_evidence": [o.payer_evidence for o in outcomes],
        "outcome": [o.outcome for o in outcomes],
        "reason_code": [o.reason_code for o in outcomes],
        "candidates": [";".join(o.candidates) for o in outcomes],
    }, schema=pa.schema([(name, pa.string()) for name in _OUTCOME_COLUMNS]))
    events = list(zip(*result.return_events, strict=True)) or [[]] * 6
    returns = pa.table(dict(zip(("transaction_id", "return_transaction_id", "returned_on", "reason",
                                 "outcome_before", "reason_before"), events, strict=True)),
                       schema=pa.schema([("transaction_id", pa.string()), ("return_transaction_id", pa.string()),
                                         ("returned_on", pa.date32()), ("reason", pa.string()),
                                         ("outcome_before", pa.string()), ("reason_before", pa.string())]))
    with registered(con, _outcomes_in=table, _returns_in=returns):
        if result.return_events:
            # a receipt of an earlier night or slice: its outcome before is the night's so far
            con.execute("""
                INSERT INTO _night_returns
                SELECT r.transaction_id, r.return_transaction_id, r.returned_on, r.reason,
                       coalesce(r.outcome_before, o.outcome),
                       CASE WHEN r.outcome_before IS NULL THEN o.reason_code ELSE r.reason_before END
                FROM _returns_in r LEFT JOIN _night_outcomes o USING (transaction_id)
            """)
            con.execute("""
                UPDATE _night_outcomes o SET outcome = 'returned', reason_code = nullif(r.reason, '')
                FROM (SELECT transaction_id, arg_max(reason, (returned_on, return_transaction_id)) AS reason
                      FROM _returns_in GROUP BY transaction_id) r
                WHERE o.transaction_id = r.transaction_id
            """)
        con.execute("INSERT INTO _night_outcomes SELECT transaction_id, payer_customer_id, payer_evidence, "
                    "outcome, nullif(reason_code, ''), nullif(candidates, '') FROM _outcomes_in")


def _save_checkpoint(con: duckdb.DuckDBPyConnection, as_of: date, run_id: str, chosen: Plan, outcomes: int,
                     walked: int, learned: dict[str, str], learned_on: dict[str, date]) -> None:
    con.execute("DELETE FROM recon.matcher_checkpoint")
    con.execute("INSERT INTO recon.matcher_checkpoint VALUES (?, ?, ?, ?, ?, ?)",
                [as_of, run_id, json.dumps(chosen.fingerprint, sort_keys=True), outcomes, chosen.why, walked])
    con.execute("DELETE FROM recon.matcher_checkpoint_days")
    con.execute("INSERT INTO recon.matcher_checkpoint_days SELECT * FROM _day_prints")
    con.execute("DELETE FROM recon.matcher_checkpoint_customers")
    con.execute(f"INSERT INTO recon.matcher_checkpoint_customers {_IDENTITY}")
    con.execute("DELETE FROM recon.receipt_returns")
    con.execute("INSERT INTO recon.receipt_returns SELECT * FROM _night_returns")
    con.execute("DELETE FROM recon.learned_accounts")
    learned_in = pa.table(
        {"account_key": list(learned), "customer_id": list(learned.values()),
         "learned_on": [learned_on[a] for a in learned]},
        schema=pa.schema([("account_key", pa.string()), ("customer_id", pa.string()), ("learned_on", pa.date32())]))
    with registered(con, _learned_in=learned_in):
        con.execute("INSERT INTO recon.learned_accounts SELECT * FROM _learned_in")


def store_outcomes(con: duckdb.DuckDBPyConnection, as_of: date, run_id: str, history_days: int = 7) -> None:
    """Replace the night's receipt outcomes (recon.receipt_outcomes for ``as_of``) with
    ``_night_outcomes`` and drop those of nights more than ``history_days`` before it: each
    night holds every receipt's outcome, so the table would otherwise grow by a full copy a
    night. Later nights are kept (a backfill of an earlier date leaves them as they are)."""
    con.execute("DELETE FROM recon.receipt_outcomes WHERE as_of_date = ?", [as_of])
    con.execute(f"INSERT INTO recon.receipt_outcomes SELECT ?, ?, {', '.join(_OUTCOME_COLUMNS)} "
                "FROM _night_outcomes", [as_of, run_id])
    _store_first_seen(con, as_of)
    con.execute("DELETE FROM recon.receipt_outcomes WHERE as_of_date < ?", [as_of - timedelta(days=history_days)])


def _store_first_seen(con: duckdb.DuckDBPyConnection, as_of: date) -> None:
    """Keep the first night each receipt was an exception (recon.exception_first_seen) beyond
    the outcome history: a night run again first forgets the dates it gave; an earlier night
    (a backfill) moves a receipt's date back. The first time (an empty table), every kept
    night's exceptions are read too, so a warehouse from before the table keeps its dates."""
    con.execute("DELETE FROM recon.exception_first_seen WHERE first_seen_date = ?", [as_of])
    seeding = scalar(con, "SELECT count(*) = 0 FROM recon.exception_first_seen")
    con.execute("""
        CREATE OR REPLACE TEMP TABLE _first_seen AS
        SELECT transaction_id, min(as_of_date) AS first_seen_date FROM recon.receipt_outcomes
        WHERE outcome = 'exception' AND ($seeding OR as_of_date = $as_of) GROUP BY transaction_id
    """, {"seeding": seeding, "as_of": as_of})
    con.execute("""
        UPDATE recon.exception_first_seen s SET first_seen_date = n.first_seen_date
        FROM _first_seen n
        WHERE s.transaction_id = n.transaction_id AND n.first_seen_date < s.first_seen_date
    """)
    con.execute("""
        INSERT INTO recon.exception_first_seen
        SELECT * FROM _first_seen n WHERE NOT EXISTS (
            SELECT 1 FROM recon.exception_first_seen s WHERE s.transaction_id = n.transaction_id)
    """)
    con.execute("DROP TABLE _first_seen")
