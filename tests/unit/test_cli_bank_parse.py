"""`arw bank parse FILE [--profile NAME]` as a user runs it (a new process), CONTRACT §5.

It prints the file's normalised transactions as CSV (the contract's fields, in order, every
row including rejected ones with their reason), a blank line, then the balance check per
statement; exit 0 unless the file is unreadable (exit 2, the reason on stderr).
"""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pipelines.settings import PROJECT_DIR

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "bank"
CAMT_MULTI = FIXTURES / "camt" / "genkgo_camt" / "camt053.v2.multi.statement.xml"
MT940_POSTFINANCE = FIXTURES / "mt940" / "wolph_mt940" / "jejik" / "postfinance.sta"
RAIFFEISEN = FIXTURES / "bank_csv" / "banana_switzerland" / "csv_example_format6_20241119.csv"

# CONTRACT §1 "Bank statements", in its order (written out here, not imported: the test
# checks the code against the contract).
CONTRACT_FIELDS = [
    "transaction_id",
    "bank_reference",
    "account",
    "statement_id",
    "sequence_number",
    "booking_date",
    "value_date",
    "effective_date",
    "amount",
    "currency",
    "counterparty_name",
    "counterparty_account",
    "remittance_info",
    "structured_reference",
    "end_to_end_id",
    "is_reversal",
    "reversal_of",
    "return_reason",
    "source_file",
    "reject_reason",
]
BALANCE_FIELDS = [
    "statement_id",
    "account",
    "currency",
    "sequence_number",
    "opening_balance",
    "entries_total",
    "closing_balance",
    "balance_status",
    "balance_difference",
]


def arw_bank_parse(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    full_env = {k: v for k, v in os.environ.items() if k != "ARW_BANK_PROFILES"}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "bank", "parse", *args],
        capture_output=True,
        text=True,
        env=full_env,
        cwd=PROJECT_DIR,
        timeout=120,
    )


def split_output(stdout: str) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    """(transactions, balance checks); asserts the exact layout: header, rows, one blank
    line, balance header, rows."""
    assert stdout.endswith("\n") and "\r" not in stdout
    transactions_text, sep, balances_text = stdout.partition("\n\n")
    assert sep, "expected a blank line between the transactions and the balance check"
    assert "\n\n" not in balances_text
    tx_rows = list(csv.reader(io.StringIO(transactions_text + "\n")))
    bal_rows = list(csv.reader(io.StringIO(balances_text)))
    assert tx_rows[0] == CONTRACT_FIELDS
    assert bal_rows[0] == BALANCE_FIELDS
    assert all(len(r) == len(CONTRACT_FIELDS) for r in tx_rows)
    assert all(len(r) == len(BALANCE_FIELDS) for r in bal_rows)
    return (
        [dict(zip(CONTRACT_FIELDS, r, strict=True)) for r in tx_rows[1:]],
        [dict(zip(BALANCE_FIELDS, r, strict=True)) for r in bal_rows[1:]],
    )


def test_camt_file_with_two_statements():
    done = arw_bank_parse(str(CAMT_MULTI))
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    transactions, balances = split_output(done.stdout)
    assert len(transactions) == 2
    first, second = transactions
    assert {k: first[k] for k in ("account", "statement_id", "sequence_number", "amount")} == {
        "account": "NL26VAYB8060476890",
        "statement_id": "253EURNL26VAYB8060476890",
        "sequence_number": "12312",
        "amount": "8.85",
    }
    assert (first["booking_date"], first["value_date"], first["effective_date"]) == (
        "2014-12-31",
        "2015-01-02",
        "2015-01-02",
    )
    assert (first["currency"], first["end_to_end_id"], first["is_reversal"]) == (
        "EUR",
        "000000001",
        "false",
    )
    assert first["remittance_info"] == "Transaction Description 1"
    assert second["amount"] == "-7.00"
    assert second["counterparty_name"] == "Company Name 2"
    assert second["counterparty_account"] == "NL56AGDH9619008421"
    assert {t["source_file"] for t in transactions} == {CAMT_MULTI.name}
    assert all(t["reject_reason"] == "" for t in transactions)
    assert all(t["transaction_id"].startswith("T") for t in transactions)
    assert first["transaction_id"] != second["transaction_id"]
    assert balances == [
        {
            "statement_id": "253EURNL26VAYB8060476890",
            "account": "NL26VAYB8060476890",
            "currency": "EUR",
            "sequence_number": "12312",
            "opening_balance": "18.15",
            "entries_total": "8.85",
            "closing_balance": "27.00",
            "balance_status": "ok",
            "balance_difference": "0.00",
        },
        {
            "statement_id": "254EURNL26VAYB8060476890",
            "account": "NL26VAYB8060476890",
            "currency": "EUR",
            "sequence_number": "",
            "opening_balance": "27.00",
            "entries_total": "-7.00",
            "closing_balance": "20.00",
            "balance_status": "ok",
            "balance_difference": "0.00",
        },
    ]


def test_mt940_file_with_two_pages_and_a_balance_mismatch():
    done = arw_bank_parse(str(MT940_POSTFINANCE))
    assert done.returncode == 0, done.stderr
    transactions, balances = split_output(done.stdout)
    assert [t["amount"] for t in transactions] == ["79.70", "149.50", "-79.90", "10.10"]
    assert [t["sequence_number"] for t in transactions] == ["999/1", "999/1", "999/2", "999/2"]
    assert {t["account"] for t in transactions} == {"123456789"}
    assert {t["currency"] for t in transactions} == {"CHF"}
    assert [t["booking_date"] for t in transactions] == [
        "2013-12-09",
        "2013-12-09",
        "2013-12-16",
        "2013-12-18",
    ]
    assert "MITTEILUNGEN: RECHNUNG" in transactions[0]["remittance_info"]
    assert [
        (b["sequence_number"], b["balance_status"], b["balance_difference"]) for b in balances
    ] == [
        ("999/1", "ok", "0.00"),
        ("999/2", "mismatch", "-0.20"),
    ]


