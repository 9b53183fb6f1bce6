"""Check digits the generator computes itself.

- IBAN (ISO 13616): two check digits over the BBAN with ISO 7064 mod 97-10.
- RF creditor reference (ISO 11649): ``RF`` + two check digits + up to 21 alphanumerics,
  the same mod 97-10 scheme.
- A few national BBAN check digits (Belgium, France, the Netherlands) so the generated IBANs
  also pass a strict national validation where one is well known.
"""

from __future__ import annotations

import string

_LETTER_VALUES = {c: str(i) for i, c in enumerate(string.ascii_uppercase, start=10)}


def _to_digits(text: str) -> str:
    """Letters to numbers (A=10 … Z=35), digits unchanged (ISO 7064 mod 97-10 preparation)."""
    return "".join(_LETTER_VALUES.get(c, c) for c in text)


def _mod97(text: str) -> int:
    return int(_to_digits(text)) % 97


def iban_from_bban(country: str, bban: str) -> str:
    """The IBAN for a country code and BBAN, with its computed check digits."""
    country = country.upper()
    bban = bban.upper()
    check = 98 - _mod97(bban + country + "00")
    return f"{country}{check:02d}{bban}"


def is_valid_iban(value: str) -> bool:
    """True when ``value`` is structurally an IBAN and its check digits are right."""
    text = value.replace(" ", "").upper()
    if not 15 <= len(text) <= 34 or not text.isalnum() or not text.isascii():
        return False
    if not (text[:2].isalpha() and text[2:4].isdigit()):
        return False
    return _mod97(text[4:] + text[:4]) == 1 and 2 <= int(text[2:4]) <= 98


def rf_reference(reference: str) -> str:
    """The ISO 11649 creditor reference (``RFkk…``) for up to 21 alphanumeric characters."""
    ref = reference.upper()
    if not (1 <= len(ref) <= 21 and ref.isalnum() and ref.isascii()):
        raise ValueError(f"an RF reference needs 1-21 letters or digits, found {reference!r}")
    check = 98 - _mod97(ref + "RF00")
    return f"RF{check:02d}{ref}"


def is_valid_rf(value: str) -> bool:
    """True when ``value`` is an ISO 11649 creditor reference with valid check digits."""
    text = value.replace(" ", "").upper()
    if not (5 <= len(text) <= 25 and text.startswith("RF") and text.isalnum() and text.isascii()):
        return False
    if not text[2:4].isdigit():
        return False
    return _mod97(text[4:] + text[:4]) == 1


# --------------------------------------------------------------------------- national BBANs
def be_bban(bank: str, account: str) -> str:
    """Belgian BBAN: 3-digit bank, 7-digit account, 2 check digits (first 10 digits mod 97)."""
    first = f"{bank}{account}"
    check = int(first) % 97 or 97
    return f"{first}{check:02d}"


def fr_bban(bank: str, branch: str, account: str) -> str:
    """French BBAN (RIB): bank 5, branch 5, account 11 digits, RIB key 2 digits."""
    key = 97 - (89 * int(bank) + 15 * int(branch) + 3 * int(account)) % 97
    return f"{bank}{branch}{account}{key:02d}"


def nl_account_is_valid(account: str) -> bool:
    """Dutch 10-digit account number "elfproef" (weights 10..1, sum divisible by 11)."""
    return sum(int(d) * w for d, w in zip(account, range(10, 0, -1), strict=True)) % 11 == 0


def nl_complete_account(nine_digits: str) -> str | None:
    """The 10th digit that makes a Dutch account number pass the elfproef, or None."""
    partial = sum(int(d) * w for d, w in zip(nine_digits, range(10, 1, -1), strict=True))
    last = (-partial) % 11
    return None if last == 10 else f"{nine_digits}{last}"
