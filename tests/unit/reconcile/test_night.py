"""The night around the matcher: where a walk resumes, how it is sliced, and that a resumed
walk restores what crosses its start (returns found by account and amount, outcomes of
receipts returned after it)."""

from datetime import date
from decimal import Decimal

import pytest

from pipelines.reconcile.night import day_fingerprints, reconcile_night, slices
from pipelines.settings import MatcherSettings

from .conftest import add_customer, add_invoice, add_payment, make_con

ACCT = "DE89370400440532013000"
_OUTCOMES = ("SELECT transaction_id, outcome, reason_code FROM recon.receipt_outcomes WHERE as_of_date = ? "
             "ORDER BY 1")
_IN_FORCE = ("SELECT transaction_id, invoice_id, kind, effective_date, rule, sum(amount)::VARCHAR "
             "FROM recon.allocation_ledger WHERE effective_date <= ? GROUP BY ALL HAVING sum(amount) <> 0 ORDER BY ALL")


def test_slices_are_whole_days_of_at_most_the_size_unless_one_day_is_larger(con):
    for day, rows in [("2026-01-01", 3), ("2026-01-02", 3), ("2026-01-03", 3), ("2026-01-04", 10),
                      ("2026-01-05", 1)]:
        for i in range(rows):
            add_payment(con, f"T{day}-{i}", day, "1.00")
    day_fingerprints(con, date(2026, 1, 31))  # the transactions per day come from the fingerprint
    ends = slices(con, None, date(2026, 1, 31), 6)
    assert ends == [date(2026, 1, 2), date(2026, 1, 3), date(2026, 1, 4), date(2026, 1, 31)]
    assert slices(con, date(2026, 1, 3), date(2026, 1, 31), 6) == [date(2026, 1, 4), date(2026, 1, 31)]
    assert slices(con, date(2026, 1, 31), date(2026, 1, 31), 6) == [date(2026, 1, 31)]


def _inputs(con):
    """Two receipts of one account; the second is sent back by a return that names nothing
    (found by account and amount), the first by one that names it."""
    add_customer(con, "C1", ACCT)
    add_invoice(con, "1", "A-1001", "100.00")
    add_invoice(con, "2", "A-1002", "250.00", issue="2026-01-15")
    add_invoice(con, "3", "A-1003", "300.00", issue="2026-02-20")
    add_payment(con, "T1", "2026-02-01", "100.00", "A-1001", account=ACCT)
    add_payment(con, "T2", "2026-02-03", "250.00", "", account=ACCT)
    add_payment(con, "R2", "2026-02-10", "-250.00", "RETURN", account=ACCT, return_reason="AC04")
    add_payment(con, "R1", "2026-02-12", "-100.00", "RETURN", account=ACCT, reversal_of="T1", return_reason="MD06")
    add_payment(con, "T3", "2026-02-21", "250.00", "", account=ACCT)
    add_payment(con, "T4", "2026-02-22", "300.00", "A-1003", account=ACCT)


@pytest.mark.parametrize(("nights", "slice_size"), [
    (["2026-02-05", "2026-02-28"], 1_000_000),  # both returns after the resumed walk's start
    (["2026-02-05", "2026-02-11", "2026-02-28"], 1_000_000),
    (["2026-02-28", "2026-02-05"], 1_000_000),  # a backfill: the returns after it are undone in its outcomes
    (["2026-02-05", "2026-02-28"], 1),  # the resumed walk in slices of a day each
])
def test_a_resumed_walk_equals_the_full_walk_across_returns(con, nights, slice_size):
    _inputs(con)
    full = make_con()
    _inputs(full)
    for i, day in enumerate(date.fromisoformat(d) for d in nights):
        night = reconcile_night(con, day, MatcherSettings(slice_transactions=slice_size), f"r{i}")
        if i:
            assert night.plan.why.startswith("resumed after")
            # days with payments after the start; a backfill resumes at its own date: none
            walked = (4 if slice_size == 1 else 1) if nights[i] > nights[i - 1] else 0
            assert night.slices == walked
        reconcile_night(full, day, MatcherSettings(resume=False), f"f{i}")
        assert con.execute(_OUTCOMES, [day]).fetchall() == full.execute(_OUTCOMES, [day]).fetchall()
        assert con.execute(_IN_FORCE, [day]).fetchall() == full.execute(_IN_FORCE, [day]).fetchall()
    last = date.fromisoformat(nights[-1])
    outcomes = dict((t, (o, r)) for t, o, r in con.execute(_OUTCOMES, [last]).fetchall())
    if last == date(2026, 2, 28):
        assert outcomes["T1"] == ("returned", "MD06") and outcomes["T2"] == ("returned", "AC04")
        assert outcomes["T3"][0] == "allocated"  # invoice 2 re-opened by the return, paid by T3
        assert con.execute("SELECT rule FROM recon.allocation_ledger WHERE transaction_id = 'T4'").fetchall() == [
            ("invoice_number",)]
    else:
        assert outcomes["T1"][0] == "allocated" and outcomes["T2"][0] == "allocated"
    full.close()


