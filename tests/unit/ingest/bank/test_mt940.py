"""MT940/MT942 reader: every real file in tests/fixtures/bank/mt940, plus bad input."""

from __future__ import annotations

import re
from collections import Counter
from datetime import date
from decimal import Decimal
from pathlib import Path

import mt940 as mt940_lib
import pytest

from pipelines.ingest.bank import mt940
from pipelines.ingest.bank.records import UnreadableFile, make_transaction_id

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures" / "bank" / "mt940" / "wolph_mt940"

# file: statements, transactions loaded, rejected, money in, money out, balance statuses
EXPECTED = {
    "ASNB/0708271685_09022020_164516.940.txt": (31, 8, 0, "2828.90", "-2771.96", {"ok": 31}),
    "betterplace/sepa_mt9401.sta": (26, 97, 0, "5188474.94", "-14457610.84", {"ok": 26}),
    "cmxl/mt940.sta": (3, 16, 0, "72436.74", "-60109.44", {"ok": 3}),
    "jejik/abnamro.sta": (2, 10, 0, "0", "-345.93", {"mismatch": 2}),
    "jejik/ing.sta": (1, 7, 0, "4.68", "-50.27", {"mismatch": 1}),
    "jejik/postfinance.sta": (2, 4, 0, "239.3", "-79.9", {"ok": 1, "mismatch": 1}),
    "jejik/rabobank-iban.sta": (2, 4, 0, "0", "-70.00", {"ok": 2}),
    "mBank/mt940.sta": (1, 3, 0, "0.03", "0", {"ok": 1}),
    "sberbank/171011_01234945.sta": (1, 3, 0, "0", "-9437.00", {"ok": 1}),
    "self-provided/raiffeisen-cmi.sta": (1, 7, 0, "2066637.00", "-3078850.50", {"mismatch": 1}),
}


