from datetime import date
from decimal import Decimal

from pipelines.reconcile.ledger import Allocation, append_changes


def _alloc(tid, inv, amount, day="2026-02-01", rule="exact_invoice_number"):
    return Allocation(tid, inv, Decimal(amount), "EUR", date.fromisoformat(day), rule, "0.1", 1.0, "{}")


def _ledger(con):
    return con.execute(
        "SELECT event_seq, event_type, transaction_id, invoice_id, amount, run_id "
        "FROM recon.allocation_ledger ORDER BY event_seq").fetchall()


def test_same_inputs_twice_append_nothing_the_second_time(con):
    desired = [_alloc("T1", "1", "10.00"), _alloc("T2", "2", "5.00")]
    first = append_changes(con, desired, "run1", date(2026, 3, 1))
    second = append_changes(con, desired, "run2", date(2026, 3, 1))
    assert (first.allocations, first.reversals) == (2, 0)
    assert (second.allocations, second.reversals) == (0, 0)
    assert [r[1:5] for r in _ledger(con)] == [
        ("allocation", "T1", "1", Decimal("10.00")), ("allocation", "T2", "2", Decimal("5.00"))]


def test_entries_wanted_more_than_once_are_summed_and_a_zero_sum_is_no_entry(con):
    desired = [
        _alloc("T1", "1", "10.00"), _alloc("T2", "2", "5.00"),
        Allocation("T1", "1", Decimal("2.50"), "EUR", date(2026, 2, 1), "exact_invoice_number", "0.1", 0.5,
                   '{"b": 1}'),
        _alloc("T3", "3", "4.00"), _alloc("T3", "3", "-4.00"), _alloc("T4", "4", "0.00"),
    ]
    change = append_changes(con, desired, "run1", date(2026, 3, 1))
    assert (change.allocations, change.reversals) == (2, 0)
    assert con.execute("SELECT transaction_id, amount, score, evidence FROM recon.allocation_ledger "
                       "ORDER BY event_seq").fetchall() == [
        ("T1", Decimal("12.50"), 1.0, '{"b": 1} | {}'), ("T2", Decimal("5.00"), 1.0, "{}")]


def test_restatement_appends_a_reversal_then_the_new_allocation(con):
    append_changes(con, [_alloc("T1", "1", "10.00")], "run1", date(2026, 3, 1))
    change = append_changes(con, [_alloc("T1", "1", "7.50"), _alloc("T1", "2", "2.50")],
                            "run2", date(2026, 3, 1))
    assert (change.allocations, change.reversals) == (2, 1)
    rows = _ledger(con)
    assert [r[1:6] for r in rows] == [
        ("allocation", "T1", "1", Decimal("10.00"), "run1"),
        ("reversal", "T1", "1", Decimal("-10.00"), "run2"),
        ("allocation", "T1", "1", Decimal("7.50"), "run2"),
        ("allocation", "T1", "2", Decimal("2.50"), "run2"),
    ]
    reason = con.execute("SELECT reason FROM recon.allocation_ledger WHERE event_type = 'reversal'").fetchall()
    assert reason[0][0].startswith("restated")


def test_an_earlier_night_leaves_later_transactions_alone(con):
    append_changes(con, [_alloc("T1", "1", "10.00", day="2026-02-01"),
                         _alloc("T9", "1", "5.00", day="2026-05-01")], "run1", date(2026, 5, 31))
    # A backfill of 2026-03-01 wants only T1: T9 (effective later) must not be reversed.
    change = append_changes(con, [_alloc("T1", "1", "10.00")], "run2", date(2026, 3, 1))
    assert (change.allocations, change.reversals) == (0, 0)


def test_outcomes_keep_the_nights_of_the_history_window_and_every_later_night(con):
    from pipelines.reconcile.night import store_outcomes

    def night(day: str, tid: str) -> None:
        con.execute("CREATE OR REPLACE TEMP TABLE _night_outcomes AS "
                    "SELECT ? AS transaction_id, 'C1' AS payer_customer_id, 'account' AS payer_evidence, "
                    "'allocated' AS outcome, NULL AS reason_code, NULL AS candidates", [tid])
        store_outcomes(con, date.fromisoformat(day), f"run-{day}", history_days=7)

    def nights() -> list[tuple[str, str]]:
        return [(str(d), t) for d, t in con.execute(
            "SELECT as_of_date, transaction_id FROM recon.receipt_outcomes ORDER BY 1").fetchall()]

    night("2026-03-01", "A")
    night("2026-03-05", "B")
    night("2026-03-08", "C")  # 2026-03-01 is exactly 7 days before: kept
    assert nights() == [("2026-03-01", "A"), ("2026-03-05", "B"), ("2026-03-08", "C")]
    night("2026-03-09", "D")  # 2026-03-01 is now 8 days before: dropped
    assert nights() == [("2026-03-05", "B"), ("2026-03-08", "C"), ("2026-03-09", "D")]
    night("2026-03-05", "E")  # a backfill replaces its own night and leaves later ones alone
    assert nights() == [("2026-03-05", "E"), ("2026-03-08", "C"), ("2026-03-09", "D")]


def test_the_first_night_a_receipt_was_an_exception_outlives_the_outcome_history(con):
    from pipelines.reconcile.night import store_outcomes

    def night(day: str, exceptions: list[str], matched: tuple[str, ...] = ()) -> None:
        rows = [(t, "exception") for t in exceptions] + [(t, "allocated") for t in matched]
        con.execute("CREATE OR REPLACE TEMP TABLE _night_outcomes AS SELECT t.transaction_id, 'C1' AS "
                    "payer_customer_id, 'account' AS payer_evidence, t.outcome, NULL AS reason_code, "
                    "NULL AS candidates FROM (SELECT unnest(?) AS transaction_id, unnest(?) AS outcome) t",
                    [[r[0] for r in rows], [r[1] for r in rows]])
        store_outcomes(con, date.fromisoformat(day), f"run-{day}", history_days=7)

    def first_seen() -> dict[str, str]:
        return {t: str(d) for t, d in con.execute(
            "SELECT transaction_id, first_seen_date FROM recon.exception_first_seen").fetchall()}

    # a warehouse from before the table: two kept nights of outcomes, no first-seen dates yet
    night("2026-03-01", ["X"])
    con.execute("DELETE FROM recon.exception_first_seen")
    night("2026-03-02", ["X"], matched=("Y",))
    assert first_seen() == {"X": "2026-03-01"}  # read from the kept nights the first time
    for day in range(3, 21):
        night(f"2026-03-{day:02d}", ["X", "Y"] if day >= 10 else ["X"])
    kept = con.execute("SELECT min(as_of_date) FROM recon.receipt_outcomes").fetchone()[0]
    assert str(kept) == "2026-03-13"  # 2026-03-01 is long out of the outcome history
    assert first_seen() == {"X": "2026-03-01", "Y": "2026-03-10"}
    # the last night run again, now with Z an exception and X matched: X keeps its date
    night("2026-03-20", ["Y", "Z"], matched=("X",))
    night("2026-03-20", ["Y"], matched=("X", "Z"))  # and again: Z was never an exception
    assert first_seen() == {"X": "2026-03-01", "Y": "2026-03-10"}
    night("2026-03-05", ["Y"])  # a backfill of an earlier night moves Y's date back
    assert first_seen() == {"X": "2026-03-01", "Y": "2026-03-05"}
