"""Every kind of evidence and every outcome of the matcher, on small hand-made inputs."""

from datetime import date
from decimal import Decimal

import pytest

from pipelines.reconcile.matcher import money, money_text

from .conftest import (
    add_credit_note,
    add_customer,
    add_decision,
    add_invoice,
    add_payment,
    allocations,
    outcome_of,
    run,
)

ACCT_C1 = "DE89370400440532013000"
ACCT_C2 = "CH9300762011623852957"
THIRD = "GB33BUKB20201555555555"


def _two_customers(con):
    add_customer(con, "C1", ACCT_C1, name="Müller Maschinenbau GmbH", aliases="MM Bau")
    add_customer(con, "C2", ACCT_C2, name="Nordlicht Logistics AB")


# ------------------------------------------------------------------ references
def test_invoice_number_spelled_in_many_ways_is_recognised(con):
    _two_customers(con)
    add_invoice(con, "1", "INV-2025-004711", "100.00")
    for i, text in enumerate(["INV-2025-004711", "inv 2025 004711", "Rechnung 2025-4711 Kd 10023",
                              "INV2025004711", "2025/004711", "payment inv-2025-4711."]):
        add_payment(con, f"T{i}", f"2026-02-0{i + 1}", "10.00", text, account=ACCT_C1)
    result = run(con)
    assert [a[:3] for a in allocations(result)] == [(f"T{i}", "1", "10.00") for i in range(6)]
    assert {a[3] for a in allocations(result)} == {"invoice_number"}


def test_leading_zeros_of_a_plain_numeric_number_are_not_dropped_into_another_number(con):
    _two_customers(con)
    add_invoice(con, "1", "000123", "10.00")
    add_invoice(con, "2", "12300", "10.00")
    add_payment(con, "T1", "2026-02-01", "10.00", "invoice 12300", account=ACCT_C1)
    assert [a[:2] for a in allocations(run(con))] == [("T1", "2")]


def test_several_numbers_in_one_text_are_all_paid(con):
    _two_customers(con)
    add_invoice(con, "1", "A-1001", "60.00")
    add_invoice(con, "2", "A-1002", "70.00")
    add_payment(con, "T1", "2026-02-01", "130.00", "A-1002, A-1001", account=ACCT_C1)
    assert allocations(run(con)) == [("T1", "2", "70.00", "invoice_number"),
                                     ("T1", "1", "60.00", "invoice_number")]


def test_iso11649_creditor_reference_and_swiss_qr_reference_identify_the_invoice(con):
    _two_customers(con)
    add_invoice(con, "1", "INV-2025-004711", "50.00")
    add_invoice(con, "2", "77123", "80.00")
    add_payment(con, "T1", "2026-02-01", "50.00", structured="RF42INV2025004711", account=ACCT_C1)
    add_payment(con, "T2", "2026-02-02", "80.00", structured="210000000003139471430009017"[:0]
                + "000000000000000000000771236", account=ACCT_C1)
    result = run(con)
    assert allocations(result) == [("T1", "1", "50.00", "structured_reference"),
                                   ("T2", "2", "80.00", "structured_reference")]


def test_known_payer_quoting_another_customers_invoice_goes_to_a_person(con):
    _two_customers(con)
    add_invoice(con, "1", "A-1001", "10.00", customer="C2")
    add_payment(con, "T1", "2026-02-01", "10.00", "A-1001", account=ACCT_C1)
    result = run(con)
    assert allocations(result) == []
    o = outcome_of(result, "T1")
    assert (o.outcome, o.reason_code, o.candidates, o.payer_customer_id) == (
        "exception", "QUOTED_INVOICE_OF_OTHER_CUSTOMER", ["A-1001"], "C1")


def test_a_third_party_paying_a_quoted_invoice_is_applied(con):
    _two_customers(con)
    add_invoice(con, "1", "A-1001", "10.00", customer="C2")
    add_payment(con, "T1", "2026-02-01", "10.00", "A-1001", account=THIRD, name="Insurer plc")
    result = run(con)
    assert allocations(result) == [("T1", "1", "10.00", "invoice_number")]
    assert outcome_of(result, "T1").payer_customer_id == "C2"


def test_quoted_number_that_may_be_a_typo_for_another_open_invoice_goes_to_a_person(con):
    _two_customers(con)
    add_invoice(con, "1", "INV-2600", "500.00")
    add_invoice(con, "2", "INV-2060", "6092.88")
    add_payment(con, "T1", "2026-02-01", "6092.88", "Rechnung INV-2600", account=ACCT_C1)
    add_payment(con, "T2", "2026-02-02", "200.00", "Rechnung INV-2600", account=ACCT_C1)
    result = run(con)
    assert allocations(result) == [("T2", "1", "200.00", "invoice_number")]
    assert outcome_of(result, "T1").reason_code == "QUOTED_NUMBER_MAY_BE_TYPO"
    assert outcome_of(result, "T1").candidates == ["INV-2060", "INV-2600"]


