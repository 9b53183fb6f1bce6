"""Bad input (CONTRACT §2): whole files that cannot be read give UnreadableFile with a reason
naming the file, where, what was expected and what was found; bad rows are rejected with the
same kind of reason while the good rows load; rows in = loaded + rejected, always."""

from __future__ import annotations

import time
from decimal import Decimal
from pathlib import Path

import pytest

from pipelines.ingest.bank import camt, generic_csv
from pipelines.ingest.bank.dispatch import parse_bytes, parse_file
from pipelines.ingest.bank.records import ParseResult, UnreadableFile

from .test_camt import entry, make_camt

HEADER = (
    "account,booking_date,value_date,amount,currency,counterparty_name,"
    "counterparty_account,reference,remittance_info"
)
ACCT = "DE89370400440532013000"
GOOD_ROW = f"{ACCT},2024-03-01,2024-03-01,100.00,EUR,Payer AG,,REF-1,Invoice 1"


def csv(*rows: str, header: str = HEADER) -> bytes:
    return ("\n".join([header, *rows]) + "\n").encode()


def unreadable(data: bytes, name: str, reader=parse_bytes) -> str:
    with pytest.raises(UnreadableFile) as err:
        reader(data, name)
    reason = err.value.reason
    assert reason.startswith(f"{name}, ")  # names the file
    assert ": expected " in reason and ", found " in reason  # what was expected / found
    return reason


def rows_in_equal_loaded_plus_rejected(result: ParseResult, rows_in: int) -> None:
    assert len(result.transactions) == rows_in
    assert len(result.loaded) + len(result.rejected) == rows_in


def rejected_reason(result: ParseResult, name: str) -> str:
    (bad,) = result.rejected
    assert bad.reject_reason.startswith(f"{name}, ")
    assert ": expected " in bad.reject_reason and ", found " in bad.reject_reason
    return bad.reject_reason


# --------------------------------------------------------------------------- whole files


