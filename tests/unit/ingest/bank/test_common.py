"""The helpers every bank reader shares (pipelines/ingest/bank/common.py)."""

from __future__ import annotations

import ast
from decimal import Decimal
from pathlib import Path

import pytest

from pipelines.ingest.bank import common
from pipelines.ingest.bank.common import (
    MINOR_UNITS,
    collapse_spaces,
    decode_guess,
    find_structured_reference,
    is_valid_qr_reference,
    is_valid_rf_reference,
    looks_like_iban,
    normalise_account,
    pad_minor_units,
)

BANK_DIR = Path(common.__file__).parent


def test_every_name_in_all_exists():
    assert all(hasattr(common, name) for name in common.__all__)


@pytest.mark.parametrize("reader", ["bai2.py", "ofx.py", "csv_profiles.py", "camt.py"])
def test_readers_take_shared_helpers_from_common_not_from_mt940(reader):
    tree = ast.parse((BANK_DIR / reader).read_text(encoding="utf-8"))
    modules = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert "pipelines.ingest.bank.mt940" not in modules


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        ("300", "CHF", "300.00"),
        ("0", "EUR", "0.00"),
        ("12.5", "JPY", "12.5"),  # more decimals than the currency has: as sent, never rounded
        ("7", "JPY", "7"),
        ("1.5", "KWD", "1.500"),
        ("18.150", "EUR", "18.150"),
        ("2", "CLF", "2.0000"),
        ("3", "XXX-unknown", "3.00"),
    ],
)
def test_pad_minor_units_pads_and_never_rounds(amount, currency, expected):
    assert str(pad_minor_units(Decimal(amount), currency)) == expected
    assert pad_minor_units(None, "EUR") is None
    assert MINOR_UNITS["JPY"] == 0 and "EUR" not in MINOR_UNITS


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Invoice RF18 5390 0754 7034 thanks", "RF18539007547034"),
        ("RF18539007547034", "RF18539007547034"),
        ("RF19 5390 0754 7034", ""),  # wrong check digits
        ("QRR 21 00000 00003 13947 14300 09017", "210000000003139471430009017"),
        ("ref 210000000003139471430009017", "210000000003139471430009017"),
        ("ref 210000000003139471430009018", ""),  # 27 digits, wrong check digit
        ("", ""),
    ],
)
def test_find_structured_reference(text, expected):
    assert find_structured_reference(text) == expected


def test_reference_check_digits():
    assert is_valid_rf_reference("RF18 5390 0754 7034")
    assert not is_valid_rf_reference("RF18 5390 0754 7035")
    assert is_valid_qr_reference("21 00000 00003 13947 14300 09017")
    assert not is_valid_qr_reference("12345")


def test_accounts_and_spaces():
    assert normalise_account(" CH93 0076 2011 6238 5295 7 ") == "CH9300762011623852957"
    assert normalise_account("7558034-31") == "7558034-31"
    assert normalise_account("Konto 123 456") == "Konto 123 456"  # not an IBAN: as printed
    assert looks_like_iban("DE89 3704 0044 0532 0130 00")
    assert not looks_like_iban("123456789")
    assert collapse_spaces("  a \t b\n c ") == "a b c"


def test_decode_guess():
    assert decode_guess("Zürich".encode()) == ("Zürich", "utf-8")
    assert decode_guess(b"\xef\xbb\xbfabc") == ("abc", "utf-8")
    assert decode_guess("Gebühr".encode("cp1252")) == ("Gebühr", "cp1252")
    assert decode_guess("Kőszeg".encode("cp852"))[1] == "cp852"  # letters only in CP852
    assert decode_guess(b"caf\xe9", declared="latin-1") == ("café", "latin-1")
    assert decode_guess(b"caf\xe9", declared="no-such-codec")[0] == "café"  # falls back
