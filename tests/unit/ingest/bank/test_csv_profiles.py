"""Bank CSV profiles: every real file in tests/fixtures/bank/bank_csv, plus bad input."""

from __future__ import annotations

import csv
import io
import os
from collections import Counter
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from pipelines.ingest.bank import csv_profiles
from pipelines.ingest.bank.csv_profiles import ProfileError, load_profiles, match_profile, parse
from pipelines.ingest.bank.records import UnreadableFile, make_transaction_id
from pipelines.settings import Settings

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures" / "bank" / "bank_csv"
BANANA = "banana_switzerland/"

# file: profile, records, loaded, rejected, money in, money out, balance status
# (money totals are over every record with an amount, loaded or rejected)
EXPECTED = {
    BANANA + "csv_ubs_example_format3_en_20221108.csv": (
        "ubs", 195, 0, 195, "18084.40", "-19568.75", "ok"),
    BANANA + "csv_example_format6_20241119.csv": (
        "raiffeisen_ch", 216, 216, 0, "26192.30", "-27107.32", "ok"),
    BANANA + "csv_creditsuisse_example_format5_20240108.csv": (
        "credit_suisse", 60, 59, 1, "95460.03", "-112521.87", "not_checkable"),
    BANANA + "csv_bancastato_example_format5_20231123USD.csv": (
        "bancastato", 41, 41, 0, "38886.96", "-42616.09", "mismatch"),
    BANANA + "csv_postfinance_example_format6_20240228-EN.csv": (
        "postfinance", 27, 25, 2, "18399", "-19395.60", "not_checkable"),
    BANANA + "csv_zkb_example_format5_20230223.csv": (
        "zkb", 16, 1, 15, "5524.50", "-2709.00", "not_checkable"),
    BANANA + "csv_clerbank_example_format1_CHF_20251002.csv": (
        "cler", 5, 5, 0, "0", "-911.27", "ok"),
    "csv2ofx/outbank.csv": ("outbank", 4, 4, 0, "100.00", "-135.89", "not_checkable"),
    "csv2ofx/n26-fr.csv": ("n26", 2, 2, 0, "328.00", "-328.00", "not_checkable"),
    "csv2ofx/ubs-ch-fr_trimmed.csv": ("ubs_ch_fr", 3, 3, 0, "240.00", "-210.00", "ok"),
    "csv2ofx/stripe-all.csv": ("stripe", 6, 2, 4, "112.50", "-0.59", "not_checkable"),
}  # fmt: skip

# Transaction rows per file as the README counts them (independent of the reader), and
# (delimiter, encoding, header line) to count the data rows with the csv module.
README_ROWS = {
    BANANA + "csv_ubs_example_format3_en_20221108.csv": (195, ";", "utf-8", 10),
    BANANA + "csv_example_format6_20241119.csv": (216, ";", "utf-8", 1),
    BANANA + "csv_creditsuisse_example_format5_20240108.csv": (59, ",", "utf-8", 6),
    BANANA + "csv_bancastato_example_format5_20231123USD.csv": (41, ";", "utf-8", 1),
    BANANA + "csv_postfinance_example_format6_20240228-EN.csv": (25, ";", "utf-8", 7),
    BANANA + "csv_zkb_example_format5_20230223.csv": (16, ";", "utf-8", 1),
    BANANA + "csv_clerbank_example_format1_CHF_20251002.csv": (5, ";", "latin-1", 1),
    "csv2ofx/outbank.csv": (4, ";", "utf-8", 1),
    "csv2ofx/n26-fr.csv": (2, ",", "utf-8", 1),
    "csv2ofx/ubs-ch-fr_trimmed.csv": (3, ";", "utf-8", 1),
    "csv2ofx/stripe-all.csv": (5, ",", "utf-8", 1),
}
TRAILER_ROWS = {
    BANANA + "csv_creditsuisse_example_format5_20240108.csv": 1,
    BANANA + "csv_postfinance_example_format6_20240228-EN.csv": 2,
}


