"""The bank ingest step: files into raw.bank_transactions / raw.bank_statements, the registry,
duplicates, rejects and quarantine (CONTRACT §1, §2), through ``ingest_bank``."""

import hashlib
import shutil
from decimal import Decimal
from pathlib import Path

import pytest

from pipelines.ingest.bank_files import ingest_bank
from pipelines.settings import Settings
from pipelines.warehouse import connect, ensure_schema

from .bank.test_camt import entry, make_camt

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "bank"
ACCT = "CH9300762011623852957"
GENERIC_HEADER = (
    "account,booking_date,value_date,amount,currency,counterparty_name,counterparty_account,"
    "reference,remittance_info"
)

GENERIC = """account,booking_date,value_date,amount,currency,counterparty_name,counterparty_account,reference,remittance_info
CH9300762011623852957,2026-10-05,2026-10-05,100.00,EUR,Alpha GmbH,DE89370400440532013000,,INV-001
CH9300762011623852957,2026-10-05,2026-10-05,100.00,EUR,Alpha GmbH,DE89370400440532013000,,INV-001
CH9300762011623852957,2026-10-06,2026-10-06,-20.50,EUR,Supplier,,,rent
CH9300762011623852957,2026-10-07,2026-10-07,5.00,HAT,Nobody,,,scrambled currency
"""


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    (tmp_path / "inbox" / "bank").mkdir(parents=True)
    return Settings.from_env().with_overrides(tmp_path / "inbox", tmp_path / "wh")


def _run(settings: Settings, run_id: str):
    with connect(settings) as con:
        ensure_schema(con)
        stats = ingest_bank(con, settings, run_id)
        totals = con.execute(
            "SELECT count(*), sum(amount) FILTER (WHERE amount > 0), "
            "sum(amount) FILTER (WHERE amount < 0) FROM raw.bank_transactions"
        ).fetchall()[0]
        rejects = con.execute("SELECT reason FROM audit.rejects").fetchall()
        files = con.execute(
            "SELECT rows_in, rows_loaded, rows_rejected, rows_duplicate "
            "FROM audit.files ORDER BY file_seq"
        ).fetchall()
    return stats, totals, rejects, files


def test_two_identical_looking_genuine_rows_are_both_kept_and_a_bad_currency_is_rejected(settings):
    (settings.inbox / "bank" / "statement").write_text(GENERIC)  # no extension: found by content
    stats, totals, rejects, files = _run(settings, "r1")
    assert totals == (3, Decimal("200.000000"), Decimal("-20.500000"))
    assert (stats.rows_in, stats.rows_loaded, stats.rows_rejected) == (4, 3, 1)
    assert files == [(4, 3, 1, 0)]
    assert len(rejects) == 1
    reason = rejects[0][0]
    assert "bank/statement" in reason and "line 5" in reason
    assert "expected" in reason and "HAT" in reason


def test_the_same_statement_delivered_100_times_under_other_names_is_stored_once(settings):
    first = settings.inbox / "bank" / "statement_2026-10.csv"
    first.write_text(GENERIC)
    _run(settings, "r1")
    for i in range(100):
        shutil.copy(first, settings.inbox / "bank" / f"copy_{i:03d}.csv")
    stats, totals, _, files = _run(settings, "r2")
    assert stats.files_loaded == 0 and stats.files_skipped == 101
    assert totals == (3, Decimal("200.000000"), Decimal("-20.500000"))
    assert len(files) == 1


def test_an_overlapping_resent_period_adds_only_the_new_transactions(settings):
    (settings.inbox / "bank" / "oct_part.csv").write_text(GENERIC)
    _run(settings, "r1")
    extended = GENERIC + (
        "CH9300762011623852957,2026-10-08,2026-10-08,42.00,EUR,Beta AG,,,INV-002\n"
    )
    (settings.inbox / "bank" / "oct_full.csv").write_text(extended)
    stats, totals, _, files = _run(settings, "r2")
    assert totals == (4, Decimal("242.000000"), Decimal("-20.500000"))
    assert files[-1] == (5, 1, 1, 3)  # rows in 5 = loaded 1 + rejected 1 + already known 3


