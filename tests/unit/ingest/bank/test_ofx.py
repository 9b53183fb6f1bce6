"""OFX reader: every real file in tests/fixtures/bank/ofx, plus bad input."""

from __future__ import annotations

import re
import warnings
from collections import Counter
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from ofxtools.Parser import OFXTree

from pipelines.ingest.bank import ofx
from pipelines.ingest.bank.records import UnreadableFile, make_transaction_id

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures" / "bank" / "ofx"

# file: statements, loaded, rejected, money in, money out, closing balances, currency
EXPECTED = {
    "asgrim_ofxparser/ofxdata-bb-two-stmtrs.ofx": (
        2, 36, 0, "74783.87", "-78432.53", ["0.00", "4555.28"], "BRL",
    ),
    "asgrim_ofxparser/ofxdata-bpbfc.ofx": (1, 6, 0, "0", "-53.49", ["10000.00"], "EUR"),
    "asgrim_ofxparser/ofxdata-cmfr.ofx": (1, 42, 0, "7707.98", "-21199.57", ["10000.00"], "EUR"),
    "asgrim_ofxparser/ofxdata-credit-card.ofx": (1, 1, 0, "0", "-100.00", ["-500.00"], "GBP"),
    "asgrim_ofxparser/ofxdata-oneline.ofx": (1, 8, 0, "200.00", "-2177.10", ["100.00"], "EUR"),
    "asgrim_ofxparser/ofxdata-xml.ofx": (1, 3, 0, "350.00", "-100.00", ["5250.00"], "USD"),
    "ofxparse/anzcc.ofx": (1, 1, 0, "0", "-5.50", ["-123.45"], "AUD"),
    "ofxparse/bank_medium.ofx": (1, 3, 0, "0", "-345.27", ["382.34"], "CAD"),
    "ofxparse/checking.ofx": (1, 3, 0, "0.01", "-59.51", ["100.99"], "USD"),
    "ofxparse/suncorp.ofx": (1, 1, 0, "0", "-16.85", ["1234.12"], "AUD"),
}  # fmt: skip

OFXTOOLS_FAILS = {
    "asgrim_ofxparser/ofxdata-bb-two-stmtrs.ofx",  # two STMTRS in one STMTTRNRS
    "asgrim_ofxparser/ofxdata-oneline.ofx",  # LANGUAGE FRE
    "ofxparse/checking.ofx",  # BANKID longer than 9 characters
}


