"""Small helpers every bank reader shares: currency, amount and date checks, text decoding.

Stable API (other readers import it; change only in a backward-compatible way):

* :class:`FieldError` — a value that does not fit; carries ``expected`` and ``found``.
* :func:`reason` — the contract's message: ``"<file>, <where>: expected <x>, found <y>"``.
* :func:`found` — how a found value is quoted in a reason (``'HAT'``, ``nothing``).
* :func:`parse_currency` / :func:`is_iso4217` — ISO 4217 check (upper-cases, strips).
* :func:`parse_amount` — exact :class:`~decimal.Decimal` from text, with separators.
* :func:`parse_date` / :func:`parse_iso_date` — calendar-checked dates.
* :func:`decode_text` — bytes to text (BOM stripped), or :class:`UnreadableFile`
  naming the byte offset and line of the first undecodable byte.
* :func:`format_decimal` — a Decimal as a plain string exactly as parsed (no exponent).
* :func:`decode_guess` — bytes to text when the encoding is not known: the declared one,
  else UTF-8, else the 8-bit code page (CP1252, CP852, ISO 8859-2) under which the
  non-ASCII bytes read as letters; never fails. Returns ``(text, encoding)``.
* :func:`find_structured_reference` — the first ISO 11649 ``RF`` or Swiss QR reference in
  free text (check digits verified), or ``""``; :func:`is_valid_rf_reference`,
  :func:`is_valid_qr_reference` — the check-digit tests alone.
* :func:`normalise_account` — an account as printed, an IBAN written in groups compacted;
  :func:`looks_like_iban`.
* :data:`MINOR_UNITS` / :func:`pad_minor_units` — ISO 4217 decimals that differ from 2, and
  an amount padded (never rounded) to its currency's decimals (``300`` CHF → ``300.00``).
* :func:`collapse_spaces` — runs of whitespace to one space, stripped.

Typical use in a reader::

    try:
        amount = parse_amount(raw)
        currency = parse_currency(raw_ccy)
    except FieldError as err:
        tx.reject_reason = err.reason_for(source_file, f"line {n}")
"""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from pipelines.ingest.bank.records import UnreadableFile

__all__ = [
    "ISO_4217_CURRENT",
    "ISO_4217_HISTORIC",
    "MINOR_UNITS",
    "FieldError",
    "collapse_spaces",
    "decode_guess",
    "decode_text",
    "find_structured_reference",
    "format_decimal",
    "found",
    "is_iso4217",
    "is_valid_qr_reference",
    "is_valid_rf_reference",
    "looks_like_iban",
    "normalise_account",
    "pad_minor_units",
    "parse_amount",
    "parse_currency",
    "parse_date",
    "parse_iso_date",
    "reason",
]

# ISO 4217 list one (active codes), as of 2026. XTS (testing) and XXX (no currency) are left
# out on purpose: a bank transaction in them is not money we can account for.
_CURRENT = """
    AED AFN ALL AMD AOA ARS AUD AWG AZN BAM BBD BDT BHD BIF BMD BND BOB BOV BRL BSD BTN BWP
    BYN BZD CAD CDF CHE CHF CHW CLF CLP CNY COP COU CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN
    ETB EUR FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK
    JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD
    MMK MNT MOP MRU MUR MVR MWK MXN MXV MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP
    PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP
    SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD USN UYI UYU UYW UZS VED VES VND VUV
    WST XAD XAF XAG XAU XBA XBB XBC XBD XCD XCG XDR XOF XPD XPF XPT XSU XUA YER ZAR ZMW ZWG
"""

# ISO 4217 list three (withdrawn codes) that still turn up in old statements and archives,
# e.g. the euro's predecessors (a DEM account statement) and recently replaced codes.
_HISTORIC = """
    ANG ATS BEF BYR CUC CYP DEM EEK ESP FIM FRF GRD HRK IEP ITL LTL LUF LVL MRO MTL NLG PTE
    SIT SKK SLL STD VEF XEU ZMK ZWL
"""

ISO_4217_CURRENT: frozenset[str] = frozenset(_CURRENT.split())
ISO_4217_HISTORIC: frozenset[str] = frozenset(_HISTORIC.split())

_AMOUNT_RE = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)")
_MAX_FOUND = 60
_ISO_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}(?:$|[T Z+-])")