def test_an_unreadable_bank_file_is_quarantined_with_its_reason(settings):
    (settings.inbox / "bank" / "broken.xml").write_text(
        '<?xml version="1.0"?><Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02">'
        "<BkToCstmrStmt><Stmt><Id>1</Id>"
    )
    stats, totals, _, _ = _run(settings, "r1")
    assert stats.files_quarantined == 1 and totals[0] == 0
    with connect(settings) as con:
        status, reason = con.execute("SELECT status, reason FROM audit.files").fetchall()[0]
    assert status == "quarantined"
    assert reason.startswith("bank/broken.xml")
    assert (settings.warehouse_dir / "quarantine").is_dir()


# --------------------------------------------------------------------------- camt streamed


def test_camt_is_streamed_from_disk_and_named_by_its_inbox_path(settings, monkeypatch):
    from pipelines.ingest.bank import camt

    def whole_file_read(*args, **kwargs):
        raise AssertionError("the ingest step must stream camt, not read the file whole")

    monkeypatch.setattr(camt, "parse", whole_file_read)
    (settings.inbox / "bank" / "2024").mkdir()
    path = settings.inbox / "bank" / "2024" / "jan.xml"
    path.write_bytes(make_camt(entries=entry(ref="B-1") + entry(ccy="HAT")))
    stats, totals, rejects, files = _run(settings, "r1")
    assert (stats.rows_in, stats.rows_loaded, stats.rows_rejected) == (2, 1, 1)
    assert files == [(2, 1, 1, 0)]
    assert rejects[0][0].startswith("bank/2024/jan.xml, Stmt[1]/Ntry[2]/Amt/@Ccy (entry 2): ")
    with connect(settings) as con:
        names = con.execute(
            "SELECT DISTINCT source_file, _source_file FROM raw.bank_transactions"
        ).fetchall()
        statements = con.execute(
            "SELECT _source_file, sequence_number FROM raw.bank_statements"
        ).fetchall()
    assert names == [("bank/2024/jan.xml", "bank/2024/jan.xml")]
    assert statements == [("bank/2024/jan.xml", "7")]


# --------------------------------------------------------------------------- user profiles

USER_PROFILE = """
name: mybank
encoding: utf-8
delimiter: "|"
decimal_separator: ","
thousands_separators: "."
date_format: "%d/%m/%Y"
header: [Buchung, Betrag, Zweck]
columns:
  booking_date: Buchung
  amount: Betrag
  remittance_info: Zweck
defaults:
  currency: EUR
  account: DE89370400440532013000
"""


def test_a_user_profile_folder_named_in_the_environment_is_used_by_ingestion(tmp_path, monkeypatch):
    profiles = tmp_path / "my profiles"
    profiles.mkdir()
    (profiles / "mybank.yaml").write_text(USER_PROFILE, encoding="utf-8")
    monkeypatch.setenv("ARW_BANK_PROFILES", str(profiles))
    settings = Settings.from_env().with_overrides(tmp_path / "inbox", tmp_path / "wh")
    assert settings.bank_profile_dirs == (profiles,)
    (settings.inbox / "bank").mkdir(parents=True)
    (settings.inbox / "bank" / "mine.csv").write_bytes(
        b"Buchung|Betrag|Zweck\n01/03/2024|1.234,50|INV-1\n02/03/2024|-5,00|fee\n"
    )
    stats, totals, rejects, files = _run(settings, "r1")
    assert stats.files_quarantined == 0 and rejects == []
    assert totals == (2, Decimal("1234.500000"), Decimal("-5.000000"))
    with connect(settings) as con:
        assert con.execute("SELECT DISTINCT bank_format FROM raw.bank_transactions").fetchall() == [
            ("csv_profile",)
        ]