def test_rejected_rows_are_printed_with_their_reason(tmp_path):
    path = tmp_path / "mixed.csv"
    path.write_text(
        "account,booking_date,value_date,amount,currency,counterparty_name,"
        "counterparty_account,reference,remittance_info\n"
        "CH9300762011623852957,2024-03-01,,100.00,EUR,A,,R1,ok\n"
        "CH9300762011623852957,2024-03-02,,5.00,HAT,B,,R2,bad currency\n",
        encoding="utf-8",
    )
    done = arw_bank_parse(str(path))
    assert done.returncode == 0  # bad rows do not make the file unreadable
    transactions, balances = split_output(done.stdout)
    assert [t["reject_reason"] for t in transactions] == [
        "",
        "mixed.csv, line 3, column currency: expected ISO 4217 currency code, found 'HAT'",
    ]
    assert transactions[1]["amount"] == "5.00" and transactions[1]["currency"] == "HAT"
    assert [b["balance_status"] for b in balances] == ["not_checkable"]


def test_an_unreadable_file_exits_2_with_the_reason_on_stderr(tmp_path):
    path = tmp_path / "garbage.bin"
    path.write_bytes(b"\x00\x01\x02garbage" * 100)
    done = arw_bank_parse(str(path))
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.startswith("error: garbage.bin, ")
    assert ": expected a bank statement" in done.stderr and ", found " in done.stderr
    missing = arw_bank_parse(str(tmp_path / "nope.xml"))
    assert missing.returncode == 2 and missing.stdout == ""
    assert "nope.xml" in missing.stderr and "expected a readable file" in missing.stderr


def test_profile_option_chooses_the_csv_profile():
    done = arw_bank_parse(str(RAIFFEISEN), "--profile", "raiffeisen_ch")
    assert done.returncode == 0, done.stderr
    transactions, balances = split_output(done.stdout)
    assert len(transactions) == 216
    assert {t["statement_id"].split(":")[0] for t in transactions} == {"raiffeisen_ch"}
    wrong = arw_bank_parse(str(RAIFFEISEN), "--profile", "ubs")
    assert wrong.returncode == 2 and wrong.stdout == ""
    assert wrong.stderr.startswith(
        f"error: {RAIFFEISEN.name}, header: expected a header row with the columns of profile 'ubs'"
    )
    unknown = arw_bank_parse(str(RAIFFEISEN), "--profile", "nosuchbank")
    assert unknown.returncode == 2
    assert "expected one of the bank CSV profiles" in unknown.stderr


USER_PROFILE = """
name: {name}
encoding: utf-8
delimiter: "|"
decimal_separator: ","
date_format: "%d/%m/%Y"
header: [Buchung, Betrag, Zweck]
columns:
  booking_date: Buchung
  amount: Betrag
  remittance_info: Zweck
defaults:
  currency: {currency}
  account: DE89370400440532013000
"""


@pytest.fixture
def user_profiles(tmp_path: Path) -> Path:
    folder = tmp_path / "profiles"
    folder.mkdir()
    for name, currency in (("mybank_chf", "CHF"), ("mybank_eur", "EUR")):
        (folder / f"{name}.yaml").write_text(
            USER_PROFILE.format(name=name, currency=currency), encoding="utf-8"
        )
    return folder


def test_user_profiles_from_arw_bank_profiles_and_profile_choice(tmp_path, user_profiles):
    path = tmp_path / "mine.csv"
    path.write_bytes(b"Buchung|Betrag|Zweck\n01/03/2024|12,50|INV-1\n")
    without = arw_bank_parse(str(path))
    assert without.returncode == 2  # no built-in profile fits
    assert "expected a header row of one of the bank CSV profiles" in without.stderr
    env = {"ARW_BANK_PROFILES": str(user_profiles)}
    chosen_by_header = arw_bank_parse(str(path), env=env)
    assert chosen_by_header.returncode == 0, chosen_by_header.stderr
    (tx,), _ = split_output(chosen_by_header.stdout)
    assert (tx["amount"], tx["currency"], tx["account"]) == (
        "12.50",
        "CHF",
        "DE89370400440532013000",
    )
    assert tx["statement_id"].startswith("mybank_chf:")  # both fit: the first by name wins
    forced = arw_bank_parse(str(path), "--profile", "mybank_eur", env=env)
    assert forced.returncode == 0, forced.stderr
    (tx,), _ = split_output(forced.stdout)
    assert tx["currency"] == "EUR" and tx["statement_id"].startswith("mybank_eur:")


def test_a_broken_user_profile_is_a_configuration_error(tmp_path, user_profiles):
    (user_profiles / "broken.yaml").write_text("name: broken\nheader: []\n", encoding="utf-8")
    path = tmp_path / "mine.csv"
    path.write_bytes(b"Buchung|Betrag|Zweck\n01/03/2024|12,50|INV-1\n")
    done = arw_bank_parse(str(path), env={"ARW_BANK_PROFILES": str(user_profiles)})
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.startswith(f"error: {user_profiles / 'broken.yaml'}, key 'header': expected")
    assert "Traceback" not in done.stderr
    missing = arw_bank_parse(str(path), env={"ARW_BANK_PROFILES": str(tmp_path / "nope")})
    assert missing.returncode == 2
    assert "expected a folder of bank CSV profiles, found none" in missing.stderr