def test_a_night_without_new_bank_transactions_decides_nothing_and_keeps_the_outcomes(con, monkeypatch):
    import pipelines.reconcile.night as night_module

    _inputs(con)
    reconcile_night(con, date(2026, 2, 28), MatcherSettings(), "r0")
    add_invoice(con, "4", "A-1004", "80.00", issue="2026-03-02")  # ERP data, but no statement
    monkeypatch.setattr(night_module, "match", lambda *a, **k: pytest.fail("nothing to walk"))
    night = reconcile_night(con, date(2026, 3, 6), MatcherSettings(), "r1")
    assert night.plan.why.startswith("resumed after") and night.slices == 0 and night.walked == 0
    full = make_con()
    _inputs(full)
    add_invoice(full, "4", "A-1004", "80.00", issue="2026-03-02")
    monkeypatch.undo()
    reconcile_night(full, date(2026, 3, 6), MatcherSettings(resume=False), "f")
    day = date(2026, 3, 6)
    assert con.execute(_OUTCOMES, [day]).fetchall() == full.execute(_OUTCOMES, [day]).fetchall()
    assert len(con.execute(_OUTCOMES, [day]).fetchall()) == 4  # T1-T4 (R1, R2 return them)
    assert con.execute(_IN_FORCE, [day]).fetchall() == full.execute(_IN_FORCE, [day]).fetchall()
    full.close()


def test_a_walk_holds_only_invoices_issued_by_its_date_and_a_quote_of_a_later_one_counts_for_nothing(con):
    """A slice of a long walk does not load the invoices of the later slices; a payment quoting
    an invoice not issued yet is decided as if it quoted nothing, in slices or not."""
    def inputs(c):
        add_customer(c, "C1", ACCT)
        add_invoice(c, "1", "A-1001", "100.00")
        add_invoice(c, "3", "A-1003", "300.00", issue="2026-02-20")
        add_payment(c, "T0", "2026-02-02", "300.00", "A-1003", account=ACCT)
        add_payment(c, "T4", "2026-02-22", "300.00", "A-1003", account=ACCT)

    inputs(con)
    reconcile_night(con, date(2026, 2, 2), MatcherSettings(), "r0")
    assert con.execute("SELECT invoice_id FROM _book_rows").fetchall() == [("1",)]
    night = reconcile_night(con, date(2026, 2, 28), MatcherSettings(), "r1")
    assert night.plan.why.startswith("resumed after")
    full = make_con()
    inputs(full)
    reconcile_night(full, date(2026, 2, 28), MatcherSettings(slice_transactions=1), "f")  # two slices
    day = date(2026, 2, 28)
    assert con.execute(_OUTCOMES, [day]).fetchall() == full.execute(_OUTCOMES, [day]).fetchall() == [
        ("T0", "on_account", "NO_INVOICE_FITS_AMOUNT"), ("T4", "allocated", None)]
    assert con.execute(_IN_FORCE, [day]).fetchall() == full.execute(_IN_FORCE, [day]).fetchall() == [
        ("T4", "3", "allocation", date(2026, 2, 22), "invoice_number", "300.00")]
    full.close()


def _short_payments(con):
    """Payments 2.00 short of the invoice they quote: a 5% fee tolerance settles each with a
    bank fee, the default 1% leaves the rest open."""
    add_customer(con, "C1", ACCT)
    for i, day in enumerate(["2026-02-01", "2026-02-03", "2026-02-05"], start=1):
        add_invoice(con, str(i), f"A-100{i}", "100.00")
        add_payment(con, f"T{i}", day, "98.00", f"A-100{i}", account=ACCT)


def test_a_night_in_slices_that_stops_part_way_is_walked_in_full_by_the_next(con, monkeypatch):
    import pipelines.reconcile.night as night_module

    _short_payments(con)
    day = date(2026, 2, 28)
    reconcile_night(con, day, MatcherSettings(), "r0")
    fees = "SELECT count(*) FROM recon.allocation_ledger WHERE kind = 'bank_fee' AND event_type = 'allocation'"
    assert con.execute(fees).fetchone()[0] == 0

    # Another fee tolerance (a full walk), in slices of one day; the second slice fails.
    calls = []
    real_match = night_module.match

    def failing_match(*args, **kwargs):
        calls.append(args[1])
        if len(calls) == 2:
            raise RuntimeError("the machine went down")
        return real_match(*args, **kwargs)

    monkeypatch.setattr(night_module, "match", failing_match)
    with pytest.raises(RuntimeError):
        reconcile_night(con, day, MatcherSettings(fee_tolerance_pct=Decimal("5"), slice_transactions=1), "r1")
    monkeypatch.undo()
    # the first slice's entries were committed; the checkpoint is still the last whole night's
    assert con.execute(fees).fetchone()[0] == 1
    assert con.execute("SELECT run_id FROM recon.matcher_checkpoint").fetchall() == [("r0",)]
    assert con.execute("SELECT as_of_date, run_id FROM recon.matcher_unfinished").fetchall() == [(day, "r1")]

    # Back to the settings of the checkpoint: resuming after it would keep the stray bank fee.
    night = reconcile_night(con, day, MatcherSettings(), "r2")
    assert night.plan.why == "full walk: the night of 2026-02-28 (run r1) stopped part-way"
    assert con.execute("SELECT count(*) FROM recon.matcher_unfinished").fetchone()[0] == 0
    full = make_con()
    _short_payments(full)
    reconcile_night(full, day, MatcherSettings(), "f")
    in_force = con.execute(_IN_FORCE, [day]).fetchall()
    assert in_force == full.execute(_IN_FORCE, [day]).fetchall()
    assert [row[2] for row in in_force] == ["allocation"] * 3  # no bank fee in force
    assert con.execute(_OUTCOMES, [day]).fetchall() == full.execute(_OUTCOMES, [day]).fetchall()
    # a night in slices that finishes leaves no mark
    reconcile_night(con, day, MatcherSettings(resume=False, slice_transactions=1), "r3")
    assert con.execute("SELECT count(*) FROM recon.matcher_unfinished").fetchone()[0] == 0
    full.close()