class FieldError(ValueError):
    """One value that does not fit. ``expected`` and ``found`` are for the reject reason."""

    def __init__(self, expected: str, found_text: str):
        self.expected = expected
        self.found = found_text
        super().__init__(f"expected {expected}, found {found_text}")

    def reason_for(self, source_file: str, where: str) -> str:
        """The full reject reason: ``"<file>, <where>: expected …, found …"``."""
        return reason(source_file, where, self.expected, self.found)


def reason(source_file: str, where: str, expected: str, found_text: str) -> str:
    """The contract's reason text (same shape as :attr:`UnreadableFile.reason`)."""
    return f"{source_file}, {where}: expected {expected}, found {found_text}"


def found(value: object) -> str:
    """A found value as quoted in a reason: ``'HAT'``; ``nothing`` when missing or blank.

    Long values are cut to 60 characters so a reason stays readable.
    """
    if value is None:
        return "nothing"
    text = str(value)
    if not text.strip():
        return "nothing" if not text else f"{text!r} (blank)"
    if len(text) > _MAX_FOUND:
        text = text[:_MAX_FOUND] + "…"
    return repr(text)


def is_iso4217(code: str, include_historic: bool = True) -> bool:
    """True when ``code`` (exactly, upper case) is an ISO 4217 currency code."""
    if code in ISO_4217_CURRENT:
        return True
    return include_historic and code in ISO_4217_HISTORIC


def parse_currency(value: str | None, include_historic: bool = True) -> str:
    """An ISO 4217 code from text (stripped, upper-cased: ``' cad'`` → ``'CAD'``).

    Raises :class:`FieldError` ("ISO 4217 currency code", ``'HAT'``) otherwise, also when empty:
    callers that have a default (the statement's currency, a profile's) apply it first.
    """
    code = (value or "").strip().upper()
    if not is_iso4217(code, include_historic):
        raise FieldError("ISO 4217 currency code", found(value))
    return code


def parse_amount(
    value: str | None,
    *,
    decimal_sep: str = ".",
    thousands_seps: str = "",
    allow_zero: bool = True,
    expected: str | None = None,
) -> Decimal:
    """An exact Decimal from text, keeping every decimal given (``'18.150'`` stays 3 places).

    * surrounding whitespace and one leading ``+``/``-`` are accepted; so is a trailing
      decimal separator (MT940 ``'300,'`` with ``decimal_sep=','`` → ``Decimal('300')``);
    * ``thousands_seps`` lists characters to drop (e.g. ``"'"``, ``" ,"``), they are removed
      only from the integer part;
    * exponents, ``NaN``/``Infinity``, several signs or separators → :class:`FieldError`;
    * ``allow_zero=False`` rejects an amount equal to zero ("a non-zero amount").
    """
    text = value.strip() if isinstance(value, str) else ("" if value is None else str(value))
    if decimal_sep == "." and not thousands_seps and _AMOUNT_RE.fullmatch(text):
        amount = Decimal(text)  # the common case, kept fast for large files
    else:
        amount = _parse_amount_slow(value, text, decimal_sep, thousands_seps, expected)
    if not allow_zero and amount == 0:
        raise FieldError("a non-zero amount", found(value))
    return amount


def _parse_amount_slow(
    value: object, text: str, decimal_sep: str, thousands_seps: str, expected: str | None
) -> Decimal:
    want = expected or f"an amount like -1234{decimal_sep}56"
    if not text:
        raise FieldError(want, "nothing")
    if thousands_seps:
        int_part, sep, frac = text.partition(decimal_sep)
        for ch in thousands_seps:
            int_part = int_part.replace(ch, "")
        text = int_part + sep + frac
    if decimal_sep != ".":
        if "." in text:
            raise FieldError(want, found(value))
        text = text.replace(decimal_sep, ".")
    if not _AMOUNT_RE.fullmatch(text):
        raise FieldError(want, found(value))
    try:
        return Decimal(text)
    except InvalidOperation:  # pragma: no cover - the regex already guards this
        raise FieldError(want, found(value)) from None


def format_decimal(value: Decimal | None) -> str:
    """A Decimal as plain text exactly as parsed (``Decimal('18.150')`` → ``'18.150'``)."""
    if value is None:
        return ""
    return format(value, "f")


