"""Format detection from content (never the file name) and the dispatcher around it."""

from __future__ import annotations

import sys
import time
import types
from pathlib import Path

import pytest

from pipelines.ingest.bank import dispatch
from pipelines.ingest.bank.detect import FORMATS, detect_format, sniff_xml
from pipelines.ingest.bank.records import ParseResult, UnreadableFile

SHARED = Path("/work/shared/data/external")
FIXTURES = Path(__file__).resolve().parents[3] / "fixtures" / "bank"

# every real file we have, by family (paths relative to the shared data / fixtures folder)
REAL_FILES = {
    "camt.053": [
        "camt/genkgo_camt/camt053.v2.five.decimals.xml",
        "camt/genkgo_camt/camt053.v2.multi.statement.xml",
        "camt/genkgo_camt/camt053.v8.xml",
        "camt/subite_camt_to_coda/BE68793230773034-202411.xml",
        "camt/subite_camt_to_coda/CAMT_053/2024-03-07.xml",
        "camt/oca_bank_statement_import/test-camt053",
    ],
    "camt.054": [
        "camt/genkgo_camt/camt054.v4.xml",
        "camt/subite_camt_to_coda/CAMT_054/2024-11-12.xml",
        "camt/oca_bank_statement_import/test-camt054",
    ],
    "mt940": [
        "mt940/wolph_mt940/ASNB/0708271685_09022020_164516.940.txt",
        "mt940/wolph_mt940/betterplace/sepa_mt9401.sta",
        "mt940/wolph_mt940/cmxl/mt940.sta",
        "mt940/wolph_mt940/jejik/abnamro.sta",
        "mt940/wolph_mt940/jejik/ing.sta",
        "mt940/wolph_mt940/jejik/postfinance.sta",
        "mt940/wolph_mt940/jejik/rabobank-iban.sta",
        "mt940/wolph_mt940/mBank/mt940.sta",
        "mt940/wolph_mt940/sberbank/171011_01234945.sta",
        "mt940/wolph_mt940/self-provided/raiffeisen-cmi.sta",
    ],
    "bai2": [
        "bai2/moj_bai2/citi_example.bai2",
        "bai2/moj_bai2/nwb_example.bai2",
        "bai2/moj_bai2/svb_us_example.bai2",
        "bai2/moj_bai2/account_trailer_amount_blank_example.bai2",
        "bai2/moov_bai2/sample1.txt",
        "bai2/moov_bai2/sample2.txt",
        "bai2/moov_bai2/sample3.txt",
        "bai2/moov_bai2/sample4-continuations-newline-delimited.txt",
        "bai2/moov_bai2/sample5-issue113.txt",
    ],
    "ofx": [
        "ofx/ofxparse/checking.ofx",
        "ofx/ofxparse/bank_medium.ofx",
        "ofx/ofxparse/suncorp.ofx",
        "ofx/ofxparse/anzcc.ofx",
        "ofx/asgrim_ofxparser/ofxdata-bb-two-stmtrs.ofx",
        "ofx/asgrim_ofxparser/ofxdata-cmfr.ofx",
        "ofx/asgrim_ofxparser/ofxdata-bpbfc.ofx",
        "ofx/asgrim_ofxparser/ofxdata-oneline.ofx",
        "ofx/asgrim_ofxparser/ofxdata-xml.ofx",
        "ofx/asgrim_ofxparser/ofxdata-credit-card.ofx",
    ],
    "csv_profile": [
        "bank_csv/banana_switzerland/csv_ubs_example_format3_en_20221108.csv",
        "bank_csv/banana_switzerland/csv_postfinance_example_format6_20240228-EN.csv",
        "bank_csv/banana_switzerland/csv_example_format6_20241119.csv",
        "bank_csv/banana_switzerland/csv_zkb_example_format5_20230223.csv",
        "bank_csv/banana_switzerland/csv_creditsuisse_example_format5_20240108.csv",
        "bank_csv/banana_switzerland/csv_bancastato_example_format5_20231123USD.csv",
        "bank_csv/banana_switzerland/csv_clerbank_example_format1_CHF_20251002.csv",
        "bank_csv/csv2ofx/outbank.csv",
        "bank_csv/csv2ofx/n26-fr.csv",
        "bank_csv/csv2ofx/ubs-ch-fr_trimmed.csv",
        "bank_csv/csv2ofx/stripe-all.csv",
    ],
}
CASES = [(fmt, rel) for fmt, paths in REAL_FILES.items() for rel in paths]


@pytest.mark.parametrize(("expected", "rel"), CASES, ids=[rel for _, rel in CASES])
def test_real_files_from_the_shared_data(expected: str, rel: str) -> None:
    path = SHARED / rel
    if not path.exists():
        pytest.skip(f"{path} not available (shared read-only test data)")
    data = path.read_bytes()
    assert detect_format(data, path.name) == expected
    # the name does not matter: same answer under a meaningless name
    assert detect_format(data, "upload-0001") == expected