def _read(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def _parse(name: str, **kwargs):
    return parse(_read(name), Path(name).name, **kwargs)


def _raw_rows(name: str) -> list[list[str]]:
    """Data rows (non-blank) after the header, read with the plain csv module."""
    _, delimiter, encoding, header_line = README_ROWS[name]
    text = _read(name).decode(encoding)
    rows = list(csv.reader(io.StringIO(text), delimiter=delimiter))
    return [r for r in rows[header_line:] if any(c.strip() for c in r)]


def test_every_fixture_is_listed():
    files = {str(p.relative_to(FIXTURES)) for p in FIXTURES.rglob("*.csv")}
    assert files == set(EXPECTED) == set(README_ROWS)


def test_built_in_profiles_one_per_layout():
    profiles = load_profiles()
    assert sorted(profiles) == sorted(v[0] for v in EXPECTED.values())
    for profile in profiles.values():
        assert profile.source_path.endswith(f"{profile.name}.yaml")


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_real_file_counts_totals_and_balances(name):
    profile, records, loaded, rejected, money_in, money_out, status = EXPECTED[name]
    result = _parse(name)
    assert result.format == "csv_profile"
    assert len(result.transactions) == records
    assert len(result.loaded) == loaded
    assert len(result.rejected) == rejected
    assert loaded + rejected == records  # rows in = loaded + rejected
    amounts = [t.amount for t in result.transactions if t.amount is not None]
    assert sum((a for a in amounts if a > 0), Decimal(0)) == Decimal(money_in)
    assert sum((a for a in amounts if a < 0), Decimal(0)) == Decimal(money_out)
    assert [s.balance_status for s in result.statements] == [status]
    assert all(t.statement_id.startswith(f"{profile}:") for t in result.transactions)
    ids = [t.transaction_id for t in result.transactions]
    assert len(set(ids)) == len(ids)
    # forcing the profile by name gives the same result
    forced = _parse(name, profile=profile)
    assert [t.as_row() for t in forced.transactions] == [t.as_row() for t in result.transactions]


@pytest.mark.parametrize("name", sorted(README_ROWS))
def test_row_counts_match_the_readme_and_the_csv_module(name):
    readme_rows = README_ROWS[name][0]
    raw = _raw_rows(name)
    trailers = TRAILER_ROWS.get(name, 0)
    assert len(raw) == readme_rows + trailers
    result = _parse(name)
    extras = sum(1 for t in result.transactions if "(" in t.location)  # fee/refund records
    assert len(result.transactions) - extras == readme_rows + trailers
    assert sum(1 for t in result.transactions if "trailer" in t.reject_reason) == trailers


def _col_sum(rows: list[list[str]], index: int) -> Decimal:
    total = Decimal(0)
    for row in rows:
        cell = row[index].replace("'", "").replace("\ufffd", "").strip() if index < len(row) else ""
        if cell:
            total += abs(Decimal(cell))
    return total


@pytest.mark.parametrize(
    "name, debit_col, credit_col",
    [
        (BANANA + "csv_ubs_example_format3_en_20221108.csv", 5, 6),
        (BANANA + "csv_bancastato_example_format5_20231123USD.csv", 5, 6),
        (BANANA + "csv_postfinance_example_format6_20240228-EN.csv", 4, 3),
        (BANANA + "csv_zkb_example_format5_20230223.csv", 4, 5),
        (BANANA + "csv_clerbank_example_format1_CHF_20251002.csv", 3, 4),
        ("csv2ofx/ubs-ch-fr_trimmed.csv", 8, 9),
    ],
)
def test_debit_credit_totals_against_the_raw_columns(name, debit_col, credit_col):
    raw = [r for r in _raw_rows(name) if len(r) > credit_col]  # trailers have fewer cells
    amounts = [t.amount for t in _parse(name).transactions if t.amount is not None]
    assert sum((a for a in amounts if a < 0), Decimal(0)) == -_col_sum(raw, debit_col)
    assert sum((a for a in amounts if a > 0), Decimal(0)) == _col_sum(raw, credit_col)


def test_ubs_preamble_balances_credits_and_qr_references():
    result = _parse(BANANA + "csv_ubs_example_format3_en_20221108.csv")
    st = result.statements[0]
    assert (st.opening_balance, st.closing_balance) == (Decimal("3709.59"), Decimal("2225.24"))
    assert st.account == "NV356285163633383366A"  # preamble line 2 ("IBAN:"), spaces removed
    assert sum(1 for t in result.transactions if t.amount > 0) == 12
    # every row: the scrambled currency 'HAT' is not ISO 4217
    assert {t.reject_reason.split(": ", 1)[1] for t in result.transactions} == {
        "expected ISO 4217 currency code, found 'HAT'"
    }
    first = result.transactions[0]
    assert first.reject_reason == (
        "csv_ubs_example_format3_en_20221108.csv, line 11: expected ISO 4217 currency code, "
        "found 'HAT'"
    )
    assert first.amount == Decimal("-99.80")  # what could be read is kept
    assert first.bank_reference == "1770311TO2672955"
    assert first.transaction_id == make_transaction_id(
        "NV356285163633383366A", "1770311TO2672955", 0
    )
    assert first.structured_reference == "638317778334317826532280248"  # 'RAT: 63 83177 …'
    assert first.counterparty_name == "Comerant (Capposta) EX"
    assert first.counterparty_account == "DX3456644205732712258"
    rat_rows = sum(1 for t in result.transactions if "RAT: " in t.remittance_info)
    assert rat_rows == 37
    assert sum(1 for t in result.transactions if t.structured_reference) == 38
    card = result.transactions[2]  # no booking date yet: the trade date is used
    assert card.booking_date == date(2022, 11, 7) and card.value_date == date(2022, 11, 7)


def test_raiffeisen_signed_amounts_running_balance_and_replacement_characters():
    name = BANANA + "csv_example_format6_20241119.csv"
    result = _parse(name)
    assert Counter(t.amount < 0 for t in result.transactions) == {True: 125, False: 91}
    raw = _raw_rows(name)
    assert sum(t.amount for t in result.transactions) == sum(Decimal(r[4]) for r in raw)
    st = result.statements[0]
    assert st.opening_balance == Decimal(raw[0][5]) - Decimal(raw[0][4])
    assert st.closing_balance == Decimal(raw[-1][5])
    assert st.currency == "CHF"  # profile default
    assert result.transactions[0].booking_date == date(2024, 7, 2)  # '2024-07-02 00:00:00.0'
    assert str(result.transactions[1].amount) == "10.00"  # '10' padded to CHF's 2 decimals
    assert sum(t.remittance_info.count("\ufffd") for t in result.transactions) == 139


def test_credit_suisse_totals_line_is_a_counted_trailer():
    name = BANANA + "csv_creditsuisse_example_format5_20240108.csv"
    result = _parse(name)
    trailer = result.transactions[-1]
    assert trailer.amount is None
    assert trailer.reject_reason == (
        "csv_creditsuisse_example_format5_20240108.csv, line 66: not a transaction row "
        "(trailer): expected a date DD.MM.YYYY in 'Valutadatum', found 'NUIUM DECUCI'"
    )
    # the totals line agrees with the loaded rows
    totals = _raw_rows(name)[-1]
    loaded = [t.amount for t in result.loaded]
    assert -sum(a for a in loaded if a < 0) == Decimal(totals[2])
    assert sum(a for a in loaded if a > 0) == Decimal(totals[3])
    assert result.statements[0].account == "7558034-31"  # from the preamble
    assert "ACIT-16257660-AFL4-JER8" in result.transactions[1].remittance_info


def test_postfinance_formula_preamble_and_header_currency():
    result = _parse(BANANA + "csv_postfinance_example_format6_20240228-EN.csv")
    first = result.transactions[0]
    assert first.account == "LD6227144844642517773"  # "=LD62…" unwrapped
    assert first.currency == "CHF"  # 'Credit in CHF'
    assert first.amount == Decimal("-6.9") and first.booking_date == date(2024, 2, 26)
    assert [t.location for t in result.rejected] == ["line 35", "line 36"]


def test_bancastato_replacement_thousands_separator():
    result = _parse(BANANA + "csv_bancastato_example_format5_20231123USD.csv")
    assert result.transactions[0].amount == Decimal("140.72")  # '0\ufffd140.72'
    assert result.transactions[7].amount == Decimal("-1333.85")  # '1\ufffd333.85'
    assert {t.currency for t in result.transactions} == {"USD"}
    # 'Numero di ordine' repeats on every row: not used for ids
    assert {t.bank_reference for t in result.transactions} == {"123456789"}
    # the running balances do not chain where U+FFFD mangled an amount upstream
    assert result.statements[0].balance_status == "mismatch"


def test_zkb_scrambled_currencies_row_by_row():
    result = _parse(BANANA + "csv_zkb_example_format5_20230223.csv")
    assert Counter(t.currency for t in result.transactions) == {"ELL": 15, "SIT": 1}
    (sit,) = result.loaded  # SIT (Slovenian tolar) is a withdrawn ISO 4217 code: accepted
    assert sit.currency == "SIT" and sit.amount == Decimal("-16.00")
    assert result.rejected[0].reject_reason == (
        "csv_zkb_example_format5_20230223.csv, line 2: expected ISO 4217 currency code, found 'ELL'"
    )


def test_cler_latin1_and_multiline_text():
    result = _parse(BANANA + "csv_clerbank_example_format1_CHF_20251002.csv")
    assert result.transactions[1].remittance_info == "Débit global du 30.12.2024 Débit groupé"
    assert result.transactions[2].remittance_info == "TEST TEST TEST TEST payment (standing order)"
    assert [t.location for t in result.transactions] == [
        "line 2",
        "line 3",
        "line 4",
        "line 8",
        "line 9",
    ]
    assert result.statements[0].opening_balance == Decimal("15513.98")


def test_outbank_decimal_comma_us_dates_and_sepa_reference():
    result = _parse("csv2ofx/outbank.csv")
    t = result.transactions[1]
    assert t.amount == Decimal("-63.89") and t.booking_date == date(2019, 2, 8)
    assert t.counterparty_name == "Shell Gas"
    assert t.counterparty_account == "DE33674643548447246470"
    assert t.end_to_end_id == "0123456789"


def test_n26_header_currency_and_identical_pair():
    result = _parse("csv2ofx/n26-fr.csv")
    a, b = result.transactions
    assert (a.amount, b.amount) == (Decimal("328.00"), Decimal("-328.00"))
    assert a.currency == "EUR" and a.value_date is None and a.booking_date == date(2020, 3, 7)
    assert a.transaction_id != b.transaction_id


def test_ubs_french_apostrophes_and_unsorted_rows():
    result = _parse("csv2ofx/ubs-ch-fr_trimmed.csv")
    st = result.statements[0]
    assert (st.opening_balance, st.closing_balance) == (Decimal("11383.94"), Decimal("11413.94"))
    assert result.transactions[1].counterparty_name == "ASSOCIATION FOO-BAR"


def test_stripe_gross_fee_and_test_mode():
    result = _parse("csv2ofx/stripe-all.csv")
    rejected_modes = [t.reject_reason.split(": ", 1)[1] for t in result.rejected]
    assert rejected_modes == ["expected a live-mode charge (mode 'Live'), found 'Test'"] * 4
    gross, fee = result.loaded
    assert (gross.amount, gross.currency) == (Decimal("10.00"), "CAD")  # 'cad' upper-cased
    assert gross.bank_reference == "ch_1IVbR2BI9JK85yVZUofVdX4R"
    assert gross.counterparty_name == "Big Customer"
    assert "Invoice 396BEA86-0001" in gross.remittance_info
    assert fee.amount == Decimal("-0.59") and fee.bank_reference == gross.bank_reference
    assert fee.transaction_id == make_transaction_id(gross.transaction_id, "fee")
    assert fee.location == "line 6 (fee)"


# --- profiles: choosing, user folders, bad input -------------------------------------------


def test_match_profile_by_header_text():
    assert match_profile("Datum;Buchungstext;Konto;Whg;Belastung;Gutschrift").name == "zkb"
    assert match_profile("Valutadatum,Text,Belastung,Gutschrift").name == "credit_suisse"
    assert match_profile("date;amount;text") is None


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
  reference: {column: Ref, optional: true}
defaults:
  currency: EUR
  account: DE89370400440532013000
"""

USER_FILE = b"Buchung|Betrag|Zweck\n01/03/2024|1.234,50|RF18 5390 0754 7034\n02/03/2024|-5,00|fee\n"


def test_user_profile_folder(tmp_path):
    (tmp_path / "mybank.yaml").write_text(USER_PROFILE, encoding="utf-8")
    with pytest.raises(UnreadableFile):
        parse(USER_FILE, "mine.csv")  # not known without the folder
    result = parse(USER_FILE, "mine.csv", profile_dirs=[tmp_path])
    assert [t.amount for t in result.transactions] == [Decimal("1234.50"), Decimal("-5.00")]
    assert result.transactions[0].structured_reference == "RF18539007547034"
    assert result.transactions[0].account == "DE89370400440532013000"


def test_profile_folders_come_from_settings_only(tmp_path, monkeypatch):
    """ARW_BANK_PROFILES is parsed in one place (Settings.from_env); the reader reads no
    environment, it gets the folders as profile_dirs."""
    other = tmp_path / "more"
    other.mkdir()
    monkeypatch.setenv("ARW_BANK_PROFILES", f"{tmp_path}{os.pathsep}{other}")
    assert Settings.from_env().bank_profile_dirs == (tmp_path, other)
    source = Path(csv_profiles.__file__).read_text(encoding="utf-8")
    assert "os.environ" not in source and "getenv" not in source
    assert not hasattr(csv_profiles, "env_profile_dirs")


def test_user_profile_overrides_builtin_by_name(tmp_path):
    override = (csv_profiles.BUILTIN_PROFILE_DIR / "raiffeisen_ch.yaml").read_text("utf-8")
    override = override.replace("currency: CHF", "currency: EUR")
    (tmp_path / "raiffeisen_eur.yaml").write_text(override, encoding="utf-8")
    profiles = load_profiles([tmp_path])
    assert profiles["raiffeisen_ch"].defaults["currency"] == "EUR"
    result = _parse(BANANA + "csv_example_format6_20241119.csv", profile_dirs=[tmp_path])
    assert {t.currency for t in result.transactions} == {"EUR"}


def test_no_matching_profile_lists_profiles_and_header():
    with pytest.raises(UnreadableFile) as err:
        parse(b"foo;bar;baz\n1;2;3\n", "unknown.csv")
    reason = err.value.reason
    assert reason.startswith("unknown.csv, header: expected a header row of one of the bank CSV")
    assert "'ubs'" in reason and "'stripe'" in reason
    assert reason.endswith("found header 'foo;bar;baz'")


def test_forced_profile_that_does_not_fit():
    with pytest.raises(UnreadableFile) as err:
        _parse("csv2ofx/n26-fr.csv", profile="ubs")
    assert err.value.reason.startswith(
        "n26-fr.csv, header: expected a header row with the columns of profile 'ubs'"
    )
    with pytest.raises(UnreadableFile) as err:
        _parse("csv2ofx/n26-fr.csv", profile="nosuchbank")
    assert "expected one of the bank CSV profiles" in err.value.reason
    assert err.value.reason.endswith("found 'nosuchbank'")


def test_profile_with_a_missing_column(tmp_path):
    broken = USER_PROFILE.replace("remittance_info: Zweck", "remittance_info: Verwendungszweck")
    (tmp_path / "mybank.yaml").write_text(broken, encoding="utf-8")
    with pytest.raises(UnreadableFile) as err:
        parse(USER_FILE, "mine.csv", profile_dirs=[tmp_path])
    assert err.value.reason == (
        "mine.csv, line 1 (header): expected the column(s) 'Verwendungszweck' of profile "
        "'mybank', found header ['Buchung', 'Betrag', 'Zweck']"
    )


@pytest.mark.parametrize(
    "change, message",
    [
        (("header: [Buchung, Betrag, Zweck]", "header: []"), "key 'header': expected a non-empty"),
        (("amount: Betrag", "debit: Betrag"), "key 'columns': expected both debit and credit"),
        (('delimiter: "|"', 'delimitr: "|"'), "key 'delimitr': expected one of"),
        (("encoding: utf-8", "encoding: klingon"), "key 'encoding': expected a Python codec"),
    ],
)
def test_invalid_profile_files_name_the_problem(tmp_path, change, message):
    (tmp_path / "mybank.yaml").write_text(USER_PROFILE.replace(*change), encoding="utf-8")
    with pytest.raises(ProfileError) as err:
        load_profiles([tmp_path])
    assert str(err.value).startswith(str(tmp_path / "mybank.yaml"))
    assert message in str(err.value)


def test_bad_rows_in_the_middle_are_rejected_not_trailers(tmp_path):
    (tmp_path / "mybank.yaml").write_text(USER_PROFILE, encoding="utf-8")
    data = (
        b"Buchung|Betrag|Zweck\n"
        b"01/03/2024|10,00|a\n"
        b"31/02/2024|11,00|impossible date\n"
        b"02/03/2024|1,2,3|bad amount\n"
        b"\n"
        b"03/03/2024|12,00|c\n"
    )
    result = parse(data, "mid.csv", profile_dirs=[tmp_path])
    assert len(result.transactions) == 4  # the blank line is no row
    assert len(result.loaded) + len(result.rejected) == 4
    assert [t.reject_reason for t in result.rejected] == [
        "mid.csv, line 3: expected a date DD/MM/YYYY in 'Buchung', found '31/02/2024'",
        "mid.csv, line 4: expected an amount like -1234,56, found '1,2,3'",
    ]


def test_wrong_encoding_for_a_forced_utf8_profile_is_unreadable(tmp_path):
    (tmp_path / "mybank.yaml").write_text(USER_PROFILE, encoding="utf-8")
    data = "Buchung|Betrag|Zweck\n01/03/2024|10,00|Gebühr\n".encode("latin-1")
    with pytest.raises(UnreadableFile) as err:
        parse(data, "latin.csv", profile="mybank", profile_dirs=[tmp_path])
    assert err.value.reason == "latin.csv, line 2 (byte 41): expected UTF-8 text, found byte 0xFC"


def test_bad_date_in_a_running_balance_file_rejects_only_that_row():
    data = _read(BANANA + "csv_example_format6_20241119.csv")
    data = data.replace(b"2024-07-03 00:00:00.0;Metrinctio", b"2024-07-32 00:00:00.0;Metrinctio", 1)
    result = parse(data, "raif.csv")
    assert len(result.transactions) == 216
    (bad,) = result.rejected
    assert bad.reject_reason == (
        "raif.csv, line 3: expected a date YYYY-MM-DD hh:mm:ss.f or YYYY-MM-DD hh:mm:ss or "
        "YYYY-MM-DD or DD.MM.YYYY in 'Booked At', found '2024-07-32 00:00:00.0'"
    )
    assert bad.amount == Decimal("10.00")  # kept, and still part of the statement's entries
    assert result.statements[0].balance_status == "ok"


# --- transaction_id for layouts without a bank reference -------------------------------------

RAIFFEISEN = BANANA + "csv_example_format6_20241119.csv"
ZKB = BANANA + "csv_zkb_example_format5_20230223.csv"


def _ids(data: bytes, name: str = "x.csv", **kwargs) -> list[str]:
    return [t.transaction_id for t in parse(data, name, **kwargs).transactions]


def _lines(name: str) -> list[bytes]:
    return _read(name).splitlines(keepends=True)


@pytest.mark.parametrize("name", [RAIFFEISEN, ZKB, "csv2ofx/outbank.csv", "csv2ofx/n26-fr.csv"])
def test_the_same_export_resent_under_another_name_gives_identical_ids(name):
    first = _parse(name)
    again = parse(_read(name), "resent_" + Path(name).name)
    assert [t.transaction_id for t in again.transactions] == [
        t.transaction_id for t in first.transactions
    ]
    assert not any(t.bank_reference for t in first.transactions)  # no reference column used


def test_the_id_is_account_booking_date_and_position_within_the_day():
    result = _parse(RAIFFEISEN)
    first = result.transactions[0]
    assert first.transaction_id == make_transaction_id(
        "IC1182551737356068462", "csv", "2024-07-02", 0
    )
    # the same rule as the generic CSV layout, so the statement's date range is not in it
    assert result.statements[0].statement_id not in first.transaction_id


def test_an_ascending_export_extended_by_later_days_keeps_the_old_ids():
    lines = _lines(RAIFFEISEN)
    short = b"".join(lines[:101])  # header + the first 100 rows (ends mid-October)
    old = parse(short, "raif_part.csv")
    new = parse(b"".join(lines), "raif_full.csv")
    assert old.statements[0].to_date < new.statements[0].to_date  # another statement range
    assert _ids(short) == [t.transaction_id for t in new.transactions[:100]]
    assert len(set(t.transaction_id for t in new.transactions)) == 216


def test_a_newest_first_export_extended_by_later_days_keeps_the_old_ids():
    lines = _lines(ZKB)
    header, rows = lines[0], lines[1:]
    assert b"13.02.2023" in rows[0] and b"03.01.2023" in rows[-1]  # newest first
    older = header + b"".join(rows[6:])  # the export taken a few days earlier
    full = parse(_read(ZKB), "zkb_full.csv")
    assert _ids(older) == [t.transaction_id for t in full.transactions[6:]]


NEWEST_FIRST_PROFILE = """
name: newestbank
encoding: utf-8
delimiter: ";"
date_format: "%Y-%m-%d"
header: [Datum, Konto, Betrag, Text]
columns:
  booking_date: Datum
  account: Konto
  amount: Betrag
  remittance_info: Text
defaults:
  currency: CHF
newest_first: true
"""


def test_a_newest_first_export_with_more_rows_on_its_last_day_keeps_the_old_ids(tmp_path):
    (tmp_path / "newest.yaml").write_text(NEWEST_FIRST_PROFILE, encoding="utf-8")
    head = b"Datum;Konto;Betrag;Text\n"
    morning = b"2024-03-05;CH93;20.00;second\n2024-03-05;CH93;10.00;first\n2024-03-04;CH93;5.00;x\n"
    evening = b"2024-03-06;CH93;1.00;next day\n2024-03-05;CH93;30.00;third\n"
    old = _ids(head + morning, profile_dirs=[tmp_path])
    new = _ids(head + evening + morning, profile_dirs=[tmp_path])
    assert new[2:] == old
    assert new[1] == make_transaction_id("CH93", "csv", "2024-03-05", 2)  # counted after them
    # the same file read in file order (the layout not marked newest first) shifts them
    plain = NEWEST_FIRST_PROFILE.replace("newest_first: true", "newest_first: false")
    (tmp_path / "newest.yaml").write_text(plain, encoding="utf-8")
    assert _ids(head + evening + morning, profile_dirs=[tmp_path])[2:] != old


def test_two_identical_rows_on_one_day_get_two_ids_and_both_load():
    lines = _lines(RAIFFEISEN)
    doubled = b"".join([lines[0], lines[1], lines[1], *lines[2:]])
    result = parse(doubled, "raif_double.csv")
    a, b = result.transactions[:2]
    assert a.as_row() | {"transaction_id": "", "location": ""} == b.as_row() | {
        "transaction_id": "",
        "location": "",
    }
    assert a.transaction_id != b.transaction_id
    assert {a.transaction_id, b.transaction_id} == {
        make_transaction_id("IC1182551737356068462", "csv", "2024-07-02", n) for n in (0, 1)
    }
    assert len(result.loaded) == 217
    # the rows after them keep their ids: positions count per day, not per file
    assert [t.transaction_id for t in result.transactions[2:]] == _ids(_read(RAIFFEISEN))[1:]


def test_amounts_are_not_part_of_the_id():
    lines = _lines(RAIFFEISEN)
    changed = lines[1].replace(b";-11.45;", b";-11.46;")
    assert changed != lines[1]
    assert _ids(b"".join([lines[0], changed, *lines[2:]])) == _ids(_read(RAIFFEISEN))


def test_a_layout_without_account_uses_profile_and_currency_in_the_id():
    result = _parse(BANANA + "csv_bancastato_example_format5_20231123USD.csv")
    first = result.transactions[0]
    assert first.account == ""
    assert first.transaction_id == make_transaction_id(
        "bancastato:USD", "csv", first.booking_date.isoformat(), 0
    )


def test_newest_first_must_be_true_or_false(tmp_path):
    bad = NEWEST_FIRST_PROFILE.replace("newest_first: true", "newest_first: sometimes")
    (tmp_path / "newest.yaml").write_text(bad, encoding="utf-8")
    with pytest.raises(ProfileError) as err:
        load_profiles([tmp_path])
    assert "key 'newest_first': expected true or false, found 'sometimes'" in str(err.value)