def parse_date(value: str | None, fmt: str = "%Y-%m-%d", expected: str | None = None) -> date:
    """A calendar date in ``fmt`` (strptime), e.g. ``'%d.%m.%Y'``; whitespace stripped.

    An impossible date (``2024-02-30``) or a wrong layout raises :class:`FieldError`
    ("a date YYYY-MM-DD", ``'2024-02-30'``); ``expected`` overrides the description.
    """
    want = expected or f"a date {_describe_format(fmt)}"
    if value is None or not str(value).strip():
        raise FieldError(want, "nothing")
    try:
        return datetime.strptime(str(value).strip(), fmt).date()
    except ValueError:
        raise FieldError(want, found(value)) from None


def parse_iso_date(value: str | None, expected: str = "an ISO date YYYY-MM-DD") -> date:
    """An ISO 8601 date or date-time (``2024-11-12``, ``2024-11-12T10:00:00+01:00``,
    ``2024-11-12T10:00:00.123Z``): the calendar date as written (no time-zone shift)."""
    if value is None or not str(value).strip():
        raise FieldError(expected, "nothing")
    text = str(value).strip()
    if not _ISO_DATE_RE.match(text):
        raise FieldError(expected, found(value))
    try:
        return date(int(text[0:4]), int(text[5:7]), int(text[8:10]))
    except ValueError:
        raise FieldError(expected, found(value)) from None


def _describe_format(fmt: str) -> str:
    return (
        fmt.replace("%Y", "YYYY")
        .replace("%y", "YY")
        .replace("%m", "MM")
        .replace("%d", "DD")
        .replace("%H", "hh")
        .replace("%M", "mm")
        .replace("%S", "ss")
    )


def decode_text(data: bytes, source_file: str, encoding: str = "utf-8") -> str:
    """Bytes to text in ``encoding``, a leading BOM removed.

    Undecodable bytes raise :class:`UnreadableFile` naming the line and byte offset, e.g.
    ``"x.csv, line 3 (byte 57): expected UTF-8 text, found byte 0xE9"``.
    """
    if encoding.lower().replace("-", "").replace("_", "") in ("utf8", "utf8sig"):
        encoding = "utf-8"
        if data.startswith(b"\xef\xbb\xbf"):
            data = data[3:]
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        bad = data[err.start : err.start + 1].hex().upper()
        raise UnreadableFile(
            source_file,
            f"line {line} (byte {err.start})",
            f"{encoding.upper()} text",
            f"byte 0x{bad}",
        ) from None
    except LookupError:
        raise UnreadableFile(source_file, "file", "a known text encoding", repr(encoding)) from None
    return text.lstrip("\ufeff") if text.startswith("\ufeff") else text


# ---------------------------------------------------------------------------------------
# Text helpers shared by the MT940, BAI2, OFX and CSV readers: creditor references,
# accounts, encoding guess, currency decimals.
# ---------------------------------------------------------------------------------------

_RF_RE = re.compile(r"\bRF\d{2}")
_QR_GROUPED_RE = re.compile(r"(?<!\d)(?<!\d )(\d{2}(?: \d{5}){5})(?! ?\d)")
_QR_PLAIN_RE = re.compile(r"(?<!\d)(\d{27})(?!\d)")
_IBAN_RE = re.compile(r"^[A-Z]{2}\d{2}[A-Z0-9]{10,30}$")
_IBAN_SPACED_RE = re.compile(r"^[A-Z]{2}\d{2}(?: ?[A-Z0-9]{1,4}){3,8}$")


def is_valid_rf_reference(ref: str) -> bool:
    """ISO 11649 creditor reference (``RF18539007547034``): mod-97 check digits."""
    text = ref.replace(" ", "").upper()
    if not re.fullmatch(r"RF\d{2}[A-Z0-9]{1,21}", text):
        return False
    rearranged = text[4:] + text[:4]
    digits = "".join(str(int(ch, 36)) for ch in rearranged)
    return int(digits) % 97 == 1


def is_valid_qr_reference(ref: str) -> bool:
    """Swiss QR reference (27 digits, last one a mod-10 recursive check digit)."""
    text = ref.replace(" ", "")
    if not re.fullmatch(r"\d{27}", text):
        return False
    table = (0, 9, 4, 6, 8, 2, 7, 1, 3, 5)
    carry = 0
    for ch in text[:-1]:
        carry = table[(carry + int(ch)) % 10]
    return (10 - carry) % 10 == int(text[-1])