def test_every_family_is_covered_by_real_files() -> None:
    covered = set(REAL_FILES)
    assert covered >= {"camt.053", "camt.054", "mt940", "bai2", "ofx", "csv_profile"}
    assert set(FORMATS) >= covered


CAMT = (
    "<Document xmlns='urn:iso:std:iso:20022:tech:xsd:camt.{kind}.001.{v:02d}'>"
    "<{msg}><GrpHdr><MsgId>1</MsgId></GrpHdr></{msg}></Document>"
)
MESSAGES = {"052": "BkToCstmrAcctRpt", "053": "BkToCstmrStmt", "054": "BkToCstmrDbtCdtNtfctn"}


@pytest.mark.parametrize("version", range(2, 11))
@pytest.mark.parametrize("kind", sorted(MESSAGES))
def test_camt_every_version(kind: str, version: int) -> None:
    doc = CAMT.format(kind=kind, v=version, msg=MESSAGES[kind]).encode()
    assert detect_format(doc) == f"camt.{kind}"


@pytest.mark.parametrize(
    "prefix",
    [
        b"",
        b"\xef\xbb\xbf",
        b"\n\n   \t",
        b"<?xml version='1.0' encoding='UTF-8'?>\n",
        b"\xef\xbb\xbf<?xml version='1.0'?><!-- exported by bank -->\n",
        b"<?xml version='1.0'?><?xml-stylesheet href='x.xsl'?>",
    ],
    ids=["bare", "bom", "whitespace", "declaration", "bom-comment", "pi"],
)
def test_camt_prolog_variants(prefix: bytes) -> None:
    doc = CAMT.format(kind="053", v=2, msg=MESSAGES["053"]).encode()
    assert detect_format(prefix + doc) == "camt.053"


def test_camt_prefixed_namespace_utf16_and_no_namespace() -> None:
    prefixed = (
        b"<ns0:Document xmlns:ns0='urn:iso:std:iso:20022:tech:xsd:camt.054.001.08'>"
        b"<ns0:BkToCstmrDbtCdtNtfctn/></ns0:Document>"
    )
    assert detect_format(prefixed) == "camt.054"
    utf16 = CAMT.format(kind="052", v=6, msg=MESSAGES["052"]).encode("utf-16")
    assert detect_format(utf16) == "camt.052"
    assert detect_format(b"<Document><BkToCstmrStmt><GrpHdr/></BkToCstmrStmt></Document>") == (
        "camt.053"
    )
    head = sniff_xml(prefixed)
    assert (head.root, head.namespace) == (
        "Document",
        "urn:iso:std:iso:20022:tech:xsd:camt.054.001.08",
    )


MT940 = b":20:STMT1\r\n:25:DE89370400440532013000\r\n:28C:1/1\r\n:60F:C240101EUR100,00\r\n"
MT942 = b":20:INTRA\n:25:DE89370400440532013000\n:28C:1/1\n:34F:EUR0,\n:13D:2401011200+0100\n"


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (MT940, "mt940"),
        (b"\x01" + MT940 + b"-\x03", "mt940"),
        (b"{1:F01BANKDEFFXXXX0000000000}{2:O940BANKDEFFXXXXN}{3:}{4:\r\n" + MT940 + b"-}", "mt940"),
        (b"ABNANL2A\n940\nABNANL2A\n" + MT940, "mt940"),
        (MT942, "mt942"),
        (b"{1:F01BANKDEFFXXXX0000000000}{2:O942BANKDEFFXXXXN}{4:\n" + MT942 + b"-}", "mt942"),
        (b"01,BANK,CUST,240101,0800,1,,,2/\n02,CUST,BANK,1,240101,,EUR,2/\n", "bai2"),
        (b"\xef\xbb\xbf\n01,BANK,CUST,240101,0800,1,,,2/\n", "bai2"),
        (b"OFXHEADER:100\nDATA:OFXSGML\nVERSION:102\n\n<OFX><BANKMSGSRSV1>", "ofx"),
        (b"<?xml version='1.0'?>\n<?OFX OFXHEADER='200' VERSION='220'?>\n<OFX></OFX>", "ofx"),
        (b"<OFX>\n<SIGNONMSGSRSV1>", "ofx"),
    ],
    ids=[
        "mt940",
        "mt940-soh",
        "mt940-swift-blocks",
        "mt940-header-lines",
        "mt942",
        "mt942-swift-blocks",
        "bai2",
        "bai2-bom",
        "ofx-sgml",
        "ofx-xml",
        "ofx-bare",
    ],
)
def test_text_formats(data: bytes, expected: str) -> None:
    assert detect_format(data) == expected