def _read(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def _parse(name: str):
    return ofx.parse(_read(name), Path(name).name)


def test_every_fixture_is_listed():
    files = {
        str(p.relative_to(FIXTURES))
        for p in FIXTURES.rglob("*")
        if p.is_file() and p.name not in ("LICENSE", "SOURCE.md")
    }
    assert files == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_real_file_counts_totals_and_balances(name):
    statements, loaded, rejected, money_in, money_out, closing, currency = EXPECTED[name]
    data = _read(name)
    result = ofx.parse(data, Path(name).name)
    assert result.format == "ofx"
    assert len(result.statements) == statements
    assert len(result.loaded) == loaded
    assert len(result.rejected) == rejected
    assert len(result.transactions) == len(re.findall(rb"<STMTTRN>", data))  # independent
    amounts = [t.amount for t in result.transactions]
    assert sum((a for a in amounts if a > 0), Decimal(0)) == Decimal(money_in)
    assert sum((a for a in amounts if a < 0), Decimal(0)) == Decimal(money_out)
    assert [s.closing_balance for s in result.statements] == [Decimal(c) for c in closing]
    # LEDGERBAL is only a closing balance: never guessed into a check
    assert {s.balance_status for s in result.statements} == {"not_checkable"}
    assert {s.currency for s in result.statements} == {currency}
    ids = [t.transaction_id for t in result.transactions]
    assert len(set(ids)) == len(ids)
    for t in result.transactions:
        assert t.bank_reference  # every real file has FITIDs
        assert t.transaction_id == make_transaction_id(t.account, t.bank_reference, 0)
        assert t.booking_date is not None


@pytest.mark.parametrize("name", sorted(set(EXPECTED) - OFXTOOLS_FAILS))
def test_agrees_with_ofxtools(name):
    tree = OFXTree()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tree.parse(str(FIXTURES / name))
        doc = tree.convert()
    lib = [t for st in doc.statements for t in st.banktranlist]
    ours = _parse(name).transactions
    assert [(t.bank_reference, t.amount, t.booking_date) for t in ours] == [
        (t.fitid, t.trnamt, t.dtposted.date()) for t in lib
    ]


@pytest.mark.parametrize("name", sorted(OFXTOOLS_FAILS))
def test_ofxtools_rejects_these_real_files(name):
    tree = OFXTree()
    with warnings.catch_warnings(), pytest.raises(Exception):  # noqa: B017
        warnings.simplefilter("ignore")
        tree.parse(str(FIXTURES / name))
        tree.convert()


def test_two_statements_latin1_and_trailing_spaces():
    result = _parse("asgrim_ofxparser/ofxdata-bb-two-stmtrs.ofx")
    empty, full = result.statements
    assert (empty.account, empty.entry_count) == ("455000-5", 0)
    assert (full.account, full.entry_count) == ("655000-2", 36)
    first = result.transactions[0]
    assert first.amount == Decimal("13318.36")  # '<TRNAMT>13318.36 '
    assert first.bank_reference == "2017030101331836"
    assert first.remittance_info == "TED-CRÉDITO EM CONTA CHECKNUM 5322222"
    types = Counter(m.decode() for m in re.findall(rb"<TRNTYPE>(\w+)", _read(
        "asgrim_ofxparser/ofxdata-bb-two-stmtrs.ofx")))  # fmt: skip
    assert types == {"DEP": 31, "DEBIT": 4, "XFER": 1}
    assert Counter(t.amount > 0 for t in result.transactions) == {True: 32, False: 4}


def test_one_line_body_and_negative_directdep():
    result = _parse("asgrim_ofxparser/ofxdata-oneline.ofx")
    directdep = [t for t in result.transactions if t.remittance_info.startswith("VIREMENT")]
    assert [t.amount for t in directdep] == [
        Decimal("200.00"),
        Decimal("-80.00"),
        Decimal("-600.00"),
        Decimal("-1000.00"),
    ]
    assert not any(t.is_reversal for t in result.transactions)
    assert directdep[0].counterparty_name == "VIREMENT DE MR XXXX"


def test_timezone_suffix_and_name_memo():
    t = _parse("ofxparse/bank_medium.ofx").transactions[0]
    assert t.booking_date == date(2009, 4, 1)  # 20090401122017.000[-5:EST]
    assert t.counterparty_name == "MCDONALD'S #112"
    assert t.remittance_info == "POS MERCHANDISE;MCDONALD'S #112"


def test_xml_prolog_with_sgml_tags_and_credit_card():
    cc = _parse("ofxparse/anzcc.ofx")
    assert cc.statements[0].account == "1234123412341234"
    assert cc.transactions[0].remittance_info == "SOME MEMO"
    uk = _parse("asgrim_ofxparser/ofxdata-credit-card.ofx")
    assert uk.statements[0].closing_balance == Decimal("-500.00")  # LEDGERBAL, not AVAILBAL


def test_cdata_values():
    t = _parse("ofxparse/suncorp.ofx").transactions[0]
    assert t.counterparty_name == "EFTPOS WDL HANDYWAY ALDI STORE"
    assert t.remittance_info == "EFTPOS WDL HANDYWAY ALDI STORE GEELONG WEST VICAU"


# --- synthetic cases ---------------------------------------------------------------------

SGML = """OFXHEADER:100
DATA:OFXSGML
VERSION:102
ENCODING:USASCII
CHARSET:1252

<OFX><BANKMSGSRSV1><STMTTRNRS><TRNUID>1<STATUS><CODE>0<SEVERITY>INFO</STATUS>
<STMTRS><CURDEF>{ccy}<BANKACCTFROM><BANKID>1<ACCTID>ACC-1<ACCTTYPE>CHECKING</BANKACCTFROM>
<BANKTRANLIST><DTSTART>20240101<DTEND>20240131
{trns}
</BANKTRANLIST><LEDGERBAL><BALAMT>10.00<DTASOF>20240131</LEDGERBAL></STMTRS>
</STMTTRNRS></BANKMSGSRSV1></OFX>
"""

TRN = "<STMTTRN><TRNTYPE>{type}<DTPOSTED>{date}<TRNAMT>{amount}{fitid}<NAME>{name}</STMTTRN>"


def _ofx(*trns: dict, ccy: str = "EUR") -> bytes:
    rows = []
    for t in trns:
        fitid = f"<FITID>{t['fitid']}" if t.get("fitid") else ""
        rows.append(
            TRN.format(
                type=t.get("type", "CREDIT"),
                date=t.get("date", "20240115"),
                amount=t.get("amount", "10.00"),
                fitid=fitid,
                name=t.get("name", "ACME &amp; CO"),
            )
        )
    return SGML.format(ccy=ccy, trns="\n".join(rows)).encode("cp1252")


def test_entities_duplicate_fitids_and_missing_fitids():
    data = _ofx({"fitid": "A"}, {"fitid": "A"}, {}, {})
    result = ofx.parse(data, "x.ofx")
    a1, a2, n1, n2 = result.transactions
    assert a1.counterparty_name == "ACME & CO"
    assert a1.transaction_id == make_transaction_id("ACC-1", "A", 0)
    assert a2.transaction_id == make_transaction_id("ACC-1", "A", 1)
    assert n1.transaction_id != n2.transaction_id  # identical-looking, no FITID
    assert n1.transaction_id == make_transaction_id("ACC-1", "ofx", "20240101", "20240131", 3)


def test_decimal_comma_amount():
    result = ofx.parse(_ofx({"fitid": "A", "amount": "-13,50"}), "x.ofx")
    assert result.transactions[0].amount == Decimal("-13.50")


def test_malformed_amount_and_impossible_date_reject_rows():
    data = _ofx(
        {"fitid": "A", "amount": "12.3.4"},
        {"fitid": "B", "date": "20240230"},
        {"fitid": "C"},
    )
    result = ofx.parse(data, "bad.ofx")
    assert len(result.transactions) == 3 and len(result.loaded) == 1
    assert [t.reject_reason for t in result.rejected] == [
        "bad.ofx, line 10 (<TRNAMT>): expected an amount like -1234.56, found '12.3.4'",
        "bad.ofx, line 11 (<DTPOSTED>): expected a date YYYYMMDD[hhmmss[.xxx][tz]], "
        "found '20240230'",
    ]


def test_unknown_currency_rejects_rows():
    result = ofx.parse(_ofx({"fitid": "A"}, ccy="XXY"), "ccy.ofx")
    assert result.rejected[0].reject_reason == (
        "ccy.ofx, line 8 (<CURDEF>): expected ISO 4217 currency code, found 'XXY'"
    )
    assert result.rejected[0].amount == Decimal("10.00")


def test_correction_records_are_rejected_for_a_person():
    data = _ofx({"fitid": "A"}).replace(
        b"<NAME>", b"<CORRECTFITID>OLD1<CORRECTACTION>DELETE<NAME>", 1
    )
    result = ofx.parse(data, "corr.ofx")
    assert result.rejected[0].reject_reason == (
        "corr.ofx, line 10: expected a transaction (corrections are applied by a person), "
        "found CORRECTACTION DELETE of FITID 'OLD1'"
    )


def test_truncated_file_reads_the_complete_transactions():
    data = _read("asgrim_ofxparser/ofxdata-cmfr.ofx")
    cut = data[: data.index(b"<STMTTRN>", len(data) // 2) + 40]
    result = ofx.parse(cut, "cut.ofx")
    complete = cut.count(b"</STMTTRN>")
    assert len(result.loaded) == complete
    assert len(result.transactions) == complete + 1  # the cut one has no amount
    assert result.rejected[0].reject_reason.startswith("cut.ofx, line ")
    assert "expected an amount like -1234.56, found nothing" in result.rejected[0].reject_reason


def test_declared_ascii_with_latin1_bytes_is_read_as_cp1252():
    data = _ofx({"fitid": "A", "name": "CR\xc9DITO"}).replace(b"CHARSET:1252", b"CHARSET:NONE")
    result = ofx.parse(data, "x.ofx")
    assert result.transactions[0].counterparty_name == "CRÉDITO"


@pytest.mark.parametrize(
    "data, expected",
    [
        (b"", "junk.ofx, line 1: expected an OFX document with an <OFX> element, found an empty file"),
        (b"\x89PNG\r\n\x1a\n garbage", "junk.ofx, line 1: expected an OFX document with an <OFX> element, found"),
        (
            b"OFXHEADER:100\n\n<OFX><SIGNONMSGSRSV1><SONRS><STATUS><CODE>15500<SEVERITY>ERROR"
            b"<MESSAGE>Signon invalid</STATUS></SONRS></SIGNONMSGSRSV1></OFX>",
            "junk.ofx, line 3: expected a bank or credit card statement (<STMTRS> or "
            "<CCSTMTRS>), found server status 15500 ERROR Signon invalid",
        ),
    ],
)  # fmt: skip
def test_unreadable_documents(data, expected):
    with pytest.raises(UnreadableFile) as err:
        ofx.parse(data, "junk.ofx")
    assert err.value.reason.startswith(expected)