def find_structured_reference(text: str) -> str:
    """The first creditor reference in free text, normalised (no spaces), or ``""``.

    * ISO 11649 ``RF..`` references with valid check digits;
    * Swiss QR references printed in their grouping ``NN NNNNN NNNNN NNNNN NNNNN NNNNN``
      (as banks print them next to a "QRR"/reference label; accepted without the check
      digit test, the grouping is specific enough);
    * 27 consecutive digits only when the QR check digit is valid.
    """
    if not text:
        return ""
    upper = text.upper()
    for match in _RF_RE.finditer(upper):
        tail = re.match(r"[A-Z0-9 ]*", upper[match.end() :]).group(0)
        bodies: list[str] = []
        body = ""
        for token in tail.split(" "):
            if not token:
                if body:
                    break
                continue
            body += token
            if len(body) > 21:
                break
            bodies.append(body)
        for body in reversed(bodies):  # the longest grouping with valid check digits
            if is_valid_rf_reference(match.group(0) + body):
                return match.group(0) + body
    match = _QR_GROUPED_RE.search(text)
    if match:
        return match.group(1).replace(" ", "")
    for match in _QR_PLAIN_RE.finditer(text):
        if is_valid_qr_reference(match.group(1)):
            return match.group(1)
    return ""


def normalise_account(value: str) -> str:
    """An account as printed, stripped; an IBAN written in groups loses its spaces."""
    text = (value or "").strip()
    compact = text.replace(" ", "")
    if " " in text and _IBAN_SPACED_RE.match(text) and _IBAN_RE.match(compact):
        return compact
    return text


def looks_like_iban(value: str) -> bool:
    return bool(_IBAN_RE.match((value or "").replace(" ", "")))


_LEGACY_CODEPAGES = ("cp1252", "cp852", "iso-8859-2")


def decode_guess(
    data: bytes,
    declared: str | None = None,
    candidates: tuple[str, ...] = _LEGACY_CODEPAGES,
) -> tuple[str, str]:
    """Bytes to text: the declared encoding if it decodes, else UTF-8, else the candidate
    8-bit code page under which most non-ASCII characters are letters. Never fails (the
    last resort is Latin-1, which maps every byte). Returns ``(text, encoding used)``.
    """
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
        declared = declared or "utf-8"
    tried: list[str] = []
    if declared:
        try:
            return data.decode(declared), declared
        except (UnicodeDecodeError, LookupError):
            tried.append(declared)
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    best: tuple[float, str, str] | None = None
    for enc in candidates:
        try:
            text = data.decode(enc)
        except UnicodeDecodeError:
            continue
        high = [ch for ch in text if ord(ch) > 127]
        score = sum(1 for ch in high if ch.isalpha()) / max(len(high), 1)
        if best is None or score > best[0]:
            best = (score, text, enc)
    if best is not None:
        return best[1], best[2]
    return data.decode("latin-1"), "latin-1"


# ISO 4217 minor units that differ from 2.
MINOR_UNITS: dict[str, int] = {
    **dict.fromkeys(
        [
            "BIF",
            "CLP",
            "DJF",
            "GNF",
            "ISK",
            "JPY",
            "KMF",
            "KRW",
            "PYG",
            "RWF",
            "UGX",
            "UYI",
            "VND",
            "VUV",
            "XAF",
            "XOF",
            "XPF",
        ],
        0,
    ),
    **dict.fromkeys(["BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"], 3),
    **dict.fromkeys(("CLF", "UYW"), 4),
}


def pad_minor_units(amount: Decimal | None, currency: str) -> Decimal | None:
    """``Decimal('300')`` in CHF → ``Decimal('300.00')``: pads to the currency's minor units,
    never rounds (an amount with more decimals is returned as sent)."""
    if amount is None:
        return None
    places = MINOR_UNITS.get(currency, 2)
    exponent = amount.as_tuple().exponent
    if isinstance(exponent, int) and exponent > -places:
        return amount.quantize(Decimal(1).scaleb(-places))
    return amount


def collapse_spaces(text: str) -> str:
    return re.sub(r"\s+", " ", text or "").strip()