def _read(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def _parse(name: str):
    return mt940.parse(_read(name), Path(name).name)


def test_every_fixture_is_listed():
    files = {
        str(p.relative_to(FIXTURES))
        for p in FIXTURES.rglob("*")
        if p.is_file() and p.name not in ("LICENSE", "SOURCE.md")
    }
    assert files == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_real_file_counts_totals_and_balances(name):
    statements, loaded, rejected, money_in, money_out, statuses = EXPECTED[name]
    data = _read(name)
    result = mt940.parse(data, Path(name).name)
    assert result.format == "mt940"
    assert len(result.statements) == statements
    assert len(result.loaded) == loaded
    assert len(result.rejected) == rejected
    # independent count: one transaction per ':61:' line
    assert len(result.transactions) == len(re.findall(rb"^:61:", data, re.M))
    amounts = [t.amount for t in result.transactions]
    assert sum((a for a in amounts if a > 0), Decimal(0)) == Decimal(money_in)
    assert sum((a for a in amounts if a < 0), Decimal(0)) == Decimal(money_out)
    assert dict(Counter(s.balance_status for s in result.statements)) == statuses
    ids = [t.transaction_id for t in result.transactions]
    assert len(set(ids)) == len(ids)
    for t in result.transactions:
        assert t.currency and t.account and t.value_date and t.booking_date
        assert t.source_file == Path(name).name
        assert t.location.startswith("line ")


@pytest.mark.parametrize(
    "name", sorted(n for n in EXPECTED if not n.startswith(("ASNB", "betterplace")))
)
def test_agrees_with_the_mt940_library(name):
    """Cross-check: where the mt-940 library reads the file, counts and amounts agree."""
    data = _read(name)
    lib = mt940_lib.models.Transactions()
    lib.parse(data.decode("utf-8", "replace"))
    ours = _parse(name)
    assert [t.amount for t in ours.transactions] == [t.data["amount"].amount for t in lib]


def test_betterplace_reversal_marks_and_library_difference():
    """54 D, 41 C, 2 RC. The library signs RC (reversal of a credit) as money in; we sign it
    as money out, and every statement balances only with our sign."""
    data = _read("betterplace/sepa_mt9401.sta")
    ours = mt940.parse(data, "sepa_mt9401.sta")
    marks = Counter(m.decode() for m in re.findall(rb"^:61:\d{10}(RC|RD|C|D)", data, re.M))
    assert marks == {"D": 54, "C": 41, "RC": 2}
    rc = [t for t in ours.transactions if t.amount < 0 and t.is_reversal]
    assert [t.amount for t in rc] == [Decimal("-204.88"), Decimal("-204.88")]
    assert sum(1 for t in ours.transactions if t.amount > 0) == 41
    assert sum(1 for t in ours.transactions if t.amount < 0 and not t.is_reversal) == 54
    lib = mt940_lib.models.Transactions()
    lib.parse(data.decode("utf-8"))
    lib_total = sum((t.data["amount"].amount for t in lib), Decimal(0))
    ours_total = sum((t.amount for t in ours.transactions), Decimal(0))
    assert lib_total - ours_total == 4 * Decimal("204.88")
    assert all(s.balance_status == "ok" for s in ours.statements)
    # German returns (RETOURE) are reversals too, with the DK reason supplement ?34
    returns = [t for t in ours.transactions if t.is_reversal and t.amount > 0]
    assert len(returns) == 17
    assert returns[0].return_reason == "914"
    assert "Grund nicht spezifiziert" in returns[0].remittance_info


def test_betterplace_structured_86_fields():
    result = _parse("betterplace/sepa_mt9401.sta")
    first = result.transactions[0]
    assert str(first.amount) == "300.00"  # ':61:…CR300,' : decimal comma, no decimals
    assert first.bank_reference == "0724710345313905"
    assert first.end_to_end_id == "TFNR 40005 00005"
    # sub-fields wrap mid-word across lines and ?NN boundaries: joined without separator
    assert "Reject aus SEPA-Ueberweisungsauftrag" in first.remittance_info
    credit = result.transactions[7]
    assert credit.amount == Decimal("15000.05")
    assert credit.counterparty_name == "Richter Renate 70 Zeichen Beginn Fuellzeichen xxxxxxxx"
    assert credit.counterparty_account == "DE42100100100043921105"
    assert credit.end_to_end_id == "EndToEndIdTFNR2000400001"
    assert credit.statement_id == "T089413956000001"
    assert credit.sequence_number == "00004/00001"
    assert result.statements[0].opening_balance == Decimal("-1234718.36")
    assert result.statements[0].closing_balance == Decimal("-1237628.23")


def test_asnb_blocks_counterparty_and_padding():
    result = _parse("ASNB/0708271685_09022020_164516.940.txt")
    assert Counter(t.amount > 0 for t in result.transactions) == {False: 5, True: 3}
    first = result.transactions[0]
    assert first.amount == Decimal("-65.00")
    assert first.counterparty_account == "NL47INGB9999999999"
    assert first.counterparty_name == "hr gjlm paulissen"
    assert "Betaling sieraden" in first.remittance_info
    # a 65-character line cut mid-word continues without a space
    assert "Betaling aan ICS 99999999999" in result.transactions[2].remittance_info
    assert [s.sequence_number for s in result.statements][:3] == ["1/1", "2/1", "3/1"]


def test_cmxl_currencies_legacy_dem_and_polish_subfields():
    result = _parse("cmxl/mt940.sta")
    assert [s.currency for s in result.statements] == ["DEM", "EUR", "PLN"]
    assert [len([t for t in result.transactions if t.statement_id == s.statement_id])
            for s in result.statements] == [11, 2, 3]  # fmt: skip
    assert result.statements[2].statement_id == "TELEWIZORY S.A."  # trailing space dropped
    assert result.statements[2].account == "320000546101"  # BIC/account
    pl = result.transactions[13]
    assert pl.counterparty_name == "HUTA SZKLA TOPIC UL PRZEMYSLOWA 67 32-669 WROCLAW"
    assert pl.counterparty_account == "PL08106000760000777777777777"
    assert "FAKTURA 333/ 2003." in pl.remittance_info
    # entry date 1102 after value date 021101: booked 2002-11-02
    assert result.transactions[11].value_date == date(2002, 11, 1)
    assert result.transactions[11].booking_date == date(2002, 11, 2)


def test_cmxl_repeated_bank_reference_gets_distinct_ids():
    result = _parse("cmxl/mt940.sta")
    a, b = result.transactions[11], result.transactions[12]
    assert a.bank_reference == b.bank_reference == "55555"
    assert a.transaction_id != b.transaction_id
    assert a.transaction_id == make_transaction_id(
        "10020030/1234567", "ref", "55555", "2002-11-01", 0
    )


def test_rabobank_slash_fields_and_counter_iban():
    result = _parse("jejik/rabobank-iban.sta")
    first = result.transactions[0]
    assert first.counterparty_name == "CONTRA ACCOUNT HOLDER"  # wrapped mid-word
    assert first.counterparty_account == "NL70ABNA0987654321"  # :61: second line
    assert first.end_to_end_id == "01-01-2013 12:00 0030000987654321"
    assert result.transactions[1].remittance_info.startswith("Reference 201301234")
    # both statements repeat :20:/:28C: — ids still differ (opening date in identity)
    assert len({t.transaction_id for t in result.transactions}) == 4


def test_mbank_polish_fields_and_control_characters():
    result = _parse("mBank/mt940.sta")
    t = result.transactions[0]
    assert t.bank_reference == "MB170119012058"
    assert t.counterparty_name == "JAN NOWAK"
    assert t.counterparty_account == "56114010810000267002001001"
    assert t.remittance_info.startswith("PRZELEW SRODKOW")
    assert t.currency == "PLN"


def test_raiffeisen_cp852_is_decoded():
    result = _parse("self-provided/raiffeisen-cmi.sta")
    assert result.statements[0].account == "123456789150ABCDEF002"
    texts = " ".join(t.remittance_info for t in result.transactions)
    assert "Díj, jutalék" in texts and "összevont utánvét" in texts
    assert "\ufffd" not in texts


def test_postfinance_zero_amount_and_intermediate_balances():
    result = _parse("jejik/postfinance.sta")
    assert result.statements[0].opening_balance == Decimal("0")
    assert result.statements[0].closing_balance == Decimal("229.2")  # :62M:
    assert result.statements[1].balance_difference == Decimal("-0.2")
    assert "MITTEILUNGEN: RECHNUNG" in result.transactions[0].remittance_info


# --- identity rules -----------------------------------------------------------------------

MT942 = b""":20:INTRA1
:25:NL91ABNA0417164300
:28C:7/1
:34F:EURD0,
:13D:2401101200+0100
:61:2401100110C150,00NTRFNONREF//BANKREF001
:86:/EREF/INV-1001/ORDP//NAME/ACME BV/REMI/Invoice 1001
:90C:1EUR150,00
-
"""

MT940_EOD = b""":20:EOD1
:25:NL91ABNA0417164300
:28C:8/1
:60F:C240109EUR1000,00
:61:2401100110C150,00NTRFNONREF//BANKREF001
:86:/EREF/INV-1001/ORDP//NAME/ACME BV/REMI/Invoice 1001
:61:2401100110C20,00NTRFNONREF
:86:coffee
:61:2401100110C20,00NTRFNONREF
:86:coffee
:62F:C240110EUR1190,00
-
"""


def test_mt942_then_mt940_give_the_same_id_for_a_referenced_entry():
    intraday = mt940.parse(MT942, "intra.942")
    eod = mt940.parse(MT940_EOD, "eod.940")
    assert (intraday.format, eod.format) == ("mt942", "mt940")
    assert intraday.statements[0].balance_status == "not_checkable"
    assert intraday.statements[0].currency == "EUR"  # from :34F:
    assert intraday.transactions[0].transaction_id == eod.transactions[0].transaction_id
    assert intraday.transactions[0].counterparty_name == "ACME BV"
    assert intraday.transactions[0].end_to_end_id == "INV-1001"
    assert eod.statements[0].balance_status == "ok"


def test_identical_looking_entries_without_reference_get_different_ids():
    eod = mt940.parse(MT940_EOD, "eod.940")
    twin_a, twin_b = eod.transactions[1], eod.transactions[2]
    assert (twin_a.amount, twin_a.value_date, twin_a.remittance_info) == (
        twin_b.amount,
        twin_b.value_date,
        twin_b.remittance_info,
    )
    assert twin_a.transaction_id != twin_b.transaction_id
    again = mt940.parse(MT940_EOD, "renamed.sta")
    assert [t.transaction_id for t in again.transactions] == [
        t.transaction_id for t in eod.transactions
    ]


def test_entry_date_year_around_new_year():
    data = b""":20:NY
:25:DE89370400440532013000
:28C:1/1
:60F:C171229EUR0,
:61:1712310102C10,NTRFNONREF
:61:1801021231D5,NTRFNONREF
:62F:C180102EUR5,
"""
    result = mt940.parse(data, "ny.sta")
    first, second = result.transactions
    assert (first.value_date, first.booking_date) == (date(2017, 12, 31), date(2018, 1, 2))
    assert (second.value_date, second.booking_date) == (date(2018, 1, 2), date(2017, 12, 31))
    assert result.statements[0].balance_status == "ok"


def test_statement_level_86_is_not_attached_to_the_last_entry():
    result = _parse("jejik/ing.sta")
    assert "D000004C000002" not in result.transactions[-1].remittance_info


# --- bad input ----------------------------------------------------------------------------

GOOD = b""":20:STMT1
:25:CH9300762011623852957
:28C:12/1
:60F:C240301CHF1000,00
:61:240301C250,00NTRFNONREF//REF1
:86:RF18 5390 0754 7034 Payment invoice 4711
:61:240302D100,00NTRFNONREF//REF2
:86:Rent
:62F:C240302CHF1150,00
-
"""


def test_good_reference_statement_and_structured_reference():
    result = mt940.parse(GOOD, "good.sta")
    assert result.statements[0].balance_status == "ok"
    assert result.transactions[0].structured_reference == "RF18539007547034"


def test_truncated_file_keeps_what_it_can_and_flags_the_statement():
    cut = GOOD[: GOOD.index(b":61:240302") + len(b":61:240302D10")]
    result = mt940.parse(cut, "cut.sta")
    assert len(result.transactions) == 2  # rows in = loaded + rejected
    assert len(result.loaded) == 1 and len(result.rejected) == 1
    assert result.rejected[0].reject_reason == (
        "cut.sta, line 7: expected a :61: statement line YYMMDD[MMDD]C|D amount type "
        "reference, found '240302D10'"
    )
    assert result.statements[0].balance_status == "not_checkable"  # no :62F:


def test_missing_opening_balance_is_not_checkable_but_rows_load():
    data = GOOD.replace(b":60F:C240301CHF1000,00\n", b"")
    result = mt940.parse(data, "no60.sta")
    assert len(result.loaded) == 2
    assert result.statements[0].currency == "CHF"  # from :62F:
    assert result.statements[0].balance_status == "not_checkable"


def test_missing_all_balances_rejects_rows_for_lack_of_currency():
    data = GOOD.replace(b":60F:C240301CHF1000,00\n", b"").replace(b":62F:C240302CHF1150,00\n", b"")
    result = mt940.parse(data, "nobal.sta")
    assert len(result.transactions) == 2 and len(result.rejected) == 2
    assert result.rejected[0].reject_reason == (
        "nobal.sta, line 1: expected a currency in :60F:/:62F: (or :34F: for MT942), found nothing"
    )
    assert result.rejected[0].amount == Decimal("250.00")  # what could be read is kept


def test_malformed_amount_rejects_the_row():
    data = GOOD.replace(b"C250,00NTRF", b"C25,0,0NTRF")
    result = mt940.parse(data, "amt.sta")
    assert len(result.loaded) == 1 and len(result.rejected) == 1
    assert result.rejected[0].reject_reason == (
        "amt.sta, line 5: expected an amount like 1234,56 in :61:, found '25,0,0'"
    )
    assert result.statements[0].balance_status == "mismatch"


def test_impossible_date_rejects_the_row():
    data = GOOD.replace(b":61:240301C250", b":61:240230C250")
    result = mt940.parse(data, "date.sta")
    assert result.rejected[0].reject_reason == (
        "date.sta, line 5: expected a value date YYMMDD in :61:, found '240230'"
    )
    assert len(result.transactions) == 2


def test_unknown_currency_rejects_the_statement_rows():
    data = GOOD.replace(b"CHF", b"XYZ")
    result = mt940.parse(data, "ccy.sta")
    assert len(result.rejected) == 2 and not result.loaded
    assert result.rejected[0].reject_reason == (
        "ccy.sta, line 4: expected ISO 4217 currency code, found 'XYZ'"
    )


def test_missing_account_rejects_rows():
    data = GOOD.replace(b":25:CH9300762011623852957\n", b"")
    result = mt940.parse(data, "noacct.sta")
    assert len(result.rejected) == 2
    assert "expected the account in a :25: field, found nothing" in result.rejected[0].reject_reason


@pytest.mark.parametrize(
    "data, found_text",
    [
        (b"", "found an empty file"),
        (b"hello world\nthis is not a statement\n", "found 'hello world'"),
        (b"\x00\x01\x02\xff\xfe", "found"),
    ],
)
def test_not_an_mt940_file_is_unreadable(data, found_text):
    with pytest.raises(UnreadableFile) as err:
        mt940.parse(data, "junk.sta")
    assert err.value.reason.startswith(
        "junk.sta, line 1: expected an MT940/MT942 statement starting with a :20: field"
    )
    assert found_text in err.value.reason