def test_a_reference_with_a_typo_applies_when_payer_and_amount_agree(con):
    _two_customers(con)
    add_invoice(con, "1", "INV-2025-004711", "123.45")
    add_invoice(con, "2", "INV-2025-009999", "80.00")
    add_payment(con, "T1", "2026-02-01", "123.45", "INV-2025-004771", account=ACCT_C1)
    result = run(con)
    assert allocations(result) == [("T1", "1", "123.45", "invoice_number_fuzzy")]


def test_only_same_currency_and_issued_on_or_before_the_payment(con):
    _two_customers(con)
    add_invoice(con, "1", "U-1001", "10.00", currency="USD")
    add_invoice(con, "2", "L-1002", "10.00", issue="2026-05-01")
    add_invoice(con, "3", "X-1003", "10.00", status="cancelled")
    add_payment(con, "T1", "2026-02-01", "10.00", "U-1001", account=THIRD)
    add_payment(con, "T2", "2026-02-01", "10.00", "L-1002", account=THIRD)
    add_payment(con, "T3", "2026-02-01", "10.00", "X-1003", account=THIRD)
    result = run(con)
    assert allocations(result) == []
    assert {o.reason_code for o in result.outcomes} == {"UNKNOWN_PAYER"}


# ------------------------------------------------------------------ amounts and payer
def test_two_open_invoices_with_the_same_amount_are_not_auto_applied(con):
    _two_customers(con)
    add_invoice(con, "1", "A-1001", "250.00")
    add_invoice(con, "2", "A-1002", "250.00")
    add_payment(con, "T1", "2026-02-01", "250.00", "thanks", account=ACCT_C1)
    result = run(con)
    assert allocations(result) == []
    o = outcome_of(result, "T1")
    assert (o.outcome, o.reason_code, o.candidates) == (
        "exception", "SEVERAL_INVOICES_FIT_AMOUNT", ["A-1001", "A-1002"])


def test_unique_amount_and_unique_combination_from_a_known_payer(con):
    _two_customers(con)
    add_invoice(con, "1", "A-1001", "100.00", due="2026-01-10")
    add_invoice(con, "2", "A-1002", "37.50", due="2026-01-20")
    add_invoice(con, "3", "A-1003", "12.25", due="2026-01-30")
    add_payment(con, "T1", "2026-02-01", "37.50", "", account=ACCT_C1)
    add_payment(con, "T2", "2026-02-02", "112.25", "", account=ACCT_C1)
    result = run(con)
    assert allocations(result) == [
        ("T1", "2", "37.50", "amount_unique_invoice"),
        ("T2", "1", "100.00", "amount_combination"),
        ("T2", "3", "12.25", "amount_combination"),
    ]


def test_several_combinations_that_fit_go_to_a_person(con):
    _two_customers(con)
    for i, amount in enumerate(["10.00", "20.00", "30.00", "40.00"]):
        add_invoice(con, str(i), f"A-100{i}", amount)
    add_payment(con, "T1", "2026-02-01", "50.00", "", account=ACCT_C1)  # 10+40 or 20+30
    result = run(con)
    assert allocations(result) == []
    assert outcome_of(result, "T1").reason_code == "SEVERAL_COMBINATIONS_FIT_AMOUNT"


def test_a_payer_name_with_a_typo_is_identified_and_ties_are_rejected(con):
    add_customer(con, "C1", name="Nordlicht Logistics AB")
    add_customer(con, "C2", name="Alpha Trading GmbH")
    add_customer(con, "C3", name="Alpha Trading AG")
    add_invoice(con, "1", "A-1001", "99.00", customer="C1")
    add_invoice(con, "2", "A-1002", "77.00", customer="C2")
    add_payment(con, "T1", "2026-02-01", "99.00", "", name="NORDLICHT LOGSTICS")
    add_payment(con, "T2", "2026-02-01", "77.00", "", name="Alpha Trading")
    result = run(con)
    assert allocations(result) == [("T1", "1", "99.00", "amount_unique_invoice")]
    assert outcome_of(result, "T1").payer_evidence.startswith("fuzzy_name")
    assert outcome_of(result, "T2").reason_code == "UNKNOWN_PAYER"