def test_without_the_profile_folder_the_same_file_is_quarantined(settings):
    (settings.inbox / "bank" / "mine.csv").write_bytes(b"Buchung|Betrag|Zweck\n01/03/2024|1,00|x\n")
    stats, *_ = _run(settings, "r1")
    assert stats.files_quarantined == 1


# --------------------------------------------------------------------------- bad input
# CONTRACT §2 through the real ingest path: every kind of bad file ends in quarantine (with a
# reason naming bank/<file>, what was expected and what was found) or loads with its bad
# rows in audit.rejects; rows in = loaded + rejected + duplicates; the inbox is untouched.

GOOD = f"{ACCT},2024-03-01,2024-03-01,100.00,EUR,Payer AG,,,Invoice 1"


def _generic(*rows: str) -> bytes:
    return ("\n".join([GENERIC_HEADER, *rows]) + "\n").encode()


def _billion_laughs() -> bytes:
    entities = "".join(
        f' <!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">\n'
        for i in range(1, 10)
    )
    return (
        '<?xml version="1.0"?>\n<!DOCTYPE Document [\n <!ENTITY lol "lol">\n' + entities + "]>\n"
        "<Document xmlns='urn:iso:std:iso:20022:tech:xsd:camt.053.001.02'>"
        "<BkToCstmrStmt><GrpHdr><MsgId>&lol9;</MsgId></GrpHdr></BkToCstmrStmt></Document>"
    ).encode()


def _external_entity() -> bytes:
    return (
        b'<?xml version="1.0"?>\n<!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n'
        b"<Document xmlns='urn:iso:std:iso:20022:tech:xsd:camt.053.001.02'><BkToCstmrStmt>"
        b"<Stmt><Id>&x;</Id><Acct><Id><IBAN>X</IBAN></Id></Acct></Stmt></BkToCstmrStmt>"
        b"</Document>"
    )


_CAMT = make_camt(entries=entry() * 3)

