"""A resumed walk decides exactly what the full walk decides (pipelines/reconcile/night.py).

The generated night's build database (its staging tables hold every input) is reconciled
night by night from an empty ledger: a full walk as of the first date, then each later night
resumes after the one before. On a second copy every one of those nights is a full walk over
all history. After each night the entries in force in the ledger and the night's outcomes
must be identical. The dates are picked so that returns of receipts from before a resumed
night's start, accounts learned before it, and quoted invoices settled before it all occur.
When anything dated on or before the last night changes, the next night walks in full.
"""

from __future__ import annotations

import re
import shutil
from datetime import date, timedelta

import duckdb
import pytest

from pipelines.reconcile.night import reconcile_night
from pipelines.settings import MatcherSettings

from .conftest import GENERATED_AS_OF

LAST = date.fromisoformat(GENERATED_AS_OF)

_IN_FORCE = """
    SELECT transaction_id, invoice_id, kind, effective_date, rule, sum(amount) AS amount,
           arg_max(rule_version, event_seq) FILTER (WHERE event_type = 'allocation'),
           arg_max(score, event_seq) FILTER (WHERE event_type = 'allocation'),
           arg_max(evidence, event_seq) FILTER (WHERE event_type = 'allocation'),
           arg_max(decided_by, event_seq) FILTER (WHERE event_type = 'allocation')
    FROM recon.allocation_ledger GROUP BY ALL HAVING sum(amount) <> 0 ORDER BY ALL
"""
_OUTCOMES = ("SELECT * EXCLUDE (as_of_date, run_id) FROM recon.receipt_outcomes WHERE as_of_date = ? "
             "ORDER BY transaction_id")


def _empty_copy(src, dst, editable: bool = False):
    """A copy of the build database with an empty ledger (and, ``editable``, the bank
    transactions and decisions as tables a test can change, rather than dbt's views)."""
    shutil.copy(src, dst)
    with duckdb.connect(str(dst)) as con:
        for table in ("allocation_ledger", "receipt_outcomes", "matcher_checkpoint", "matcher_checkpoint_days",
                      "learned_accounts", "receipt_returns"):
            con.execute(f"DELETE FROM recon.{table}")
        for name in ("stg_bank__transactions", "stg_manual__decisions", "stg_erp__customers") if editable else ():
            kind = con.execute("SELECT table_type FROM information_schema.tables "
                               "WHERE table_schema = 'staging' AND table_name = ?", [name]).fetchone()[0]
            if kind == "VIEW":
                con.execute(f"CREATE TABLE staging._copy AS SELECT * FROM staging.{name}")
                con.execute(f"DROP VIEW staging.{name}")
                con.execute(f"ALTER TABLE staging._copy RENAME TO {name}")
    return dst


def _state(con, day):
    return con.execute(_IN_FORCE).fetchall(), con.execute(_OUTCOMES, [day]).fetchall()


