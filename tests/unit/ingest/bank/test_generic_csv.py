"""The generic bank CSV layout: header handling, values, ids, rejects, statements."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from pipelines.ingest.bank import generic_csv
from pipelines.ingest.bank.dispatch import parse_bytes
from pipelines.ingest.bank.records import BALANCE_NOT_CHECKABLE, UnreadableFile, make_transaction_id

HEADER = (
    "account,booking_date,value_date,amount,currency,counterparty_name,"
    "counterparty_account,reference,remittance_info"
)
ACCT = "DE89370400440532013000"


def csv_bytes(*rows: str, header: str = HEADER, newline: str = "\n") -> bytes:
    return newline.join([header, *rows]).encode() + newline.encode()


def read(data: bytes, name: str = "bank.csv"):
    result = generic_csv.parse(data, name)
    assert len(result.transactions) == len(result.loaded) + len(result.rejected)
    return result


def test_rows_values_and_statement() -> None:
    data = csv_bytes(
        f"{ACCT},2024-03-01,2024-03-02,1250.00,EUR,ACME GmbH,DE02120300000000202051,"
        "BR-1,Invoice INV-1001",
        f"{ACCT},2024-03-01,,-19.99,eur,Telco,,,Monthly fee",
        "CH9300762011623852957,2024-03-04,2024-03-04,18.150,CHF,Kunde AG,,BR-9,",
    )
    result = read(data)
    assert result.format == "generic_csv"
    first, second, third = result.transactions
    assert (first.account, first.booking_date, first.value_date) == (
        ACCT,
        date(2024, 3, 1),
        date(2024, 3, 2),
    )
    assert (first.amount, first.currency) == (Decimal("1250.00"), "EUR")
    assert first.counterparty_name == "ACME GmbH"
    assert first.counterparty_account == "DE02120300000000202051"
    assert first.bank_reference == "BR-1"
    assert first.remittance_info == "Invoice INV-1001"
    assert first.location == "line 2"
    assert first.source_file == "bank.csv"
    assert second.amount == Decimal("-19.99")
    assert second.currency == "EUR"  # upper-cased ISO code
    assert second.value_date is None
    assert second.effective_date == date(2024, 3, 1)
    assert str(third.amount) == "18.150"  # every decimal kept
    assert result.rejected == []
    by_account = {s.account: s for s in result.statements}
    assert set(by_account) == {ACCT, "CH9300762011623852957"}
    eur = by_account[ACCT]
    assert eur.balance_status == BALANCE_NOT_CHECKABLE
    assert eur.entries_total == Decimal("1230.01")
    assert eur.entry_count == 2
    assert eur.currency == "EUR"
    assert (eur.from_date, eur.to_date) == (date(2024, 3, 1), date(2024, 3, 1))


def test_header_order_extra_columns_bom_and_optional_columns() -> None:
    header = (
        "Reference,remittance_info,amount,currency,booking_date,value_date,account,"
        "counterparty_account,counterparty_name,note,end_to_end_id,structured_reference"
    )
    row = f"R-7,text,-5.00,USD,2024-01-31,,{ACCT},,Shop,internal note,E2E-9,RF18539007547034"
    result = read(b"\xef\xbb\xbf" + csv_bytes(row, header=header, newline="\r\n"))
    (tx,) = result.loaded
    assert (tx.amount, tx.currency, tx.account) == (Decimal("-5.00"), "USD", ACCT)
    assert tx.bank_reference == "R-7"
    assert tx.end_to_end_id == "E2E-9"
    assert tx.structured_reference == "RF18539007547034"


def test_semicolon_delimited_and_quoted_fields_with_newlines() -> None:
    header = HEADER.replace(",", ";")
    rows = [
        f'{ACCT};2024-05-02;2024-05-02;100.00;EUR;"Doe; John";;R1;"two\nlines, with comma"',
        f"{ACCT};2024-05-03;2024-05-03;abc;EUR;X;;R2;bad",
    ]
    result = read(csv_bytes(*rows, header=header))
    first, second = result.transactions
    assert first.counterparty_name == "Doe; John"
    assert first.remittance_info == "two\nlines, with comma"
    # the quoted newline makes the next record start on line 4
    assert second.location == "line 4"
    assert second.reject_reason == (
        "bank.csv, line 4, column amount: expected an amount like -1234.56, found 'abc'"
    )


def test_ids_from_reference_with_occurrence_index() -> None:
    rows = [
        f"{ACCT},2024-03-01,,10.00,EUR,A,,REF-1,",
        f"{ACCT},2024-03-02,,20.00,EUR,B,,REF-1,",
        f"{ACCT},2024-03-02,,30.00,EUR,C,,REF-2,",
        "OTHER-ACCT,2024-03-02,,30.00,EUR,C,,REF-1,",
    ]
    ids = [t.transaction_id for t in read(csv_bytes(*rows)).transactions]
    assert ids == [
        make_transaction_id(ACCT, "REF-1", 0),
        make_transaction_id(ACCT, "REF-1", 1),
        make_transaction_id(ACCT, "REF-2", 0),
        make_transaction_id("OTHER-ACCT", "REF-1", 0),
    ]


def test_ids_without_reference_from_account_date_and_position() -> None:
    rows = [
        f"{ACCT},2024-03-01,,10.00,EUR,A,,,",
        f"{ACCT},2024-03-02,,10.00,EUR,A,,,",
        f"{ACCT},2024-03-01,,10.00,EUR,A,,,",  # identical-looking genuine second payment
    ]
    result = read(csv_bytes(*rows))
    assert len(result.loaded) == 3  # both identical rows kept
    assert [t.transaction_id for t in result.transactions] == [
        make_transaction_id(ACCT, "csv", "2024-03-01", 0),
        make_transaction_id(ACCT, "csv", "2024-03-02", 0),
        make_transaction_id(ACCT, "csv", "2024-03-01", 1),
    ]
    assert len({t.transaction_id for t in result.transactions}) == 3


def test_resent_and_extended_files_keep_their_ids() -> None:
    march = [
        f"{ACCT},2024-03-01,,10.00,EUR,A,,,",
        f"{ACCT},2024-03-01,,10.00,EUR,A,,,",
        f"{ACCT},2024-03-05,,-3.00,EUR,B,,R-5,",
    ]
    april = [f"{ACCT},2024-04-01,,7.00,EUR,C,,,", f"{ACCT},2024-04-01,,-3.00,EUR,B,,R-6,"]
    first = read(csv_bytes(*march), "march.csv")
    again = read(csv_bytes(*march), "march-resent.csv")
    extended = read(csv_bytes(*march, *april), "march-april.csv")
    ids = [t.transaction_id for t in first.transactions]
    assert [t.transaction_id for t in again.transactions] == ids
    assert [t.transaction_id for t in extended.transactions][:3] == ids


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        (
            f"{ACCT},2024-03-01,,,EUR,A,,,",
            "line 2, column amount: expected an amount like -1234.56, found nothing",
        ),
        (
            f"{ACCT},2024-03-01,,0.00,EUR,A,,,",
            "line 2, column amount: expected a non-zero amount, found '0.00'",
        ),
        (
            f"{ACCT},2024-03-01,,1e3,EUR,A,,,",
            "line 2, column amount: expected an amount like -1234.56, found '1e3'",
        ),
        (
            f"{ACCT},2024-02-30,,5.00,EUR,A,,,",
            "line 2, column booking_date: expected a date YYYY-MM-DD, found '2024-02-30'",
        ),
        (
            f"{ACCT},01.03.2024,,5.00,EUR,A,,,",
            "line 2, column booking_date: expected a date YYYY-MM-DD, found '01.03.2024'",
        ),
        (
            f"{ACCT},2024-03-01,2024-13-01,5.00,EUR,A,,,",
            "line 2, column value_date: expected a date YYYY-MM-DD, found '2024-13-01'",
        ),
        (
            f"{ACCT},2024-03-01,,5.00,HAT,A,,,",
            "line 2, column currency: expected ISO 4217 currency code, found 'HAT'",
        ),
        (
            f"{ACCT},2024-03-01,,5.00,,A,,,",
            "line 2, column currency: expected ISO 4217 currency code, found nothing",
        ),
        (
            ",2024-03-01,,5.00,EUR,A,,,",
            "line 2, column account: expected an account (IBAN or number), found nothing",
        ),
        (
            f"{ACCT},,,5.00,EUR,A,,,",
            "line 2, column booking_date: expected a date YYYY-MM-DD, found nothing",
        ),
    ],
)
def test_bad_rows_are_rejected_with_reason(row: str, reason: str) -> None:
    good = f"{ACCT},2024-03-01,,1.00,EUR,ok,,,"
    result = read(csv_bytes(row, good))
    assert len(result.loaded) == 1
    (bad,) = result.rejected
    assert bad.reject_reason == f"bank.csv, {reason}"
    assert bad.transaction_id  # rejected rows are identifiable too
    assert bad.account in (ACCT, "")


def test_a_row_with_several_problems_lists_them_all_and_keeps_what_it_read() -> None:
    result = read(csv_bytes(f"{ACCT},2024-02-30,,12;50,XYZ,Payer,,R,text"))
    (bad,) = result.rejected
    assert bad.reject_reason.count("bank.csv, line 2") == 3
    assert "column booking_date" in bad.reject_reason
    assert "column amount: expected an amount like -1234.56, found '12;50'" in bad.reject_reason
    assert "column currency: expected ISO 4217 currency code, found 'XYZ'" in bad.reject_reason
    assert (bad.counterparty_name, bad.bank_reference, bad.currency) == ("Payer", "R", "XYZ")


def test_row_with_more_fields_than_the_header_is_rejected() -> None:
    result = read(csv_bytes(f"{ACCT},2024-03-01,,1.00,EUR,A,,R,text,surplus"))
    (bad,) = result.rejected
    assert bad.reject_reason == (
        "bank.csv, line 2: expected 9 fields as in the header, found 10 "
        "('surplus' beyond the last column)"
    )


def test_short_rows_and_blank_lines() -> None:
    result = read(csv_bytes("", f"{ACCT},2024-03-01,,1.00,EUR", ""))
    (tx,) = result.loaded
    assert tx.location == "line 3"
    assert tx.counterparty_name == ""


def test_missing_column_is_unreadable() -> None:
    header = HEADER.replace(",currency", "")
    with pytest.raises(UnreadableFile) as err:
        generic_csv.parse(csv_bytes(f"{ACCT},2024-03-01,,1.00,A,,,", header=header), "b.csv")
    assert err.value.reason.startswith(
        "b.csv, line 1 (header): expected the generic CSV header with columns account, "
        "booking_date, value_date, amount, currency,"
    )
    assert "found a header without currency" in err.value.reason


def test_undecodable_bytes_are_unreadable_with_line_and_offset() -> None:
    data = csv_bytes(f"{ACCT},2024-03-01,,1.00,EUR,A,,,", f"{ACCT},2024-03-01,,1.00,EUR,Zürich,,,")
    latin1 = data.decode().encode("latin-1")
    with pytest.raises(UnreadableFile) as err:
        generic_csv.parse(latin1, "b.csv")
    offset = latin1.index(b"\xfc")
    assert (
        err.value.reason == f"b.csv, line 3 (byte {offset}): expected UTF-8 text, found byte 0xFC"
    )


def test_detected_through_the_dispatcher() -> None:
    result = parse_bytes(csv_bytes(f"{ACCT},2024-03-01,,1.00,EUR,A,,,"), "inbox-file")
    assert result.format == "generic_csv"
    assert len(result.loaded) == 1