def test_01_truncated_xml() -> None:
    data = make_camt(entries=entry() * 3)
    reason = unreadable(data[: len(data) * 2 // 3], "cut.xml")
    assert "cut.xml, line 1, column" in reason
    assert "expected well-formed XML" in reason
    assert "(the file looks truncated)" in reason
    for cut in (100, 400, len(data) - 5):
        assert "(the file looks truncated)" in unreadable(data[:cut], "cut.xml")


def test_02_not_well_formed_names_line_and_column() -> None:
    data = make_camt(entries=entry()).replace(b"</CdtDbtInd>", b"</CdtDbtInc>", 1)
    data = data.replace(b"><", b">\n<")
    reason = unreadable(data, "broken.xml")
    assert "expected well-formed XML, found Opening and ending tag mismatch" in reason
    assert ", line 2" not in reason.split(":")[0] or "line" in reason  # a real line number
    line = int(reason.split("line ")[1].split(",")[0])
    assert data.splitlines()[line - 1].startswith(b"<CdtDbtInd>")


def test_03_bom_is_tolerated() -> None:
    camt_result = parse_bytes(b"\xef\xbb\xbf" + make_camt(entries=entry()), "bom.xml")
    rows_in_equal_loaded_plus_rejected(camt_result, 1)
    assert camt_result.loaded[0].amount == Decimal("50.00")
    csv_result = parse_bytes(b"\xef\xbb\xbf" + csv(GOOD_ROW), "bom.csv")
    rows_in_equal_loaded_plus_rejected(csv_result, 1)
    assert csv_result.loaded[0].account == ACCT


def test_04_wrong_encoding_xml_declared_utf8_but_latin1() -> None:
    data = make_camt(
        entries=entry(details="<TxDtls><RmtInf><Ustrd>Zürich</Ustrd></RmtInf></TxDtls>")
    )
    latin1 = data.decode().encode("latin-1")
    reason = unreadable(latin1, "latin.xml")
    assert "expected well-formed XML, found " in reason
    assert "(the file is not in the encoding its XML declaration names)" in reason
    assert "latin.xml, line 1, column" in reason


def test_05_wrong_encoding_csv() -> None:
    data = csv(GOOD_ROW, f"{ACCT},2024-03-02,,5.00,EUR,Müller,,,").decode().encode("cp1252")
    reason = unreadable(data, "cp1252.csv")
    offset = data.index(b"\xfc")
    assert reason == f"cp1252.csv, line 3 (byte {offset}): expected UTF-8 text, found byte 0xFC"


def test_06_empty_file(tmp_path: Path) -> None:
    assert unreadable(b"", "empty.txt").endswith("found an empty file")
    path = tmp_path / "empty"
    path.write_bytes(b"")
    with pytest.raises(UnreadableFile) as err:
        parse_file(path)
    assert err.value.reason.startswith("empty, file: expected a bank statement")
    assert unreadable(b"", "empty.xml", camt.parse).endswith("found an empty file")


def test_07_binary_file() -> None:
    data = b"PK\x03\x04\x14\x00\x00\x00\x08\x00" + bytes(range(256)) * 20
    reason = unreadable(data, "statement.zip")
    assert "found binary data" in reason


def test_08_ten_megabytes_of_garbage_on_one_line() -> None:
    garbage = (b"zq9" * (10 * 1024 * 1024 // 3))[: 10 * 1024 * 1024]
    start = time.perf_counter()
    unreadable(garbage, "garbage.dat")
    unreadable(garbage, "garbage.xml", camt.parse)
    unreadable(garbage, "garbage.csv", generic_csv.parse)
    assert time.perf_counter() - start < 3


def test_09_billion_laughs_is_refused_fast() -> None:
    lol = (
        b'<?xml version="1.0"?>\n<!DOCTYPE Document [\n <!ENTITY lol "lol">\n'
        + b"".join(
            f' <!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">\n'.encode()
            for i in range(1, 10)
        )
        + b"]>\n<Document xmlns='urn:iso:std:iso:20022:tech:xsd:camt.053.001.02'>"
        b"<BkToCstmrStmt><GrpHdr><MsgId>&lol9;</MsgId></GrpHdr></BkToCstmrStmt></Document>"
    )
    start = time.perf_counter()
    for reader in (parse_bytes, camt.parse):
        reason = unreadable(lol, "lol.xml", reader)
        assert "lol.xml, line 2: expected" in reason
        assert "found a <!DOCTYPE> declaration" in reason
    assert time.perf_counter() - start < 1


def test_10_external_entity_does_not_read_local_files() -> None:
    xxe = (
        b'<?xml version="1.0"?>\n<!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n'
        b"<Document xmlns='urn:iso:std:iso:20022:tech:xsd:camt.053.001.02'><BkToCstmrStmt>"
        b"<Stmt><Id>&x;</Id><Acct><Id><IBAN>X</IBAN></Id></Acct></Stmt></BkToCstmrStmt>"
        b"</Document>"
    )
    for reader in (parse_bytes, camt.parse):
        with pytest.raises(UnreadableFile) as err:
            reader(xxe, "xxe.xml")
        assert "root:" not in err.value.reason
        assert "DOCTYPE" in err.value.reason
    # an external DTD (parameter entities) is refused the same way
    external = b'<?xml version="1.0"?><!DOCTYPE Document SYSTEM "http://evil.example/x.dtd">'
    external += make_camt(entries=entry()).split(b"?>", 1)[1]
    assert "found a <!DOCTYPE> declaration" in unreadable(external, "dtd.xml")


def test_11_undefined_entity_without_dtd() -> None:
    data = make_camt(entries=entry(details="<TxDtls><RmtInf><Ustrd>&x;</Ustrd></RmtInf></TxDtls>"))
    reason = unreadable(data, "ent.xml")
    assert "expected well-formed XML, found Entity 'x' not defined" in reason


def test_12_nesting_bomb_is_refused() -> None:
    depth = 5000
    data = make_camt(
        entries=entry(
            details="<TxDtls><RmtInf><Ustrd>x</Ustrd></RmtInf><SplmtryData><Envlp>"
            + "<a>" * depth
            + "</a>" * depth
            + "</Envlp></SplmtryData></TxDtls>"
        )
    )
    start = time.perf_counter()
    reason = unreadable(data, "deep.xml")
    assert "expected well-formed XML" in reason
    assert time.perf_counter() - start < 1


def test_13_xml_that_is_not_camt() -> None:
    data = b"<?xml version='1.0'?><Invoice xmlns='urn:oasis:names:specification:ubl:Invoice-2'/>"
    assert "found <Invoice> in namespace" in unreadable(data, "ubl.xml")
    assert "found <Invoice> in namespace" in unreadable(data, "ubl.xml", camt.parse)


def test_14_camt_without_statements() -> None:
    data = (
        b"<Document xmlns='urn:iso:std:iso:20022:tech:xsd:camt.053.001.02'><BkToCstmrStmt>"
        b"<GrpHdr><MsgId>1</MsgId></GrpHdr></BkToCstmrStmt></Document>"
    )
    reason = unreadable(data, "nostmt.xml")
    assert reason == (
        "nostmt.xml, Document: expected at least one <Stmt>, <Ntfctn> or <Rpt>, found none"
    )


def test_15_csv_with_a_missing_column() -> None:
    header = HEADER.replace("amount,", "")
    data = csv(f"{ACCT},2024-03-01,,EUR,A,,,", header=header)
    reason = unreadable(data, "nocol.csv", generic_csv.parse)
    assert "nocol.csv, line 1 (header): expected the generic CSV header" in reason
    assert "found a header without amount" in reason


def test_15b_generic_csv_with_a_missing_column_through_detection() -> None:
    """Not the generic layout, no bank profile fits: the reason names the missing generic
    column instead of listing every bank profile when most of the generic header is there."""
    header = HEADER.replace("amount,", "")
    reason = unreadable(csv(f"{ACCT},2024-03-01,,EUR,A,,,", header=header), "nocol.csv")
    assert reason.startswith("nocol.csv, line 1 (header): expected the generic CSV header")
    assert "found a header without amount" in reason
    other = unreadable(b"Datum;Text\n01.03.2024;x\n", "other.csv")
    assert "expected a header row of one of the bank CSV profiles" in other


# --------------------------------------------------------------------------- bad rows


def test_16_csv_with_extra_columns_loads() -> None:
    result = parse_bytes(csv(GOOD_ROW + ",x,y", header=HEADER + ",branch,teller"), "extra.csv")
    rows_in_equal_loaded_plus_rejected(result, 1)
    assert len(result.loaded) == 1


@pytest.mark.parametrize(
    ("amount", "found"),
    [("0.00", "expected a non-zero amount, found '0.00'"), ("0", "found '0'")],
)
def test_17_zero_amount_csv(amount: str, found: str) -> None:
    row = f"{ACCT},2024-03-01,,{amount},EUR,A,,,"
    result = parse_bytes(csv(GOOD_ROW, row), "zero.csv")
    rows_in_equal_loaded_plus_rejected(result, 2)
    assert found in rejected_reason(result, "zero.csv")


@pytest.mark.parametrize("amount", ["12,50", "1.2.3", "EUR 5", "NaN", "1e5", "--5"])
def test_18_malformed_amount_csv(amount: str) -> None:
    result = parse_bytes(csv(GOOD_ROW, f'{ACCT},2024-03-01,,"{amount}",EUR,A,,,'), "amt.csv")
    rows_in_equal_loaded_plus_rejected(result, 2)
    reason = rejected_reason(result, "amt.csv")
    assert reason == (
        f"amt.csv, line 3, column amount: expected an amount like -1234.56, found '{amount}'"
    )


def test_19_malformed_and_missing_amount_camt() -> None:
    data = make_camt(entries=entry() + entry("12,50") + entry())
    result = parse_bytes(data, "amt.xml")
    rows_in_equal_loaded_plus_rejected(result, 3)
    assert rejected_reason(result, "amt.xml") == (
        "amt.xml, Stmt[1]/Ntry[2]/Amt (entry 2): expected a decimal amount like 1234.56, "
        "found '12,50'"
    )
    # the unreadable amount stays out of the balance check, which then shows the gap
    assert result.statements[0].entries_total == Decimal("100.00")


def test_20_unknown_currency_csv_and_camt() -> None:
    result = parse_bytes(csv(GOOD_ROW, f"{ACCT},2024-03-01,,5.00,HAT,A,,,"), "ccy.csv")
    rows_in_equal_loaded_plus_rejected(result, 2)
    assert rejected_reason(result, "ccy.csv") == (
        "ccy.csv, line 3, column currency: expected ISO 4217 currency code, found 'HAT'"
    )
    result = parse_bytes(make_camt(entries=entry() + entry(ccy="HAT")), "ccy.xml")
    rows_in_equal_loaded_plus_rejected(result, 2)
    assert rejected_reason(result, "ccy.xml") == (
        "ccy.xml, Stmt[1]/Ntry[2]/Amt/@Ccy (entry 2): expected ISO 4217 currency code, found 'HAT'"
    )
    assert result.rejected[0].currency == "HAT"  # the raw value is kept


def test_21_unknown_currency_on_a_batch_detail() -> None:
    details = (
        "<TxDtls><Amt Ccy='EUR'>30.00</Amt></TxDtls><TxDtls><Amt Ccy='ELL'>20.00</Amt></TxDtls>"
    )
    result = parse_bytes(make_camt(entries=entry(details=details)), "d.xml")
    rows_in_equal_loaded_plus_rejected(result, 2)
    assert rejected_reason(result, "d.xml") == (
        "d.xml, Stmt[1]/Ntry[1]/NtryDtls/TxDtls[2]/Amt/@Ccy (entry 1): expected ISO 4217 "
        "currency code, found 'ELL'"
    )


@pytest.mark.parametrize(
    ("row", "column"),
    [
        (",2024-03-01,,5.00,EUR,A,,,", "account"),
        (f"{ACCT},,,5.00,EUR,A,,,", "booking_date"),
        (f"{ACCT},2024-03-01,,,EUR,A,,,", "amount"),
        (f"{ACCT},2024-03-01,,5.00,,A,,,", "currency"),
    ],
)
def test_22_missing_required_field_csv(row: str, column: str) -> None:
    result = parse_bytes(csv(GOOD_ROW, row), "req.csv")
    rows_in_equal_loaded_plus_rejected(result, 2)
    reason = rejected_reason(result, "req.csv")
    assert reason.startswith(f"req.csv, line 3, column {column}: expected ")
    assert reason.endswith("found nothing")


def test_23_missing_direction_camt() -> None:
    data = make_camt(entries=entry() + entry(cdi=""))
    result = parse_bytes(data, "dir.xml")
    rows_in_equal_loaded_plus_rejected(result, 2)
    assert rejected_reason(result, "dir.xml") == (
        "dir.xml, Stmt[1]/Ntry[2]/CdtDbtInd (entry 2): expected CdtDbtInd CRDT or DBIT, "
        "found nothing"
    )


@pytest.mark.parametrize("bad_date", ["2024-02-30", "2023-02-29", "2024-13-01", "2024-04-31"])
def test_24_impossible_dates(bad_date: str) -> None:
    result = parse_bytes(csv(GOOD_ROW, f"{ACCT},{bad_date},,5.00,EUR,A,,,"), "d.csv")
    rows_in_equal_loaded_plus_rejected(result, 2)
    assert rejected_reason(result, "d.csv") == (
        f"d.csv, line 3, column booking_date: expected a date YYYY-MM-DD, found '{bad_date}'"
    )
    camt_entry = entry(
        dates=f"<BookgDt><Dt>2024-01-15</Dt></BookgDt><ValDt><Dt>{bad_date}</Dt></ValDt>"
    )
    result = parse_bytes(make_camt(entries=entry() + camt_entry), "d.xml")
    rows_in_equal_loaded_plus_rejected(result, 2)
    assert rejected_reason(result, "d.xml") == (
        f"d.xml, Stmt[1]/Ntry[2]/ValDt/Dt (entry 2): expected an ISO date YYYY-MM-DD, "
        f"found '{bad_date}'"
    )


def test_25_entry_without_any_date() -> None:
    result = parse_bytes(make_camt(entries=entry() + entry(dates="")), "nodate.xml")
    rows_in_equal_loaded_plus_rejected(result, 2)
    assert rejected_reason(result, "nodate.xml") == (
        "nodate.xml, Stmt[1]/Ntry[2] (entry 2): expected a booking or value date "
        "(Ntry/BookgDt, Ntry/ValDt or TxDtls/RltdDts/IntrBkSttlmDt), found none"
    )


def test_26_row_with_too_many_fields() -> None:
    result = parse_bytes(csv(GOOD_ROW, GOOD_ROW + ",oops"), "wide.csv")
    rows_in_equal_loaded_plus_rejected(result, 2)
    assert rejected_reason(result, "wide.csv") == (
        "wide.csv, line 3: expected 9 fields as in the header, found 10 ('oops' beyond the "
        "last column)"
    )


# --------------------------------------------------------------------------- ids


def test_27_resent_file_gives_equal_ids() -> None:
    rows = [GOOD_ROW, f"{ACCT},2024-03-02,,5.00,EUR,A,,,", f"{ACCT},2024-03-02,,5.00,EUR,A,,,"]
    first = parse_bytes(csv(*rows), "a.csv")
    again = parse_bytes(csv(*rows), "a (1).csv")
    assert [t.transaction_id for t in first.transactions] == [
        t.transaction_id for t in again.transactions
    ]
    camt_doc = make_camt(entries=entry(ref="B-1") + entry() + entry())
    ids = [t.transaction_id for t in parse_bytes(camt_doc, "s.xml").transactions]
    assert ids == [t.transaction_id for t in parse_bytes(camt_doc, "s-copy.xml").transactions]


def test_28_two_identical_genuine_rows_are_both_kept() -> None:
    twin = f"{ACCT},2024-03-02,2024-03-02,5.00,EUR,Coffee shop,,,"
    result = parse_bytes(csv(twin, twin), "twins.csv")
    rows_in_equal_loaded_plus_rejected(result, 2)
    assert len(result.loaded) == 2
    first, second = result.transactions
    assert first.transaction_id != second.transaction_id
    # same in camt: two identical entries without a bank reference
    result = parse_bytes(make_camt(entries=entry() + entry()), "twins.xml")
    assert len(result.loaded) == 2
    assert result.transactions[0].transaction_id != result.transactions[1].transaction_id
    # and with the same bank reference twice
    result = parse_bytes(make_camt(entries=entry(ref="R") + entry(ref="R")), "twins2.xml")
    assert len({t.transaction_id for t in result.transactions}) == 2


def test_29_pending_entry_is_rejected_not_dropped() -> None:
    result = parse_bytes(make_camt(entries=entry() + entry(status="<Sts>PDNG</Sts>")), "p.xml")
    rows_in_equal_loaded_plus_rejected(result, 2)
    assert "expected a booked entry (Sts BOOK or INFO), found 'PDNG'" in rejected_reason(
        result, "p.xml"
    )


def test_30_file_paths_give_the_file_name_in_reasons(tmp_path: Path) -> None:
    path = tmp_path / "statement-without-extension"
    path.write_bytes(make_camt(entries=entry() + entry(ccy="XYZ")))
    result = parse_file(path)
    rows_in_equal_loaded_plus_rejected(result, 2)
    assert rejected_reason(result, "statement-without-extension").startswith(
        "statement-without-extension, Stmt[1]/Ntry[2]/Amt/@Ccy"
    )
    truncated = tmp_path / "truncated"
    truncated.write_bytes(make_camt(entries=entry())[:-30])
    with pytest.raises(UnreadableFile) as err:
        parse_file(truncated)
    assert err.value.reason.startswith("truncated, line 1, column ")