def _nights(generated_night) -> list[date]:
    """Nights that split the history where it matters: the day before a return of an earlier
    receipt, and month ends, ending with the generated night's date."""
    with duckdb.connect(str(generated_night["wh"] / "build.duckdb"), read_only=True) as con:
        returns = [r[0] for r in con.execute("""
            SELECT r.effective_date FROM staging.stg_bank__transactions r
            JOIN staging.stg_bank__transactions o ON o.transaction_id = r.reversal_of OR o.bank_reference = r.reversal_of
            WHERE r.amount < 0 AND o.effective_date < r.effective_date
            ORDER BY 1""").fetchall()]
    assert returns, "the generated inbox should return some payments"
    days = {returns[0] - timedelta(days=1), returns[len(returns) // 2] - timedelta(days=1),
            date(2026, 7, 31), date(2026, 9, 30), LAST}
    return sorted(d for d in days if d <= LAST)


@pytest.fixture(scope="module")
def walks(generated_night, tmp_path_factory):
    root = tmp_path_factory.mktemp("resume")
    build = generated_night["wh"] / "build.duckdb"
    resumed_db = _empty_copy(build, root / "resumed.duckdb")
    full_db = _empty_copy(build, root / "full.duckdb")
    sliced_db = _empty_copy(build, root / "sliced.duckdb")
    config = MatcherSettings()
    nights = []
    for day in _nights(generated_night):
        with duckdb.connect(str(resumed_db)) as con:
            resumed = reconcile_night(con, day, config, f"resumed-{day}")
            resumed_state = _state(con, day)
        with duckdb.connect(str(full_db)) as con:
            full = reconcile_night(con, day, MatcherSettings(resume=False), f"full-{day}")
            full_state = _state(con, day)
        nights.append({"day": day, "resumed": resumed, "full": full,
                       "resumed_state": resumed_state, "full_state": full_state})
    # all history in one night, walked in slices of about a month's payments
    with duckdb.connect(str(sliced_db)) as con:
        sliced = reconcile_night(con, LAST, MatcherSettings(slice_transactions=60), "sliced")
        sliced_state = _state(con, LAST)
    return {"nights": nights, "resumed_db": resumed_db, "full_db": full_db, "root": root,
            "sliced": sliced, "sliced_state": sliced_state}


def test_each_resumed_night_equals_the_full_walk(walks):
    nights = walks["nights"]
    assert len(nights) >= 4
    assert nights[0]["resumed"].plan.why == "full walk: no earlier night to resume after"
    for before, n in zip(nights, nights[1:], strict=False):
        assert n["resumed"].plan.why == f"resumed after {before['day']}, the last night walked"
        assert n["full"].plan.why.startswith("full walk")
        assert n["resumed"].walked < n["full"].walked  # only the new payments were walked
        ledger, outcomes = n["resumed_state"]
        assert ledger and outcomes
        assert ledger == n["full_state"][0], f"ledger in force differs after the night of {n['day']}"
        assert outcomes == n["full_state"][1], f"outcomes differ for the night of {n['day']}"
        assert n["resumed"].counts == n["full"].counts


def test_a_walk_in_slices_equals_the_walk_in_one(walks):
    sliced, last = walks["sliced"], walks["nights"][-1]
    assert sliced.plan.why == "full walk: no earlier night to resume after"
    assert sliced.slices > 10
    assert walks["sliced_state"] == last["full_state"]
    assert sliced.counts == last["full"].counts
    assert sliced.walked == last["full"].walked
    with duckdb.connect(str(walks["root"] / "sliced.duckdb"), read_only=True) as con:
        recorded = con.execute("SELECT DISTINCT as_of_date FROM recon.allocation_ledger").fetchall()
        checkpoint = con.execute("SELECT as_of_date FROM recon.matcher_checkpoint").fetchall()
    assert recorded == [(LAST,)] and checkpoint == [(LAST,)]  # one night recorded, not one per slice


def test_the_resumed_nights_covered_what_crosses_the_start(walks):
    """The equality above is only worth something if the resumed nights met the state they
    restore: receipts returned after the walk resumed past them, and payers known by an
    account learned before it."""
    starts = [n["day"] for n in walks["nights"][:-1]]
    with duckdb.connect(str(walks["resumed_db"]), read_only=True) as con:
        con.execute("""
            CREATE TEMP TABLE o AS
            SELECT o.*, t.effective_date AS day,
                   upper(regexp_replace(coalesce(t.counterparty_account, ''), '[^A-Za-z0-9]', '', 'g')) AS acct
            FROM recon.receipt_outcomes o JOIN staging.stg_bank__transactions t USING (transaction_id)
            WHERE o.as_of_date = ?""", [LAST])
        returned_later = sum(con.execute("""
            SELECT count(*) FROM o JOIN staging.stg_bank__transactions r
              ON r.reversal_of IN (o.transaction_id, (SELECT bank_reference FROM staging.stg_bank__transactions
                                                      WHERE transaction_id = o.transaction_id))
            WHERE o.outcome = 'returned' AND o.day <= $start AND r.effective_date > $start
        """, {"start": start}).fetchone()[0] for start in starts)
        learned_later = sum(con.execute("""
            SELECT count(*) FROM o a WHERE a.payer_evidence = 'learned_account' AND a.day > $start
              AND EXISTS (SELECT 1 FROM o b WHERE b.acct = a.acct AND b.day <= $start
                                              AND (b.payer_evidence = 'name' OR b.payer_evidence LIKE 'fuzzy_name%'))
        """, {"start": start}).fetchone()[0] for start in starts)
        learned_kept = con.execute("SELECT count(*) FROM recon.learned_accounts").fetchone()[0]
    assert returned_later > 0
    assert learned_kept > 0
    assert learned_later > 0


def _resume_after_change(walks, change_sql: str, params=()) -> tuple[str, tuple, tuple]:
    """Walk to a night, apply a change to the inputs dated before it, run the last night, and
    return the plan's reason and the ledger and outcomes, with those of the same two nights
    walked in full (a change that alters only an allocation's evidence does not restate it,
    so the ledger is compared with the same history, not with a first night)."""
    nights = walks["nights"]
    start, end = nights[-3]["day"], nights[-1]["day"]
    root = walks["root"]
    db = root / "changed.duckdb"
    full_db = _empty_copy(walks["resumed_db"], root / "changed_full.duckdb", editable=True)
    _empty_copy(walks["resumed_db"], db, editable=True)
    with duckdb.connect(str(db)) as con:
        reconcile_night(con, start, MatcherSettings(), "first")
        con.execute(change_sql, list(params))
        night = reconcile_night(con, end, MatcherSettings(), "second")
        state = _state(con, end)
    with duckdb.connect(str(full_db)) as con:  # the same nights, each a full walk
        reconcile_night(con, start, MatcherSettings(resume=False), "first")
        con.execute(change_sql, list(params))
        reconcile_night(con, end, MatcherSettings(resume=False), "second")
        full_state = _state(con, end)
    return night.plan.why, state, full_state


# the receipt a test changes: the latest one before the middle of the first resumed stretch
_EARLIER = """(SELECT max_by(transaction_id, effective_date) FROM staging.stg_bank__transactions
               WHERE effective_date <= ? AND amount > 0)"""


def _day_of(walks, before: date) -> date:
    with duckdb.connect(str(walks["resumed_db"]), read_only=True) as con:
        return con.execute(f"SELECT effective_date FROM staging.stg_bank__transactions WHERE transaction_id = "
                           f"{_EARLIER}", [before]).fetchone()[0]


def test_a_late_bank_row_makes_the_next_night_walk_from_its_day(walks):
    start = walks["nights"][-3]["day"]
    changed = _day_of(walks, start - timedelta(days=20))
    why, state, full_state = _resume_after_change(walks, f"""
        UPDATE staging.stg_bank__transactions SET remittance_info = 'late correction'
        WHERE transaction_id = {_EARLIER}""", [start - timedelta(days=20)])
    assert why == (f"resumed after {changed - timedelta(days=1)}: bank transactions dated {changed} "
                   f"changed since the night of {start}")
    assert state == full_state


def test_a_new_decision_about_an_earlier_payment_makes_the_next_night_walk_from_its_day(walks):
    start = walks["nights"][-3]["day"]
    changed = _day_of(walks, start - timedelta(days=20))
    why, state, full_state = _resume_after_change(walks, f"""
        INSERT INTO staging.stg_manual__decisions
        SELECT transaction_id, NULL, 'not_ar', NULL, NULL, NULL, NULL, 'tester', TIMESTAMP '2026-11-01 09:00',
               'not a customer payment', 'decisions_test.csv', 99, 2
        FROM staging.stg_bank__transactions WHERE transaction_id = {_EARLIER}""", [start - timedelta(days=20)])
    assert why == (f"resumed after {changed - timedelta(days=1)}: decisions dated {changed} "
                   f"changed since the night of {start}")
    assert state == full_state


def test_other_settings_walk_in_full(walks, tmp_path):
    nights = walks["nights"]
    db = _empty_copy(walks["resumed_db"], tmp_path / "w.duckdb")
    with duckdb.connect(str(db)) as con:
        reconcile_night(con, nights[-2]["day"], MatcherSettings(), "a")
        other = reconcile_night(con, nights[-1]["day"], MatcherSettings(name_match_threshold=80.0), "b")
        assert other.plan.why == f"full walk: changed since the night of {nights[-2]['day']}: matcher settings"
        off = reconcile_night(con, nights[-1]["day"], MatcherSettings(resume=False), "c")
        assert off.plan.why == "full walk: resuming is switched off (ARW_MATCHER_RESUME)"


def test_a_new_customer_no_earlier_payer_could_be_leaves_the_walk_to_resume(walks):
    start = walks["nights"][-3]["day"]
    why, state, full_state = _resume_after_change(walks, """
        INSERT INTO staging.stg_erp__customers (customer_id, name, aliases, bank_accounts)
        VALUES ('C-NEW-1', 'Zyxwvut Quokka Holdings', 'Quokka Zyx', 'CH5604835012345678009')""")
    assert why == f"resumed after {start}, the last night walked"
    assert state == full_state


def test_a_new_customer_named_like_an_earlier_payer_makes_the_walk_resume_before_that_payment(walks):
    start = walks["nights"][-3]["day"]
    with duckdb.connect(str(walks["resumed_db"]), read_only=True) as con:
        payer, paid = con.execute("""
            SELECT counterparty_name, effective_date FROM staging.stg_bank__transactions
            WHERE amount > 0 AND counterparty_name IS NOT NULL AND effective_date <= ?
            ORDER BY effective_date DESC, transaction_id LIMIT 1""", [start - timedelta(days=20)]).fetchone()
    why, state, full_state = _resume_after_change(walks, """
        INSERT INTO staging.stg_erp__customers (customer_id, name, aliases, bank_accounts)
        VALUES ('C-NEW-2', 'Unrelated Name AG', ?, '')""", [payer])
    resumed = re.fullmatch(rf"resumed after (\S+): customer data for a payment dated (\S+) changed since the "
                           rf"night of {start}", why)
    assert resumed, why
    assert date.fromisoformat(resumed[2]) <= paid
    assert date.fromisoformat(resumed[1]) == date.fromisoformat(resumed[2]) - timedelta(days=1)
    assert state == full_state


def test_a_rerun_or_a_backfill_resumes_from_the_nights_own_date_and_equals_the_full_walk(walks, tmp_path):
    nights = walks["nights"]
    db = _empty_copy(walks["resumed_db"], tmp_path / "r.duckdb")
    with duckdb.connect(str(db)) as con:
        reconcile_night(con, nights[-1]["day"], MatcherSettings(), "a")
        again = reconcile_night(con, nights[-1]["day"], MatcherSettings(), "b")
        assert again.plan.why == f"resumed after {nights[-1]['day']}, the last night walked"
        assert (again.walked, again.change.allocations, again.change.reversals) == (0, 0, 0)
        assert _state(con, nights[-1]["day"]) == nights[-1]["full_state"]
        back = reconcile_night(con, nights[-3]["day"], MatcherSettings(), "c")
        assert back.plan.why == f"resumed after {nights[-3]['day']}: nothing changed up to the night"
        assert (back.change.allocations, back.change.reversals) == (0, 0)
        assert _state(con, nights[-3]["day"])[1] == nights[-3]["full_state"][1]  # the outcomes as of then
