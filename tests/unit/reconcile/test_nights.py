"""Nights: restatement when data arrives late, and independence from how inputs were split."""

from datetime import date, timedelta

from pipelines.reconcile.ledger import append_changes
from pipelines.reconcile.matcher import match
from pipelines.settings import MatcherSettings

from .conftest import add_customer, add_invoice, add_payment

ACCT = "DE89370400440532013000"


def _night(con, as_of: date, run_id: str):
    result = match(con, as_of, MatcherSettings())
    return append_changes(con, result.entries, run_id, as_of)


def _in_force(con, as_of: date):
    return sorted(con.execute(
        "SELECT transaction_id, invoice_id, kind, sum(amount)::VARCHAR FROM recon.allocation_ledger "
        "WHERE effective_date <= ? GROUP BY ALL HAVING sum(amount) <> 0", [as_of]).fetchall())


def test_a_late_arriving_earlier_payment_is_restated_and_explained_in_the_ledger(con):
    add_customer(con, "C1", ACCT)
    add_invoice(con, "1", "A-1001", "100.00")
    add_payment(con, "T2", "2026-02-10", "100.00", "A-1001", account=ACCT)
    _night(con, date(2026, 2, 10), "night1")
    assert _in_force(con, date(2026, 2, 10)) == [("T2", "1", "allocation", "100.00")]

    # A statement delivered late holds an earlier payment of the same invoice.
    add_payment(con, "T1", "2026-02-05", "100.00", "A-1001", account=ACCT)
    change = _night(con, date(2026, 2, 11), "night2")
    assert (change.allocations, change.reversals) == (1, 1)
    assert _in_force(con, date(2026, 2, 11)) == [("T1", "1", "allocation", "100.00")]
    ledger = con.execute("SELECT event_type, transaction_id, amount::VARCHAR, run_id, reason "
                         "FROM recon.allocation_ledger ORDER BY event_seq").fetchall()
    assert ledger[0] == ("allocation", "T2", "100.00", "night1", None)
    assert ledger[1][:4] == ("reversal", "T2", "-100.00", "night2")
    assert ledger[1][4].startswith("restated")
    assert ledger[2] == ("allocation", "T1", "100.00", "night2", None)


def test_one_full_night_equals_the_same_inputs_split_over_several_nights(con):
    add_customer(con, "C1", ACCT)
    payments = []
    for i in range(12):
        add_invoice(con, str(i), f"A-{1000 + i}", f"{50 + 10 * i}.00", issue=f"2026-01-{i + 1:02d}")
        payments.append((f"T{i:02d}", date(2026, 2, 1) + timedelta(days=i), f"{50 + 10 * i}.00",
                         f"A-{1000 + i}" if i % 3 else ""))
    # Split: each night sees the payments effective up to its date (files arriving daily).
    for tid, day, amount, text in payments:
        add_payment(con, tid, day.isoformat(), amount, text, account=ACCT)
    nights = [date(2026, 2, 1) + timedelta(days=k) for k in range(0, 12, 3)] + [date(2026, 2, 12)]
    for k, night in enumerate(nights):
        _night(con, night, f"split{k}")
    split = _in_force(con, date(2026, 2, 12))
    con.execute("DELETE FROM recon.allocation_ledger")
    _night(con, date(2026, 2, 12), "full")
    assert _in_force(con, date(2026, 2, 12)) == split
    assert len(split) == 12