def test_an_account_is_learned_from_an_earlier_match_only(con):
    add_customer(con, "C1", name="Nordlicht Logistics AB")
    add_invoice(con, "1", "A-1001", "10.00", customer="C1")
    add_invoice(con, "2", "A-1002", "20.00", customer="C1")
    new_account = "NL91ABNA0417164300"
    # The later payment (no name, no reference) is placed only because the earlier one,
    # from the same new account, named the customer and quoted an invoice.
    add_payment(con, "T2", "2026-03-01", "20.00", "", account=new_account)
    add_payment(con, "T1", "2026-02-01", "10.00", "A-1001", account=new_account,
                name="Nordlicht Logistics AB")
    result = run(con)
    assert allocations(result) == [("T1", "1", "10.00", "invoice_number"),
                                   ("T2", "2", "20.00", "amount_unique_invoice")]
    assert outcome_of(result, "T2").payer_evidence == "learned_account"


def test_unknown_payer_without_reference_is_an_exception_and_known_payer_without_fit_on_account(con):
    _two_customers(con)
    add_invoice(con, "1", "A-1001", "10.00")
    add_payment(con, "T1", "2026-02-01", "55.00", "thanks", name="Someone")
    add_payment(con, "T2", "2026-02-01", "55.00", "thanks", account=ACCT_C1)
    result = run(con)
    assert (outcome_of(result, "T1").outcome, outcome_of(result, "T1").reason_code) == (
        "exception", "UNKNOWN_PAYER")
    assert (outcome_of(result, "T2").outcome, outcome_of(result, "T2").payer_customer_id) == (
        "on_account", "C1")


# ------------------------------------------------------------------ short, over, fees
def test_fee_short_payment_settles_the_invoice_with_a_bank_fee(con):
    _two_customers(con)
    add_invoice(con, "1", "A-1001", "1000.00")
    add_payment(con, "T1", "2026-02-01", "996.50", "A-1001", account=ACCT_C1)
    result = run(con)
    assert [(e.invoice_id, str(e.amount), e.kind, e.rule) for e in result.entries] == [
        ("1", "996.50", "allocation", "invoice_number"), ("1", "3.50", "bank_fee", "bank_fee")]


def test_fee_tolerance_is_the_percentage_of_the_payment_rounded_half_to_even_to_the_cent(con):
    _two_customers(con)
    add_invoice(con, "1", "A-1001", "300.50")
    add_invoice(con, "2", "A-1002", "298.49")
    add_payment(con, "T1", "2026-02-01", "299.00", "A-1001", account=ACCT_C1)  # 0.5% = 1.495 -> 1.50
    add_payment(con, "T2", "2026-02-02", "297.00", "A-1002", account=ACCT_C1)  # 0.5% = 1.485 -> 1.48
    result = run(con, fee_tolerance_pct=Decimal("0.5"))
    assert [(e.transaction_id, str(e.amount), e.kind) for e in result.entries] == [
        ("T1", "299.00", "allocation"), ("T1", "1.50", "bank_fee"), ("T2", "297.00", "allocation")]


def test_partial_payment_and_overpayment(con):
    _two_customers(con)
    add_invoice(con, "1", "A-1001", "1000.00")
    add_invoice(con, "2", "A-1002", "300.00")
    add_payment(con, "T1", "2026-02-01", "400.00", "A-1001", account=ACCT_C1)
    add_payment(con, "T2", "2026-02-02", "350.00", "A-1002", account=ACCT_C1)
    result = run(con)
    assert allocations(result) == [("T1", "1", "400.00", "invoice_number"),
                                   ("T2", "2", "300.00", "invoice_number")]
    assert all(e.kind == "allocation" for e in result.entries)  # no fee: 50.00 stays on account


def test_short_payment_of_several_invoices_pays_oldest_due_first_or_goes_to_a_person(con):
    _two_customers(con)
    add_invoice(con, "1", "A-1001", "100.00", due="2026-03-01")
    add_invoice(con, "2", "A-1002", "100.00", due="2026-02-01")
    add_payment(con, "T1", "2026-02-10", "150.00", "A-1001 A-1002", account=ACCT_C1)
    assert allocations(run(con)) == [("T1", "2", "100.00", "short_payment_oldest_due_first"),
                                     ("T1", "1", "50.00", "short_payment_oldest_due_first")]
    result = run(con, short_payment_policy="exception")
    assert allocations(result) == []
    assert outcome_of(result, "T1").reason_code == "SHORT_PAYMENT_OF_SEVERAL_INVOICES"


