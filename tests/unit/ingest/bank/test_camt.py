"""camt.052/053/054 reader: every real file, version variants, ids, and the throughput benchmark.

Expected totals are computed independently of the reader, with plain lxml XPath over the
file, and cross-checked against the counts in shared/data/external/README.md.
"""

from __future__ import annotations

from collections import Counter
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from lxml import etree

from pipelines.ingest.bank import camt
from pipelines.ingest.bank.dispatch import parse_bytes, parse_file
from pipelines.ingest.bank.records import (
    BALANCE_MISMATCH,
    BALANCE_NOT_CHECKABLE,
    BALANCE_OK,
    ParseResult,
    make_transaction_id,
)

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures" / "bank" / "camt"
# AGPL-3.0 files: never copied into this repository, read from the shared data when present.
OCA = Path("/work/shared/data/external/camt/oca_bank_statement_import")

GENKGO = FIXTURES / "genkgo_camt"
SUBITE = FIXTURES / "subite_camt_to_coda"


def _oca(name: str) -> Path:
    path = OCA / name
    if not path.exists():
        pytest.skip(f"AGPL fixture {path} not available (kept out of the repository on purpose)")
    return path


def _read(path: Path) -> ParseResult:
    return camt.parse(path.read_bytes(), path.name)


# --------------------------------------------------------------------------- independent oracle


def _l(name: str) -> str:
    return f"*[local-name()='{name}']"


def independent_records(path: Path) -> list[Decimal]:
    """Signed amounts, one per expected record, computed with XPath only.

    One per TxDtls when an entry lists several details with their own amounts, otherwise one
    per entry with the entry amount.
    """
    root = etree.parse(str(path)).getroot()
    amounts: list[Decimal] = []
    for ntry in root.xpath(f"//{_l('Ntry')}"):
        entry_sign = -1 if ntry.xpath(f"string({_l('CdtDbtInd')})").strip() == "DBIT" else 1
        details = ntry.xpath(f"{_l('NtryDtls')}/{_l('TxDtls')}")
        own = []
        for d in details:
            tx_amt = d.xpath(f"string({_l('AmtDtls')}/{_l('TxAmt')}/{_l('Amt')})").strip()
            plain = d.xpath(f"string({_l('Amt')})").strip()
            sign_text = d.xpath(f"string({_l('CdtDbtInd')})").strip()
            sign = entry_sign if not sign_text else (-1 if sign_text == "DBIT" else 1)
            own.append((tx_amt or plain, sign))
        if len(details) > 1 and any(a for a, _ in own):
            amounts.extend(Decimal(a) * s for a, s in own)
        else:
            amounts.append(Decimal(ntry.xpath(f"string({_l('Amt')})").strip()) * entry_sign)
    return amounts


def _totals(result: ParseResult) -> tuple[Decimal, Decimal]:
    money_in = sum((t.amount for t in result.transactions if t.amount > 0), Decimal(0))
    money_out = sum((t.amount for t in result.transactions if t.amount < 0), Decimal(0))
    return money_in, money_out


# --------------------------------------------------------------------------- real files