# name, content, what the reason must contain
QUARANTINED = {
    "truncated": ("cut.xml", _CAMT[: len(_CAMT) * 2 // 3], "(the file looks truncated)"),
    "wrong_encoding_xml": (
        "latin.xml",
        make_camt(entries=entry(details="<TxDtls><RmtInf><Ustrd>Zürich</Ustrd></RmtInf></TxDtls>"))
        .decode()
        .encode("latin-1"),
        "(the file is not in the encoding its XML declaration names)",
    ),
    "wrong_encoding_csv": (
        "cp1252.csv",
        _generic(GOOD, f"{ACCT},2024-03-02,,5.00,EUR,Müller,,,").decode().encode("cp1252"),
        "line 3 (byte ",
    ),
    "mixed_encoding_csv": (
        "mixed.csv",
        _generic(f"{ACCT},2024-03-01,,5.00,EUR,Zürich AG,,,")
        + f"{ACCT},2024-03-02,,6.00,EUR,Müller,,,\n".encode("cp1252"),
        "line 3 (byte ",
    ),
    "empty": ("empty.csv", b"", "found an empty file"),
    "binary": ("statement.zip", b"PK\x03\x04\x14\x00" + bytes(range(256)) * 20, "binary data"),
    "billion_laughs": ("lol.xml", _billion_laughs(), "found a <!DOCTYPE> declaration"),
    "external_entity": ("xxe.xml", _external_entity(), "found a <!DOCTYPE> declaration"),
    "ten_mb_line": ("garbage.dat", (b"zq9" * (10 * 1024 * 1024 // 3 + 1))[: 10 * 1024 * 1024], ""),
    "csv_missing_column": (
        "nocol.csv",
        ("account,booking_date,value_date,currency,counterparty_name,counterparty_account,"
         f"reference,remittance_info\n{ACCT},2024-03-01,,EUR,A,,,\n").encode(),
        "expected the generic CSV header with columns account, booking_date, value_date, "
        "amount, currency, counterparty_name, counterparty_account, reference, "
        "remittance_info, found a header without amount",
    ),
}  # fmt: skip


def _file_row(settings: Settings) -> tuple:
    with connect(settings) as con:
        return con.execute(
            "SELECT status, reason, rows_in, rows_loaded, rows_rejected, rows_duplicate "
            "FROM audit.files"
        ).fetchall()


@pytest.mark.parametrize("kind", sorted(QUARANTINED))
def test_bad_files_go_to_quarantine_through_the_ingest_step(settings, kind):
    name, content, detail = QUARANTINED[kind]
    path = settings.inbox / "bank" / name
    path.write_bytes(content)
    before = hashlib.sha256(content).hexdigest()
    stats, totals, rejects, _ = _run(settings, "r1")
    assert stats.files_quarantined == 1 and totals[0] == 0 and rejects == []
    ((status, reason, rows_in, loaded, rejected, duplicate),) = _file_row(settings)
    assert status == "quarantined"
    assert reason.startswith(f"bank/{name}, ")
    assert ": expected " in reason and ", found " in reason
    assert detail in reason
    assert len(reason) < 1000  # readable, even for a 10 MB line
    assert rows_in == loaded + rejected + duplicate == 0
    assert "root:" not in reason  # no local file was read (external entity)
    copies = list((settings.warehouse_dir / "quarantine").glob(f"*_{name}"))
    assert len(copies) == 1 and copies[0].read_bytes() == content
    assert copies[0].with_name(copies[0].name + ".reason.txt").read_text().strip() == reason
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before  # the inbox is untouched


# name, content, (rows in, loaded, rejected, duplicates), what each reason must contain
REJECTED = {
    "bom": (
        "bom.csv",
        b"\xef\xbb\xbf" + _generic(GOOD, f"{ACCT},2024-03-01,,5.00,HAT,A,,,"),
        (2, 1, 1, 0),
        ["line 3, column currency: expected ISO 4217 currency code, found 'HAT'"],
    ),
    "zero_and_malformed_amounts": (
        "amounts.csv",
        _generic(GOOD, f"{ACCT},2024-03-01,,0.00,EUR,A,,,", f'{ACCT},2024-03-01,,"12,50",EUR,A,,,',
                 f"{ACCT},2024-03-01,,1e5,EUR,A,,,"),
        (4, 1, 3, 0),
        ["line 3, column amount: expected a non-zero amount, found '0.00'",
         "line 4, column amount: expected an amount like -1234.56, found '12,50'",
         "line 5, column amount: expected an amount like -1234.56, found '1e5'"],
    ),
    "malformed_amount_camt": (
        "amount.xml",
        make_camt(entries=entry() + entry("12,50")),
        (2, 1, 1, 0),
        ["Stmt[1]/Ntry[2]/Amt (entry 2): expected a decimal amount like 1234.56, found '12,50'"],
    ),
    "unknown_currency": (
        "currency.xml",
        make_camt(entries=entry() + entry(ccy="HAT")),
        (2, 1, 1, 0),
        ["Stmt[1]/Ntry[2]/Amt/@Ccy (entry 2): expected ISO 4217 currency code, found 'HAT'"],
    ),
    "missing_required_fields": (
        "required.csv",
        _generic(GOOD, ",2024-03-01,,5.00,EUR,A,,,", f"{ACCT},,,5.00,EUR,A,,,",
                 f"{ACCT},2024-03-01,,,EUR,A,,,", f"{ACCT},2024-03-01,,5.00,,A,,,"),
        (5, 1, 4, 0),
        ["line 3, column account: expected an account (IBAN or number), found nothing",
         "line 4, column booking_date: expected a date YYYY-MM-DD, found nothing",
         "line 5, column amount: expected an amount like -1234.56, found nothing",
         "line 6, column currency: expected ISO 4217 currency code, found nothing"],
    ),
    "impossible_dates": (
        "dates.csv",
        _generic(GOOD, f"{ACCT},2024-02-30,,5.00,EUR,A,,,", f"{ACCT},2023-02-29,,5.00,EUR,A,,,",
                 f"{ACCT},2024-03-01,2024-13-01,5.00,EUR,A,,,"),
        (4, 1, 3, 0),
        ["line 3, column booking_date: expected a date YYYY-MM-DD, found '2024-02-30'",
         "line 4, column booking_date: expected a date YYYY-MM-DD, found '2023-02-29'",
         "line 5, column value_date: expected a date YYYY-MM-DD, found '2024-13-01'"],
    ),
    "impossible_date_camt": (
        "date.xml",
        make_camt(entries=entry() + entry(
            dates="<BookgDt><Dt>2024-02-30</Dt></BookgDt><ValDt><Dt>2024-01-16</Dt></ValDt>"
        )),
        (2, 1, 1, 0),
        ["expected an ISO date YYYY-MM-DD, found '2024-02-30'"],
    ),
}  # fmt: skip


@pytest.mark.parametrize("kind", sorted(REJECTED))
def test_bad_rows_go_to_audit_rejects_through_the_ingest_step(settings, kind):
    name, content, counts, reasons = REJECTED[kind]
    path = settings.inbox / "bank" / name
    path.write_bytes(content)
    stats, totals, rejects, files = _run(settings, "r1")
    assert stats.files_quarantined == 0
    rows_in, loaded, rejected, duplicate = counts
    assert files == [counts]
    assert rows_in == loaded + rejected + duplicate
    assert totals[0] == loaded
    assert (stats.rows_in, stats.rows_loaded, stats.rows_rejected) == (rows_in, loaded, rejected)
    ((status, reason, *_),) = _file_row(settings)
    assert status == "loaded" and reason is None
    got = sorted(r[0] for r in rejects)
    assert len(got) == rejected == len(reasons)
    for text, want in zip(got, sorted(reasons), strict=True):
        assert text.startswith(f"bank/{name}, ")
        assert text.endswith(want)
    assert path.read_bytes() == content


def test_duplicate_files_and_duplicate_transactions_are_counted_not_stored_twice(settings):
    first = settings.inbox / "bank" / "a.csv"
    first.write_bytes(_generic(GOOD, f"{ACCT},2024-03-02,,5.00,EUR,A,,,"))
    _run(settings, "r1")
    shutil.copy(first, settings.inbox / "bank" / "a (copy).csv")  # the same file again
    longer = settings.inbox / "bank" / "b.csv"  # an overlapping export: one row is new
    longer.write_bytes(first.read_bytes() + f"{ACCT},2024-03-03,,7.00,EUR,B,,,\n".encode())
    stats, totals, rejects, files = _run(settings, "r2")
    assert stats.files_skipped == 2 and stats.files_loaded == 1
    assert files == [(2, 2, 0, 0), (3, 1, 0, 2)]  # rows in 3 = loaded 1 + duplicates 2
    assert totals[0] == 3 and rejects == []
    with connect(settings) as con:
        sightings = con.execute(
            "SELECT relative_path FROM audit.file_sightings WHERE run_id = 'r2' ORDER BY 1"
        ).fetchall()
    assert sightings == [("bank/a (copy).csv",), ("bank/a.csv",)]


def test_overlapping_exports_of_a_bank_profile_without_references_are_stored_once(settings):
    raiffeisen = FIXTURES / "bank_csv" / "banana_switzerland" / "csv_example_format6_20241119.csv"
    lines = raiffeisen.read_bytes().splitlines(keepends=True)
    (settings.inbox / "bank" / "raif_2024-07-09.csv").write_bytes(b"".join(lines[:121]))
    _run(settings, "r1")
    (settings.inbox / "bank" / "raif_2024-07-11.csv").write_bytes(b"".join(lines))
    stats, totals, _, files = _run(settings, "r2")
    assert files == [(120, 120, 0, 0), (216, 96, 0, 120)]
    assert totals[0] == 216
