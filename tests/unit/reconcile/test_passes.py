from datetime import date
from decimal import Decimal

from pipelines.reconcile.passes import RULE_EXACT_NUMBER, exact_number_allocations

from .conftest import add_customer, add_invoice, add_payment

AS_OF = date(2026, 12, 31)


def _pairs(allocations):
    return [(a.transaction_id, a.invoice_id, a.amount) for a in allocations]


def test_exact_number_in_text_is_applied_whole_token_case_insensitive(con):
    add_invoice(con, "1", "INV-0042", "100.00")
    add_invoice(con, "2", "INV-00421", "50.00")
    add_payment(con, "T1", "2026-02-01", "100.00", "payment for inv-0042, thanks")
    allocations = exact_number_allocations(con, AS_OF)
    assert _pairs(allocations) == [("T1", "1", Decimal("100.00"))]
    assert allocations[0].rule == RULE_EXACT_NUMBER
    assert '"token": "inv-0042"' in allocations[0].evidence


def test_several_numbers_in_one_text_are_paid_in_the_order_quoted(con):
    add_invoice(con, "1", "A-1", "60.00")
    add_invoice(con, "2", "A-2", "70.00")
    add_payment(con, "T1", "2026-02-01", "100.00", "A-2 A-1")
    assert _pairs(exact_number_allocations(con, AS_OF)) == [
        ("T1", "2", Decimal("70.00")), ("T1", "1", Decimal("30.00"))]


def test_payments_are_taken_in_date_order_against_what_is_open_then(con):
    add_invoice(con, "1", "A-1", "100.00")
    # T2 is later by date although its id sorts first: T0 pays first, T2 gets the rest.
    add_payment(con, "T2", "2026-03-01", "80.00", "A-1")
    add_payment(con, "T0", "2026-02-01", "70.00", "A-1")
    assert _pairs(exact_number_allocations(con, AS_OF)) == [
        ("T0", "1", Decimal("70.00")), ("T2", "1", Decimal("30.00"))]


def test_credit_note_dated_before_the_payment_reduces_what_is_open(con):
    add_invoice(con, "1", "A-1", "100.00")
    con.execute("INSERT INTO staging.stg_erp__credit_notes VALUES "
                "('CN1', '1', 'C1', '2026-01-15', 'EUR', 25.00), "
                "('CN2', '1', 'C1', '2026-06-01', 'EUR', 10.00)")
    add_payment(con, "T1", "2026-02-01", "100.00", "A-1")
    assert _pairs(exact_number_allocations(con, AS_OF)) == [("T1", "1", Decimal("75.00"))]


def test_no_match_for_other_currency_cancelled_later_issued_reversal_or_future(con):
    add_invoice(con, "1", "USD-1", "10.00", currency="USD")
    add_invoice(con, "2", "CXL-1", "10.00", status="cancelled")
    add_invoice(con, "3", "LATE-1", "10.00", issue="2026-05-01")
    add_invoice(con, "4", "REV-1", "10.00")
    add_invoice(con, "5", "FUT-1", "10.00")
    add_payment(con, "T1", "2026-02-01", "10.00", "USD-1")
    add_payment(con, "T2", "2026-02-01", "10.00", "CXL-1")
    add_payment(con, "T3", "2026-02-01", "10.00", "LATE-1")
    add_payment(con, "T4", "2026-02-01", "10.00", "REV-1", reversal=True)
    add_payment(con, "T5", "2027-01-05", "10.00", "FUT-1")
    assert exact_number_allocations(con, AS_OF) == []


def test_leading_zeros_matter_for_an_exact_match(con):
    add_invoice(con, "1", "000123", "10.00")
    add_payment(con, "T1", "2026-02-01", "10.00", "invoice 123")
    assert exact_number_allocations(con, AS_OF) == []


def test_known_payer_quoting_another_customers_invoice_is_not_applied(con):
    add_customer(con, "C1", "DE89 3704 0044 0532 0130 00")
    add_customer(con, "C2", "CH9300762011623852957")
    add_invoice(con, "1", "A-1", "10.00", customer="C2")
    add_invoice(con, "2", "A-2", "10.00", customer="C1")
    add_payment(con, "T1", "2026-02-01", "10.00", "A-1", account="DE89370400440532013000")
    add_payment(con, "T2", "2026-02-01", "10.00", "A-2", account="de89 3704 0044 0532 0130 00")
    assert _pairs(exact_number_allocations(con, AS_OF)) == [("T2", "2", Decimal("10.00"))]


def test_an_unknown_payer_quoting_an_invoice_is_applied(con):
    add_customer(con, "C1", "DE89370400440532013000")
    add_invoice(con, "1", "A-1", "10.00", customer="C1")
    add_payment(con, "T1", "2026-02-01", "10.00", "A-1", account="GB33BUKB20201555555555")
    assert _pairs(exact_number_allocations(con, AS_OF)) == [("T1", "1", Decimal("10.00"))]


def test_payer_known_by_exact_name_or_alias_blocks_another_customers_invoice(con):
    add_customer(con, "C1", name="Müller Maschinenbau GmbH", aliases="MM Bau")
    add_customer(con, "C2", name="Nordlicht Logistics AB")
    add_invoice(con, "1", "A-1", "10.00", customer="C2")
    add_invoice(con, "2", "A-2", "10.00", customer="C1")
    add_payment(con, "T1", "2026-02-01", "10.00", "A-1", name="MULLER MASCHINENBAU GMBH")
    add_payment(con, "T2", "2026-02-01", "10.00", "A-1", name="mm-bau")
    add_payment(con, "T3", "2026-02-01", "10.00", "A-2", name="Müller Maschinenbau GmbH.")
    assert _pairs(exact_number_allocations(con, AS_OF)) == [("T3", "2", Decimal("10.00"))]


def test_a_name_two_customers_share_identifies_no_one(con):
    add_customer(con, "C1", name="Alpha Trading")
    add_customer(con, "C2", name="ALPHA TRADING")
    add_invoice(con, "1", "A-1", "10.00", customer="C2")
    add_payment(con, "T1", "2026-02-01", "10.00", "A-1", name="Alpha Trading")
    assert _pairs(exact_number_allocations(con, AS_OF)) == [("T1", "1", Decimal("10.00"))]


def test_quoted_number_that_may_be_a_typo_for_another_open_invoice_is_not_applied(con):
    add_invoice(con, "1", "INV-260", "500.00")
    add_invoice(con, "2", "INV-206", "6092.88")
    # quotes INV-260 (open 500.00) but pays exactly what INV-206 has open: a person decides
    add_payment(con, "T1", "2026-02-01", "6092.88", "Rechnung INV-260")
    # a genuine partial payment of INV-260: no other invoice is open for 200.00
    add_payment(con, "T2", "2026-02-02", "200.00", "Rechnung INV-260")
    assert _pairs(exact_number_allocations(con, AS_OF)) == [("T2", "1", Decimal("200.00"))]