# file → (records, loaded, rejected, money in, money out, statements, balance statuses)
EXPECTED = {
    "genkgo_camt/camt053.v2.five.decimals.xml": (1, 1, 0, "8.850", "0", 1, [BALANCE_MISMATCH]),
    "genkgo_camt/camt053.v2.multi.statement.xml": (
        2, 2, 0, "8.85", "-7.00", 2, [BALANCE_OK, BALANCE_OK],
    ),
    "genkgo_camt/camt053.v8.xml": (1, 1, 0, "8.85", "0", 1, [BALANCE_MISMATCH]),
    "genkgo_camt/camt054.v4.xml": (3, 3, 0, "9.5", "0", 1, [BALANCE_NOT_CHECKABLE]),
    "subite_camt_to_coda/BE68793230773034-202411.xml": (
        268, 268, 0, "180000", "-151831.25", 1, [BALANCE_OK],
    ),
    "subite_camt_to_coda/CAMT_053/2024-03-07.xml": (
        3, 0, 3, "828531.98", "-5794.17", 2, [BALANCE_OK, BALANCE_OK],
    ),
    "subite_camt_to_coda/CAMT_054/2024-11-12.xml": (
        500, 500, 0, "387342.11", "-207073.93", 1, [BALANCE_NOT_CHECKABLE],
    ),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_real_file_counts_totals_and_balances(name: str) -> None:
    path = FIXTURES / name
    records, loaded, rejected, money_in, money_out, n_statements, statuses = EXPECTED[name]
    result = _read(path)

    # rows in = loaded + rejected, nothing dropped
    assert len(result.transactions) == records == len(result.loaded) + len(result.rejected)
    assert (len(result.loaded), len(result.rejected)) == (loaded, rejected)

    # the independent XPath oracle agrees on every signed amount, in order
    oracle = independent_records(path)
    assert [t.amount for t in result.transactions] == oracle
    assert _totals(result) == (Decimal(money_in), Decimal(money_out))

    assert len(result.statements) == n_statements
    assert [s.balance_status for s in result.statements] == statuses
    for s in result.statements:
        assert s.source_file == path.name
    for t in result.transactions:
        assert t.source_file == path.name
        assert t.currency
        assert t.transaction_id.startswith("T")
    # ids never collide inside a file
    assert len({t.transaction_id for t in result.transactions}) == records


def test_subite_monthly_statement_reconciles() -> None:
    """README: 268 entries (4 CRDT / 264 DBIT), 59 370.37 + 28 168.75 = 87 539.12."""
    result = _read(SUBITE / "BE68793230773034-202411.xml")
    (statement,) = result.statements
    assert result.format == "camt.053"
    assert statement.account == "BE68793230773034"
    assert statement.statement_id == "MSG56562708-QMXIUR"
    assert statement.currency == "EUR"
    assert statement.opening_balance == Decimal("59370.37")
    assert statement.entries_total == Decimal("28168.75")
    assert statement.closing_balance == Decimal("87539.12")
    assert statement.balance_status == BALANCE_OK
    assert statement.balance_difference == 0
    assert statement.entry_count == 268
    assert statement.from_date == date(2024, 11, 1)
    assert statement.to_date == date(2024, 11, 30)
    directions = Counter("in" if t.amount > 0 else "out" for t in result.transactions)
    assert directions == {"in": 4, "out": 264}
    # no ValDt in this file: value_date stays empty, effective date is the booking date
    assert all(t.value_date is None for t in result.transactions)
    assert all(t.effective_date == t.booking_date for t in result.transactions)
    first = result.transactions[0]
    assert first.amount == Decimal("50000")
    assert first.booking_date == date(2024, 11, 29)
    assert first.counterparty_name == "Stellar Ltd"  # the payer (Dbtr) for money in
    assert first.counterparty_account == "BE91516952884376"
    assert first.remittance_info == "Transfer ref HBAVHC9717"
    assert first.end_to_end_id == "E2ESEKOZLQO41354223"
    second = result.transactions[1]
    assert second.amount == Decimal("-131.7")
    assert second.counterparty_name == "Zeta NV"  # the payee (Cdtr) for money out
    assert second.counterparty_account == "BE95731421172658"
    # no AcctSvcrRef anywhere: ids from account, statement identity, entry and detail position
    assert first.bank_reference == ""
    assert first.transaction_id == make_transaction_id(
        "BE68793230773034", "MSG56562708-QMXIUR", 1, 1
    )


def test_five_decimals_file_keeps_three_decimals_and_flags_the_gap() -> None:
    result = _read(GENKGO / "camt053.v2.five.decimals.xml")
    (tx,) = result.transactions
    assert str(tx.amount) == "8.850"  # exactly as sent, not rounded, not floated
    (statement,) = result.statements
    assert str(statement.opening_balance) == "18.150"
    assert str(statement.closing_balance) == "27.050"
    assert statement.balance_status == BALANCE_MISMATCH
    assert statement.balance_difference == Decimal("-0.050")
    assert abs(statement.balance_difference) == Decimal("0.05")


def test_multi_statement_file_gives_two_statements() -> None:
    result = _read(GENKGO / "camt053.v2.multi.statement.xml")
    assert [s.statement_id for s in result.statements] == [
        "253EURNL26VAYB8060476890",
        "254EURNL26VAYB8060476890",
    ]
    assert [t.statement_id for t in result.transactions] == [
        "253EURNL26VAYB8060476890",
        "254EURNL26VAYB8060476890",
    ]
    assert [s.sequence_number for s in result.statements] == ["12312", ""]
    assert [s.entries_total for s in result.statements] == [Decimal("8.85"), Decimal("-7.00")]


def test_v8_namespace_structured_reference_and_inconsistent_balances() -> None:
    result = _read(GENKGO / "camt053.v8.xml")
    assert result.format == "camt.053"
    (tx,) = result.transactions
    assert tx.amount == Decimal("8.85")  # the entry amount, not the single detail's 0 SEK
    assert tx.currency == "EUR"
    assert tx.structured_reference == "4654654654654654"
    assert tx.bank_reference == "AAAASESS-FP-CN_98765/01"
    assert tx.transaction_id == make_transaction_id(
        "NL26VAYB8060476890", "AAAASESS-FP-CN_98765/01", 1
    )
    assert tx.end_to_end_id == "MUELL/FINP/RA12345"
    (statement,) = result.statements
    # OPBD 18.15 EUR CRDT, CLBD 27.00 SEK DBIT: flagged, not crashed
    assert statement.opening_balance == Decimal("18.15")
    assert statement.closing_balance == Decimal("-27.00")
    assert statement.balance_status == BALANCE_MISMATCH


def test_camt054_batch_details_and_several_remittance_blocks() -> None:
    result = _read(GENKGO / "camt054.v4.xml")
    assert result.format == "camt.054"
    assert [t.amount for t in result.transactions] == [
        Decimal("3.1"),
        Decimal("3.2"),
        Decimal("3.2"),
    ]
    assert {t.currency for t in result.transactions} == {"CHF"}
    assert {t.bank_reference for t in result.transactions} == {"ACSR160617103200001"}
    # one AcctSvcrRef for the entry: the detail position keeps the three apart
    assert [t.transaction_id for t in result.transactions] == [
        make_transaction_id("CH2801234000123456789", "ACSR160617103200001", k) for k in (1, 2, 3)
    ]
    first, _, third = result.transactions
    assert first.structured_reference == "ISR ref number V1"
    assert first.remittance_info == (
        "Unstructured Remittance Information V1 | ISR ref number V1 | "
        "Additional Remittance Information V1 | Order"
    )
    assert third.structured_reference == "Ref number V3 block 1 | Ref number V3 block 2"
    assert "Unstructured Remittance Information V3 block 2" in third.remittance_info
    assert "Additional Remittance Information V3 block 2" in third.remittance_info
    assert [t.location for t in result.transactions] == [
        f"Ntfctn[1]/Ntry[1]/NtryDtls/TxDtls[{k}]" for k in (1, 2, 3)
    ]
    (statement,) = result.statements
    assert statement.balance_status == BALANCE_NOT_CHECKABLE


def test_500_detail_notification_gives_500_records_netting_to_the_entry() -> None:
    """README: 1 entry, 500 TxDtls (213 CRDT, 287 DBIT) whose net is 180 268.18 CRDT."""
    result = _read(SUBITE / "CAMT_054/2024-11-12.xml")
    assert len(result.transactions) == 500
    assert len(result.loaded) == 500
    assert sum(t.amount for t in result.transactions) == Decimal("180268.18")
    signs = Counter(t.amount > 0 for t in result.transactions)
    assert signs == {True: 213, False: 287}
    # Sts INFO, no booking date: the detail's settlement date is the value date
    assert {t.value_date for t in result.transactions} == {date(2024, 11, 11)}
    assert {t.booking_date for t in result.transactions} == {None}
    (statement,) = result.statements
    assert statement.statement_id == "1808018"
    assert statement.entries_total == Decimal("180268.18")
    assert statement.balance_status == BALANCE_NOT_CHECKABLE


def test_one_line_document_without_balance_indicator_and_batch_summaries() -> None:
    """README: one line, 2 Stmt, Othr/Id accounts, balances without CdtDbtInd, no entry
    dates, batch entries (NbOfTxs up to 86) with one summary TxDtls."""
    result = _read(SUBITE / "CAMT_053/2024-03-07.xml")
    assert [s.account for s in result.statements] == [
        "LT625883379695428516",
        "LT414319056143772570",
    ]
    first, second = result.statements
    # balances lacking CdtDbtInd are credit
    assert first.opening_balance == Decimal("21081222.58")
    assert first.closing_balance == Decimal("21903960.39")
    assert first.entries_total == Decimal("822737.81")
    assert first.balance_status == BALANCE_OK
    assert (second.opening_balance, second.entries_total, second.closing_balance) == (
        Decimal("4801.55"),
        Decimal("0"),
        Decimal("4801.55"),
    )
    assert second.balance_status == BALANCE_OK
    # NbOfTxs 86 with one summary detail: one record with the entry amount, never 86
    assert [t.amount for t in result.transactions] == [
        Decimal("828531.98"),
        Decimal("-0.2"),
        Decimal("-5793.97"),
    ]
    assert [t.bank_reference for t in result.transactions] == [
        "REF000000025239",
        "REF000000041558",
        "REF000000069955",
    ]
    # no BookgDt/ValDt and no detail date: rejected with a reason naming the elements
    for n, tx in enumerate(result.transactions, 1):
        assert tx.reject_reason == (
            f"2024-03-07.xml, Stmt[1]/Ntry[{n}] (entry {n}): expected a booking or value date "
            "(Ntry/BookgDt, Ntry/ValDt or TxDtls/RltdDts/IntrBkSttlmDt), found none"
        )


def test_oca_camt053_batch_reversal_and_balance_gap() -> None:
    """AGPL fixture read from the shared data: 3 entries, 4 TxDtls, one reversed batch."""
    result = _read(_oca("test-camt053"))
    path = _oca("test-camt053")
    assert [t.amount for t in result.transactions] == independent_records(path)
    assert [t.amount for t in result.transactions] == [
        Decimal("-754.25"),
        Decimal("-564.05"),
        Decimal("-100.00"),
        Decimal("1405.31"),
    ]
    reversed_ = [t for t in result.transactions if t.is_reversal]
    assert len(reversed_) == 2
    assert {t.return_reason for t in reversed_} == {"AC06"}
    assert all("AC07" in t.remittance_info for t in reversed_)  # AddtlTxInf text kept
    (statement,) = result.statements
    assert statement.opening_balance == Decimal("15568.27")
    assert statement.entries_total == Decimal("-12.99")
    assert statement.closing_balance == Decimal("15121.12")
    assert statement.balance_status == BALANCE_MISMATCH
    assert statement.balance_difference == Decimal("434.16")


def test_oca_camt054_swiss_qr_reference() -> None:
    result = _read(_oca("test-camt054"))
    (tx,) = result.transactions
    assert tx.amount == Decimal("5.00")
    assert tx.structured_reference == "000000000000000000000000003"
    assert len(tx.structured_reference) == 27
    assert tx.bank_reference == "15180015077602405"  # the detail's AcctSvcrRef wins


def test_dispatch_streams_camt_files_and_matches_bytes_parse() -> None:
    path = SUBITE / "BE68793230773034-202411.xml"
    streamed = parse_file(path)
    whole = parse_bytes(path.read_bytes(), path.name)
    assert streamed.format == whole.format == "camt.053"
    assert [t.as_row() for t in streamed.transactions] == [t.as_row() for t in whole.transactions]


# --------------------------------------------------------------------------- variants

NS = "urn:iso:std:iso:20022:tech:xsd:camt.{kind}.001.{version:02d}"


def make_camt(
    *,
    kind: str = "053",
    version: int = 2,
    entries: str = "",
    balances: str | None = None,
    prefix: str = "",
    account: str = "<IBAN>DE89370400440532013000</IBAN>",
    acct_ccy: str = "",
    stmt_id: str = "S-1",
) -> bytes:
    """A small camt document (tests build their edge cases with it)."""
    container, message = {
        "052": ("Rpt", "BkToCstmrAcctRpt"),
        "053": ("Stmt", "BkToCstmrStmt"),
        "054": ("Ntfctn", "BkToCstmrDbtCdtNtfctn"),
    }[kind]
    if balances is None:
        balances = (
            "<Bal><Tp><CdOrPrtry><Cd>OPBD</Cd></CdOrPrtry></Tp><Amt Ccy='EUR'>100.00</Amt>"
            "<CdtDbtInd>CRDT</CdtDbtInd><Dt><Dt>2024-01-01</Dt></Dt></Bal>"
            "<Bal><Tp><CdOrPrtry><Cd>CLBD</Cd></CdOrPrtry></Tp><Amt Ccy='EUR'>150.00</Amt>"
            "<CdtDbtInd>CRDT</CdtDbtInd><Dt><Dt>2024-01-31</Dt></Dt></Bal>"
        )
    body = (
        f"<{message}><GrpHdr><MsgId>MSG-1</MsgId><CreDtTm>2024-01-31T20:00:00</CreDtTm></GrpHdr>"
        f"<{container}><Id>{stmt_id}</Id><ElctrncSeqNb>7</ElctrncSeqNb>"
        f"<Acct><Id>{account}</Id>{acct_ccy}</Acct>{balances}{entries}</{container}></{message}>"
    )
    if prefix:
        import re

        body = re.sub(r"<(/?)([A-Za-z])", rf"<\1{prefix}:\2", body)
        root = f"<{prefix}:Document xmlns:{prefix}='{NS.format(kind=kind, version=version)}'>"
        return f"<?xml version='1.0' encoding='UTF-8'?>{root}{body}</{prefix}:Document>".encode()
    return (
        f"<?xml version='1.0' encoding='UTF-8'?>"
        f"<Document xmlns='{NS.format(kind=kind, version=version)}'>{body}</Document>"
    ).encode()


def entry(
    amount: str = "50.00",
    ccy: str = "EUR",
    cdi: str = "CRDT",
    *,
    ref: str = "",
    dates: str = "<BookgDt><Dt>2024-01-15</Dt></BookgDt><ValDt><Dt>2024-01-16</Dt></ValDt>",
    details: str = "",
    extra: str = "",
    status: str = "<Sts>BOOK</Sts>",
) -> str:
    ref_xml = f"<AcctSvcrRef>{ref}</AcctSvcrRef>" if ref else ""
    return (
        f"<Ntry><Amt Ccy='{ccy}'>{amount}</Amt><CdtDbtInd>{cdi}</CdtDbtInd>{extra}{status}"
        f"{dates}{ref_xml}{'<NtryDtls>' + details + '</NtryDtls>' if details else ''}</Ntry>"
    )


@pytest.mark.parametrize("version", range(2, 11))
@pytest.mark.parametrize("kind", ["052", "053", "054"])
def test_every_version_and_message_kind(kind: str, version: int) -> None:
    data = make_camt(kind=kind, version=version, entries=entry())
    result = parse_bytes(data, "x.xml")
    assert result.format == f"camt.{kind}"
    (tx,) = result.loaded
    assert tx.amount == Decimal("50.00")
    assert tx.booking_date == date(2024, 1, 15)
    assert tx.value_date == date(2024, 1, 16)
    assert tx.account == "DE89370400440532013000"
    assert tx.sequence_number == "7"
    assert result.statements[0].balance_status == BALANCE_OK


def test_prefixed_namespace_bom_and_leading_whitespace() -> None:
    data = make_camt(prefix="ns0", entries=entry())
    for variant in (data, b"\xef\xbb\xbf" + data, b"\n  \r\n" + data, b"\xef\xbb\xbf\n " + data):
        result = parse_bytes(variant, "x.xml")
        assert [t.amount for t in result.loaded] == [Decimal("50.00")]
        assert result.statements[0].balance_status == BALANCE_OK
    no_declaration = data[data.index(b"?>") + 2 :]
    assert [t.amount for t in parse_bytes(no_declaration, "x.xml").loaded] == [Decimal("50.00")]


def test_utf16_document() -> None:
    text = make_camt(entries=entry()).decode().replace("UTF-8", "UTF-16")
    result = camt.parse(text.encode("utf-16"), "x.xml")
    assert [t.amount for t in result.loaded] == [Decimal("50.00")]


def test_datetime_dates_status_code_and_other_account() -> None:
    data = make_camt(
        version=8,
        account="<Othr><Id>ACC-0001</Id></Othr>",
        entries=entry(
            status="<Sts><Cd>BOOK</Cd></Sts>",
            dates="<BookgDt><DtTm>2024-01-15T23:30:00+01:00</DtTm></BookgDt>",
        ),
    )
    (tx,) = camt.parse(data, "x.xml").loaded
    assert tx.account == "ACC-0001"
    assert tx.booking_date == date(2024, 1, 15)
    assert tx.value_date is None
    assert tx.effective_date == date(2024, 1, 15)


def test_balance_without_indicator_debit_balance_and_prcd() -> None:
    balances = (
        "<Bal><Tp><CdOrPrtry><Cd>PRCD</Cd></CdOrPrtry></Tp><Amt Ccy='EUR'>10.00</Amt>"
        "<CdtDbtInd>DBIT</CdtDbtInd></Bal>"
        "<Bal><Tp><CdOrPrtry><Cd>CLBD</Cd></CdOrPrtry></Tp><Amt Ccy='EUR'>40.00</Amt></Bal>"
    )
    result = camt.parse(make_camt(balances=balances, entries=entry()), "x.xml")
    (statement,) = result.statements
    assert statement.opening_balance == Decimal("-10.00")
    assert statement.closing_balance == Decimal("40.00")
    assert statement.balance_status == BALANCE_OK


def test_statement_currency_from_account_when_amount_has_none() -> None:
    data = make_camt(
        acct_ccy="<Ccy>CHF</Ccy>",
        entries="<Ntry><Amt>12.00</Amt><CdtDbtInd>DBIT</CdtDbtInd>"
        "<BookgDt><Dt>2024-01-15</Dt></BookgDt></Ntry>",
    )
    (tx,) = camt.parse(data, "x.xml").loaded
    assert (tx.amount, tx.currency) == (Decimal("-12.00"), "CHF")


def test_detail_sign_and_amount_win_in_a_batch() -> None:
    details = (
        "<TxDtls><Refs><AcctSvcrRef>D-1</AcctSvcrRef></Refs><AmtDtls><TxAmt>"
        "<Amt Ccy='EUR'>70.00</Amt></TxAmt></AmtDtls><CdtDbtInd>CRDT</CdtDbtInd></TxDtls>"
        "<TxDtls><Amt Ccy='EUR'>20.00</Amt><CdtDbtInd>DBIT</CdtDbtInd></TxDtls>"
    )
    data = make_camt(entries=entry("50.00", ref="E-1", details=details))
    result = camt.parse(data, "x.xml")
    assert [t.amount for t in result.transactions] == [Decimal("70.00"), Decimal("-20.00")]
    first, second = result.transactions
    assert first.bank_reference == "D-1"  # the detail's AcctSvcrRef
    assert first.transaction_id == make_transaction_id("DE89370400440532013000", "D-1", 1)
    assert second.bank_reference == "E-1"  # else the entry's
    assert second.transaction_id == make_transaction_id("DE89370400440532013000", "E-1", 2)
    assert result.statements[0].entries_total == Decimal("50.00")  # entry amounts only


def test_batch_where_one_detail_lacks_its_amount_rejects_that_detail() -> None:
    details = (
        "<TxDtls><Amt Ccy='EUR'>30.00</Amt></TxDtls>"
        "<TxDtls><RmtInf><Ustrd>no amount</Ustrd></RmtInf></TxDtls>"
    )
    result = camt.parse(make_camt(entries=entry(details=details)), "x.xml")
    assert [t.amount for t in result.transactions] == [Decimal("30.00"), None]
    assert result.transactions[1].reject_reason == (
        "x.xml, Stmt[1]/Ntry[1]/NtryDtls/TxDtls[2] (entry 1): expected an amount for each "
        "transaction detail (TxDtls/AmtDtls/TxAmt/Amt or TxDtls/Amt) as the entry lists "
        "several with amounts, found none"
    )


def test_details_without_amounts_describe_one_record() -> None:
    details = (
        "<TxDtls><RmtInf><Ustrd>first</Ustrd></RmtInf></TxDtls>"
        "<TxDtls><RmtInf><Ustrd>second</Ustrd></RmtInf></TxDtls>"
    )
    result = camt.parse(make_camt(entries=entry(details=details)), "x.xml")
    (tx,) = result.transactions
    assert tx.amount == Decimal("50.00")
    assert tx.remittance_info == "first | second"


def test_ids_without_reference_and_repeated_reference() -> None:
    entries = entry("10.00") + entry("10.00") + entry("5.00", ref="R") + entry("5.00", ref="R")
    result = camt.parse(make_camt(entries=entries), "x.xml")
    ids = [t.transaction_id for t in result.transactions]
    acct = "DE89370400440532013000"
    assert ids == [
        make_transaction_id(acct, "S-1", 1, 1),
        make_transaction_id(acct, "S-1", 2, 1),
        make_transaction_id(acct, "R", 1),
        make_transaction_id(acct, "R", 1, 1),  # a second genuine entry is never merged
    ]
    # re-delivered: the same ids
    assert [
        t.transaction_id for t in camt.parse(make_camt(entries=entries), "y.xml").transactions
    ] == ids


def test_statement_identity_falls_back_to_message_id() -> None:
    data = make_camt(entries=entry(), stmt_id="").replace(b"<Id></Id>", b"")
    (tx,) = camt.parse(data, "x.xml").transactions
    assert tx.transaction_id == make_transaction_id("DE89370400440532013000", "MSG-1/1", 1, 1)


def test_parties_remittance_references_and_reversal_link() -> None:
    original = entry(
        "25.00",
        "EUR",
        "CRDT",
        details=(
            "<TxDtls><Refs><EndToEndId>E2E-1</EndToEndId></Refs><RltdPties>"
            "<Dbtr><Pty><Nm>ACME AG</Nm></Pty></Dbtr>"
            "<DbtrAcct><Id><IBAN>CH9300762011623852957</IBAN></Id></DbtrAcct>"
            "<Cdtr><Nm>Us</Nm></Cdtr></RltdPties>"
            "<RmtInf><Ustrd>Invoice 1001</Ustrd><Strd><RfrdDocInf><Nb>INV-1001</Nb></RfrdDocInf>"
            "<CdtrRefInf><Tp><CdOrPrtry><Cd>SCOR</Cd></CdOrPrtry></Tp>"
            "<Ref>RF18539007547034</Ref></CdtrRefInf></Strd></RmtInf>"
            "<AddtlTxInf>extra info</AddtlTxInf></TxDtls>"
        ),
    )
    reversal = entry(
        "25.00",
        "EUR",
        "DBIT",
        extra="<RvslInd>true</RvslInd>",
        details=(
            "<TxDtls><Refs><EndToEndId>E2E-1</EndToEndId></Refs><RltdPties>"
            "<UltmtCdtr><Nm>ACME Holding</Nm></UltmtCdtr></RltdPties>"
            "<RtrInf><Rsn><Prtry>XYZ</Prtry></Rsn></RtrInf></TxDtls>"
        ),
    )
    not_provided = entry(
        details="<TxDtls><Refs><EndToEndId>NOTPROVIDED</EndToEndId></Refs></TxDtls>"
    )
    result = camt.parse(make_camt(entries=original + reversal + not_provided), "x.xml")
    first, second, third = result.transactions
    assert first.counterparty_name == "ACME AG"
    assert first.counterparty_account == "CH9300762011623852957"
    assert first.remittance_info == "Invoice 1001 | INV-1001 | RF18539007547034 | extra info"
    assert first.structured_reference == "RF18539007547034"
    assert first.end_to_end_id == "E2E-1"
    assert not first.is_reversal
    assert second.amount == Decimal("-25.00")
    assert second.counterparty_name == "ACME Holding"  # UltmtCdtr when no Cdtr
    assert second.is_reversal
    assert second.return_reason == "XYZ"
    assert second.reversal_of == first.transaction_id
    assert third.end_to_end_id == ""


def test_pending_entries_are_rejected_and_left_out_of_the_balance() -> None:
    entries = entry() + entry("99.00", status="<Sts>PDNG</Sts>")
    result = camt.parse(make_camt(entries=entries), "x.xml")
    assert len(result.loaded) == 1
    (pending,) = result.rejected
    assert "expected a booked entry (Sts BOOK or INFO), found 'PDNG'" in pending.reject_reason
    assert result.statements[0].entries_total == Decimal("50.00")
    assert result.statements[0].balance_status == BALANCE_OK


# --------------------------------------------------------------------------- throughput


def generate_camt053(path: Path, entries: int) -> Decimal:
    """Write a camt.053.001.08 statement with ``entries`` entries; returns the closing balance.

    Each entry has one TxDtls with a reference, a debtor, an IBAN, unstructured and
    structured remittance: a realistic bank-to-customer credit.
    """
    total = 100000  # cents
    with path.open("w", encoding="utf-8") as f:
        f.write(
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            '<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.08">'
            "<BkToCstmrStmt><GrpHdr><MsgId>BENCH</MsgId><CreDtTm>2024-01-31T20:00:00</CreDtTm>"
            "</GrpHdr><Stmt><Id>BENCH-1</Id><ElctrncSeqNb>1</ElctrncSeqNb><Acct><Id>"
            "<IBAN>DE89370400440532013000</IBAN></Id><Ccy>EUR</Ccy></Acct>"
        )
        amounts = [1000 + (i * 7919) % 100000 for i in range(entries)]
        closing = total + sum(amounts)
        for code, cents, day in (("OPBD", total, "01"), ("CLBD", closing, "31")):
            f.write(
                f"<Bal><Tp><CdOrPrtry><Cd>{code}</Cd></CdOrPrtry></Tp>"
                f'<Amt Ccy="EUR">{cents // 100}.{cents % 100:02d}</Amt>'
                f"<CdtDbtInd>CRDT</CdtDbtInd><Dt><Dt>2024-01-{day}</Dt></Dt></Bal>"
            )
        for i, cents in enumerate(amounts):
            amount = f"{cents // 100}.{cents % 100:02d}"
            day = f"2024-01-{1 + i % 28:02d}"
            f.write(
                f'<Ntry><NtryRef>{i}</NtryRef><Amt Ccy="EUR">{amount}</Amt>'
                f"<CdtDbtInd>CRDT</CdtDbtInd><Sts><Cd>BOOK</Cd></Sts>"
                f"<BookgDt><Dt>{day}</Dt></BookgDt><ValDt><Dt>{day}</Dt></ValDt>"
                f"<AcctSvcrRef>REF{i:09d}</AcctSvcrRef><BkTxCd><Domn><Cd>PMNT</Cd><Fmly>"
                f"<Cd>RCDT</Cd><SubFmlyCd>ESCT</SubFmlyCd></Fmly></Domn></BkTxCd><NtryDtls>"
                f"<TxDtls><Refs><EndToEndId>E2E{i:09d}</EndToEndId></Refs>"
                f'<Amt Ccy="EUR">{amount}</Amt><CdtDbtInd>CRDT</CdtDbtInd><RltdPties><Dbtr>'
                f"<Pty><Nm>Customer {i % 5000}</Nm></Pty></Dbtr><DbtrAcct><Id>"
                f"<IBAN>DE02120300000000202051</IBAN></Id></DbtrAcct></RltdPties><RmtInf>"
                f"<Ustrd>Invoice INV-{i:07d}</Ustrd><Strd><CdtrRefInf><Tp><CdOrPrtry>"
                f"<Cd>SCOR</Cd></CdOrPrtry></Tp><Ref>RF18{i:09d}</Ref></CdtrRefInf></Strd>"
                f"</RmtInf></TxDtls></NtryDtls></Ntry>\n"
            )
        f.write("</Stmt></BkToCstmrStmt></Document>\n")
    return Decimal(closing) / 100


def test_a_large_generated_statement_streams_and_balances(tmp_path: Path) -> None:
    """A 20,000-entry camt.053 through ``parse_file``: every entry, exact closing balance.

    (Throughput is measured by `make bench`, not asserted here: timed tests flake.)
    """
    path = tmp_path / "large.xml"
    closing = generate_camt053(path, 20_000)
    result = parse_file(path)
    assert len(result.loaded) == 20_000
    (statement,) = result.statements
    assert statement.closing_balance == closing
    assert statement.balance_status == BALANCE_OK


def test_files_on_the_lxml_path_are_read_from_disk_too(tmp_path: Path) -> None:
    path = tmp_path / "prefixed"
    path.write_bytes(make_camt(prefix="ns0", entries=entry() + entry("7.00", cdi="DBIT")))
    result = parse_file(path)
    assert [t.amount for t in result.loaded] == [Decimal("50.00"), Decimal("-7.00")]
    assert result.statements[0].source_file == "prefixed"


# --------------------------------------------------------------------------- fast path = lxml path


def _both_paths(data: bytes) -> tuple[ParseResult, ParseResult, dict]:
    stats: dict = {}
    fast = camt._parse_buffer(data, "x.xml", stats=stats)
    slow = camt._parse_buffer(data, "x.xml", allow_fast=False)
    return fast, slow, stats


def _same(fast: ParseResult, slow: ParseResult) -> None:
    assert [t.as_row() for t in fast.transactions] == [t.as_row() for t in slow.transactions]
    assert [vars(s) for s in fast.statements] == [vars(s) for s in slow.statements]
    assert fast.format == slow.format


ALL_FIXTURES = sorted(p.relative_to(FIXTURES).as_posix() for p in FIXTURES.rglob("*.xml"))


@pytest.mark.parametrize("name", ALL_FIXTURES)
def test_fast_path_reads_every_fixture_exactly_like_lxml(name: str) -> None:
    data = (FIXTURES / name).read_bytes()
    fast, slow, stats = _both_paths(data)
    assert (stats["path"], stats["fallbacks"]) == ("fast", 0)  # the patterns know these layouts
    _same(fast, slow)


@pytest.mark.parametrize("name", ALL_FIXTURES)
def test_one_go_common_case_agrees_on_every_fixture_layout(name: str) -> None:
    """Each entry of each fixture twice (the second copy meets dates already seen, so the
    one-go common case reads it): still the same as lxml, record for record."""
    data = (FIXTURES / name).read_bytes()
    out, pos = [], 0
    for start in camt._Reader._NTRY_START.finditer(data):
        if start.start() < pos:
            continue
        end = camt._Reader._NTRY_END.search(data, start.end()).end()
        out += [data[pos:end], data[start.start() : end]]
        pos = end
    doubled = b"".join(out) + data[pos:]
    fast, slow, stats = _both_paths(doubled)
    assert stats["path"] == "fast"
    _same(fast, slow)
    assert len(fast.transactions) == 2 * len(camt.parse(data, "x.xml").transactions)


def test_one_go_common_case_reads_the_usual_entries() -> None:
    stats: dict = {}
    camt._parse_buffer((SUBITE / "BE68793230773034-202411.xml").read_bytes(), "x", stats=stats)
    assert stats == {"path": "fast", "fallbacks": 0, "plain": 240}  # the other 28: new dates


def test_fast_path_raw_fields_equal_element_fields_entry_by_entry() -> None:
    reader = camt._Reader("x", "camt.053", "")
    for path in FIXTURES.rglob("*.xml"):
        text = path.read_bytes()
        ns = camt.sniff_xml(text[:4096]).namespace
        reader = camt._Reader("x", "camt.053", ns)
        for start in [m.start() for m in camt._Reader._NTRY_START.finditer(text)]:
            end = camt._Reader._NTRY_END.search(text, start).end()
            segment = text[start:end]
            from_bytes = camt._raw_from_bytes(segment).as_tuple()
            from_tree = reader._raw_from_element(reader._element(segment, 4)).as_tuple()
            assert from_bytes == from_tree, path.name


def test_oca_files_fast_path_equals_lxml() -> None:
    for name in ("test-camt053", "test-camt054"):
        fast, slow, stats = _both_paths(_oca(name).read_bytes())
        assert stats["path"] == "fast"
        _same(fast, slow)


ODD_ENTRIES = {
    "entities and char refs": entry(
        details="<TxDtls><RltdPties><Dbtr><Nm>Smith &amp; Sons &#228;&#xE9;</Nm></Dbtr>"
        "</RltdPties><RmtInf><Ustrd>a &lt;b&gt; &quot;c&quot;</Ustrd></RmtInf></TxDtls>"
    ),
    "debtor as agent": entry(
        details="<TxDtls><RltdPties><Dbtr><Agt><FinInstnId><Nm>BANK</Nm></FinInstnId></Agt>"
        "</Dbtr></RltdPties></TxDtls>"
    ),
    "name not first": entry(
        details="<TxDtls><RltdPties><Dbtr><PstlAdr><Ctry>CH</Ctry></PstlAdr><Nm>Late</Nm>"
        "</Dbtr></RltdPties></TxDtls>"
    ),
    "out of order head": (
        "<Ntry><Amt Ccy='EUR'>5.00</Amt><CdtDbtInd>CRDT</CdtDbtInd><AcctSvcrRef>X</AcctSvcrRef>"
        "<BookgDt><Dt>2024-01-02</Dt></BookgDt></Ntry>"
    ),
    "missing amount": "<Ntry><CdtDbtInd>CRDT</CdtDbtInd><BookgDt><Dt>2024-01-02</Dt></BookgDt></Ntry>",
    "empty entry": "<Ntry/>",
    "self-closing parts": entry(
        extra="<RvslInd/>",
        details="<TxDtls><RmtInf><Ustrd/><Strd><CdtrRefInf><Ref/></CdtrRefInf></Strd></RmtInf>"
        "<AddtlTxInf/></TxDtls>",
    ),
    "entry-level AmtDtls and charges": entry(
        extra="",
        details="<TxDtls><AmtDtls><InstdAmt><Amt Ccy='USD'>60.00</Amt></InstdAmt></AmtDtls>"
        "<Chrgs><Rcrd><Amt Ccy='EUR'>1.00</Amt><CdtDbtInd>DBIT</CdtDbtInd></Rcrd></Chrgs>"
        "</TxDtls>",
    ),
    "several details, one with charges": entry(
        details="<TxDtls><Amt Ccy='EUR'>30.00</Amt><CdtDbtInd>CRDT</CdtDbtInd></TxDtls>"
        "<TxDtls><Amt Ccy='EUR'>20.00</Amt><CdtDbtInd>CRDT</CdtDbtInd><Chrgs><Rcrd>"
        "<Amt Ccy='EUR'>0.50</Amt><CdtDbtInd>DBIT</CdtDbtInd></Rcrd></Chrgs></TxDtls>"
    ),
    "status code and DtTm": entry(
        status="<Sts>\n  <Cd>BOOK</Cd>\n</Sts>",
        dates="<BookgDt>\n <DtTm>2024-01-15T10:00:00</DtTm>\n</BookgDt>",
    ),
    "referred documents and typed references": entry(
        details="<TxDtls><RmtInf><Strd><RfrdDocInf><Tp><CdOrPrtry><Cd>CINV</Cd></CdOrPrtry>"
        "</Tp><Nb>INV-7</Nb></RfrdDocInf><CdtrRefInf><Tp><CdOrPrtry><Prtry>QRR</Prtry>"
        "</CdOrPrtry><Issr>X</Issr></Tp><Ref>210000000003139471430009017</Ref></CdtrRefInf>"
        "<AddtlRmtInf>one</AddtlRmtInf><AddtlRmtInf>two</AddtlRmtInf></Strd></RmtInf></TxDtls>"
    ),
    "unknown currency and bad date": entry(
        ccy="HAT", dates="<BookgDt><Dt>2024-02-30</Dt></BookgDt>"
    ),
    "return with info": entry(
        cdi="DBIT",
        details="<TxDtls><Refs><EndToEndId>E1</EndToEndId></Refs><RtrInf><OrgnlBkTxCd><Domn>"
        "<Cd>PMNT</Cd></Domn></OrgnlBkTxCd><Rsn><Cd>AC04</Cd></Rsn><AddtlInf>ORIGINAL REF R1"
        "</AddtlInf></RtrInf></TxDtls>",
    ),
    "pending": entry(status="<Sts>PDNG</Sts>"),
    "refs not first": entry(
        details="<TxDtls><RltdPties><Dbtr><Nm>X</Nm></Dbtr></RltdPties><Refs><AcctSvcrRef>D9"
        "</AcctSvcrRef><EndToEndId>E9</EndToEndId></Refs></TxDtls>"
    ),
    "return without reason": entry(cdi="DBIT", details="<TxDtls><RtrInf/></TxDtls>"),
    "crlf text": entry(
        details="<TxDtls><RmtInf><Ustrd>line one\r\nline two</Ustrd></RmtInf></TxDtls>"
    ),
}


@pytest.mark.parametrize("case", sorted(ODD_ENTRIES))
def test_fast_path_agrees_with_lxml_on_odd_layouts(case: str) -> None:
    entries = entry(ref="R1") + ODD_ENTRIES[case] + entry("1.00") + ODD_ENTRIES[case]
    fast, slow, stats = _both_paths(make_camt(entries=entries))
    assert stats["path"] == "fast"
    _same(fast, slow)


@pytest.mark.parametrize(
    "data",
    [
        make_camt(prefix="ns0", entries=entry()),
        make_camt(entries=entry() + "<!-- a comment -->" + entry()),
        make_camt(entries=entry()).replace(b"UTF-8", b"ISO-8859-1"),
        make_camt(
            entries=entry(
                details="<TxDtls><RmtInf><Ustrd><![CDATA[x<y]]></Ustrd></RmtInf></TxDtls>"
            )
        ),
        make_camt(entries=entry()).replace(b"<Ntry>", b"<Ntry xmlns:x='urn:x'>"),
    ],
    ids=["prefixed", "comment", "latin-1", "cdata", "inner-xmlns"],
)
def test_documents_the_fast_path_leaves_to_lxml(data: bytes) -> None:
    fast, slow, stats = _both_paths(data)
    assert stats["path"] == "lxml"
    _same(fast, slow)
    assert len(fast.transactions) >= 1


# --------------------------------------------------------------------------- arw bank parse output


def test_render_parse_output_prints_every_row_then_the_balance_check() -> None:
    import csv
    import io

    from pipelines.ingest.bank.records import TRANSACTION_FIELDS
    from pipelines.ingest.bank.report import BALANCE_CHECK_FIELDS, render_parse_output

    data = make_camt(
        entries=entry("8.850", ref="R-1", extra="<RvslInd>true</RvslInd>") + entry(ccy="HAT")
    )
    text = render_parse_output(camt.parse(data, "out.xml"))
    transactions, balances = text.split("\n\n")
    rows = list(csv.reader(io.StringIO(transactions)))
    assert tuple(rows[0]) == TRANSACTION_FIELDS
    first, second = (dict(zip(rows[0], row, strict=True)) for row in rows[1:])
    assert first["amount"] == "8.850"  # exactly as parsed
    assert first["booking_date"] == "2024-01-15"
    assert first["effective_date"] == "2024-01-16"
    assert first["is_reversal"] == "true"
    assert first["bank_reference"] == "R-1"
    assert first["reject_reason"] == ""
    assert second["is_reversal"] == "false"
    assert second["currency"] == "HAT"
    assert second["reject_reason"] == (
        "out.xml, Stmt[1]/Ntry[2]/Amt/@Ccy (entry 2): expected ISO 4217 currency code, found 'HAT'"
    )
    checks = list(csv.reader(io.StringIO(balances)))
    assert tuple(checks[0]) == BALANCE_CHECK_FIELDS
    assert checks[1] == [
        "S-1",
        "DE89370400440532013000",
        "EUR",
        "7",
        "100.00",
        "58.850",
        "150.00",
        "mismatch",
        "8.850",
    ]
    assert text.endswith("\n")