GENERIC = (
    "account,booking_date,value_date,amount,currency,counterparty_name,"
    "counterparty_account,reference,remittance_info\n"
)


@pytest.mark.parametrize(
    "header",
    [
        GENERIC,
        "\ufeff" + GENERIC,
        GENERIC.upper(),
        "reference,amount,account,currency,booking_date,value_date,remittance_info,"
        "counterparty_account,counterparty_name,extra\n",
        GENERIC.replace(",", ";"),
        '"' + GENERIC.strip().replace(",", '","') + '"\n',
    ],
    ids=["plain", "bom", "upper", "reordered-extra", "semicolon", "quoted"],
)
def test_generic_csv_header(header: str) -> None:
    assert detect_format(header.encode() + b"X,2024-01-01,,1.00,EUR,,,,\n") == "generic_csv"


def test_other_csv_goes_to_profiles() -> None:
    missing_one = GENERIC.replace(",remittance_info", "")
    assert detect_format(missing_one.encode()) == "csv_profile"
    assert detect_format(b"Datum;Buchungstext;Betrag\n01.01.2024;Miete;-500,00\n") == (
        "csv_profile"
    )


@pytest.mark.parametrize(
    ("data", "found"),
    [
        (b"", "found an empty file"),
        (b"  \n\t\r\n", "found only blank space"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00", "found binary data"),
        (bytes(range(256)) * 4, "found binary data"),
        (b"Dear customer\nplease find attached your statement\n", "found content starting"),
        (
            b"<?xml version='1.0'?><Invoice xmlns='urn:oasis:names:specification:ubl'/>",
            "found <Invoice> in namespace 'urn:oasis:names:specification:ubl'",
        ),
    ],
    ids=["empty", "blank", "png", "bytes", "prose", "other-xml"],
)
def test_unknown_input_is_unreadable_with_a_reason(data: bytes, found: str) -> None:
    with pytest.raises(UnreadableFile) as err:
        detect_format(data, "inbox/x")
    assert err.value.reason.startswith("inbox/x, ")
    assert "expected " in err.value.reason
    assert found in err.value.reason


def test_ten_megabytes_of_garbage_on_one_line_is_refused_fast() -> None:
    data = b"q" * (10 * 1024 * 1024)
    start = time.perf_counter()
    with pytest.raises(UnreadableFile) as err:
        detect_format(data, "garbage")
    assert time.perf_counter() - start < 1
    assert err.value.reason.startswith("garbage, line 1: expected a bank statement")


# --------------------------------------------------------------------------- dispatcher


def test_dispatch_reports_a_missing_reader(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(dispatch.READERS, "bai2", "no_such_reader_module")
    with pytest.raises(UnreadableFile) as err:
        dispatch.parse_bytes(b"01,BANK,CUST,240101,0800,1,,,2/\n", "f.bai")
    assert "reader for bai2 not available" in err.value.reason
    assert err.value.reason.startswith("f.bai, file: expected a reader for bai2")


def _fake_reader(monkeypatch: pytest.MonkeyPatch, module: str) -> list:
    calls: list = []

    def parse(data: bytes, source_file: str, **kwargs: object) -> ParseResult:
        calls.append((source_file, kwargs))
        return ParseResult(format="")

    fake = types.ModuleType(f"pipelines.ingest.bank.{module}")
    fake.parse = parse
    monkeypatch.setitem(sys.modules, f"pipelines.ingest.bank.{module}", fake)
    return calls


def test_dispatch_routes_profiles_and_fills_the_format(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _fake_reader(monkeypatch, "csv_profiles")
    dirs = (Path("/profiles"),)
    result = dispatch.parse_bytes(b"Datum;Betrag\n01.01.2024;5,00\n", "a.csv", profile_dirs=dirs)
    assert result.format == "csv_profile"
    assert calls == [("a.csv", {"profile": None, "profile_dirs": dirs})]
    # a named profile also applies to a file that happens to carry the generic header
    dispatch.parse_bytes(GENERIC.encode(), "b.csv", profile="mybank")
    assert calls[-1] == ("b.csv", {"profile": "mybank", "profile_dirs": ()})


def test_dispatch_by_content_not_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _fake_reader(monkeypatch, "mt940")
    path = tmp_path / "statement.xml"  # a misleading extension
    path.write_bytes(MT940)
    assert dispatch.parse_file(path).format == "mt940"
    assert calls == [("statement.xml", {})]


def test_parse_file_reports_unreadable_paths(tmp_path: Path) -> None:
    with pytest.raises(UnreadableFile) as err:
        dispatch.parse_file(tmp_path / "missing")
    assert err.value.reason.startswith("missing, file: expected a readable file, found")