def test_credit_notes_dated_before_the_payment_reduce_what_is_open(con):
    _two_customers(con)
    add_invoice(con, "1", "A-1001", "100.00")
    add_credit_note(con, "CN1", "1", "25.00", "2026-01-15")
    add_credit_note(con, "CN2", "1", "10.00", "2026-06-01")
    add_payment(con, "T1", "2026-02-01", "75.00", "A-1001", account=ACCT_C1)
    assert allocations(run(con)) == [("T1", "1", "75.00", "invoice_number")]


# ------------------------------------------------------------------ returns and people
def test_a_returned_payment_reverses_its_allocations_at_the_return_date(con):
    _two_customers(con)
    add_invoice(con, "1", "A-1001", "100.00")
    add_payment(con, "T1", "2026-02-01", "100.00", "A-1001", account=ACCT_C1, e2e="E2E-77")
    add_payment(con, "R1", "2026-02-05", "-100.00", "RETURN AC04", account=ACCT_C1, e2e="E2E-77",
                reversal=True, return_reason="AC04")
    add_payment(con, "T2", "2026-02-06", "100.00", "A-1001 again", account=ACCT_C1)
    result = run(con)
    assert [(e.transaction_id, e.invoice_id, str(e.amount), e.effective_date.isoformat(), e.rule)
            for e in result.entries] == [
        ("T1", "1", "100.00", "2026-02-01", "invoice_number"),
        ("T1", "1", "-100.00", "2026-02-05", "payment_returned"),
        ("T2", "1", "100.00", "2026-02-06", "invoice_number"),
    ]
    assert (outcome_of(result, "T1").outcome, outcome_of(result, "T1").reason_code) == ("returned", "AC04")


def test_a_persons_latest_decision_wins_over_the_matcher(con):
    _two_customers(con)
    add_invoice(con, "1", "A-1001", "100.00")
    add_invoice(con, "2", "A-1002", "100.00")
    add_payment(con, "T1", "2026-02-01", "100.00", "A-1001", account=ACCT_C1)
    add_payment(con, "T2", "2026-02-01", "42.00", "interest", name="Bank")
    add_decision(con, "allocate", "2026-02-03 09:00", tid="T1", invoice_id="1", amount="100.00")
    add_decision(con, "allocate", "2026-02-04 09:00", tid="T1", number="A-1002", amount="100.00",
                 by="ben@finance")
    add_decision(con, "unapply", "2026-02-05 09:00", tid="T1", invoice_id="1")
    add_decision(con, "not_ar", "2026-02-03 09:00", ref="T2")
    result = run(con)
    manual = [(e.transaction_id, e.invoice_id, str(e.amount), e.rule, e.decided_by)
              for e in result.entries]
    assert manual == [("T1", "2", "100.00", "manual", "ben@finance")]
    assert outcome_of(result, "T2").outcome == "not_ar"


def test_the_same_inputs_give_identical_entries(con):
    _two_customers(con)
    add_invoice(con, "1", "A-1001", "100.00")
    add_invoice(con, "2", "A-1002", "37.50")
    add_payment(con, "T1", "2026-02-01", "99.50", "A-1001", account=ACCT_C1)  # 0.50 fee
    add_payment(con, "T2", "2026-02-02", "37.50", "", name="mm bau")
    first, second = run(con), run(con)
    assert first.entries == second.entries and len(first.entries) == 3
    assert run(con, as_of=date(2026, 2, 1)).entries == first.entries[:2]
    assert sum((e.amount for e in first.entries), Decimal(0)) == Decimal("137.50")


def test_a_quote_one_typo_away_from_another_open_invoice_with_an_unconfirming_amount_waits(con):
    _two_customers(con)
    add_invoice(con, "1", "INV-2026-000066", "3000.00")
    add_invoice(con, "2", "INV-2026-000060", "4000.00")
    add_invoice(con, "3", "INV-2026-000123", "1000.00")
    # overpays what INV-...066 has open, and ...060 is one character away: a person decides
    add_payment(con, "T1", "2026-02-01", "4404.50", "Inv. INV-2026-000066", account=ACCT_C1)
    # a partial payment of ...123: no other open number is one typo away, so it applies
    add_payment(con, "T2", "2026-02-02", "400.00", "Inv. INV-2026-000123", account=ACCT_C1)
    result = run(con)
    assert allocations(result) == [("T2", "3", "400.00", "invoice_number")]
    assert outcome_of(result, "T1").reason_code == "QUOTED_NUMBER_MAY_BE_TYPO"


@pytest.mark.parametrize("cents, text", [(0, "0.00"), (5, "0.05"), (-5, "-0.05"), (100, "1.00"), (-1999, "-19.99"),
                                         (123456789012, "1234567890.12")])
def test_amounts_in_the_evidence_are_written_as_exact_two_decimal_text(cents, text):
    assert money_text(cents) == text == str(money(cents))
