"""SWIFT MT940 (customer statement) and MT942 (interim transaction report) reader.

``parse(data, source_file)`` returns one :class:`Transaction` per ``:61:`` statement line and
one :class:`Statement` per ``:20:`` message. Our own reader, not the ``mt940`` library: the
library rejects the real ASN Bank file (a ``:61:`` customer reference longer than 16
characters) and cannot tell us the line of a bad field; it is used in the tests as an
independent cross-check of counts and amounts on the files it can read.

What it accepts (all seen in real files, see tests/fixtures/bank/mt940):

* SWIFT FIN blocks ``{1:…}{2:…}{4:`` … ``-}{5:}``, bank header lines before ``:20:``
  (``ABNANL2A`` / ``940``), ``:940:``, SOH/ETX bytes, ``-`` / ``-XXX`` message ends, blank
  lines, trailing spaces, CRLF;
* ``:28:`` as well as ``:28C:``; ``:60F:``/``:60M:`` and ``:62F:``/``:62M:``; ``:64:``,
  ``:65:``, ``:21:``, ``:NS:`` (Sberbank); MT942 ``:13D:``, ``:34F:``, ``:90D:``/``:90C:``;
* ``:61:`` with or without entry date, marks ``C``/``D``/``RC``/``RD``/``EC``/``ED``, a funds
  code letter after the mark (``CR300,``), decimal comma amounts (``300,``, ``0,``,
  zero-padded), customer reference of any length, ``//`` bank reference and a supplementary
  line (a counter IBAN becomes ``counterparty_account``);
* ``:86:`` in German ``?NN`` sub-fields (``?20``–``?29``/``?60``–``?63`` remittance,
  ``?32``/``?33`` name, ``?31``/``?38`` account, ``EREF+``/``SVWZ+``/``MTLG:`` tags), the
  ``/EREF/ /BENM//NAME/ /REMI/`` style, Polish ``;``-separated (``Z RACH.:``, ``OD:``,
  ``TYT.:``), and free text (a leading ``IBAN name`` line is read as the counterparty).
  Lines of free text are joined with a space, except after a full 65-character line that
  ends mid-word, which continues without one; ``?NN`` and ``/KEY/`` fields are joined as is.

Decoding: UTF-8 when the bytes are UTF-8, otherwise the 8-bit code page (CP1252, CP852,
ISO 8859-2) under which the non-ASCII bytes read as letters (the Raiffeisen Hungary file is
CP852). ``encoding=`` forces one.

Record rules:

* ``result.format`` is ``mt942`` when every message is an interim report (``:13D:``/``:34F:``
  and no opening balance), else ``mt940``;
* amount signed by the direction of money: ``C``/``RD``/``EC`` +, ``D``/``RC``/``ED`` −,
  padded to the currency's decimals (``300,`` → ``300.00``, never rounded);
  ``is_reversal`` for ``RC``/``RD``, ``/RTRN/`` and German ``RETOURE``/``STORNO`` booking
  texts; ``return_reason`` from ``/RTRN/`` or the ``?34`` supplement of a German return;
* ``booking_date`` is the entry date (MMDD, its year chosen nearest the value date, so
  ``:61:1712310102`` books on 2018-01-02), else the value date;
* currency from ``:60F:``/``:60M:`` (else ``:62F:``/``:62M:``, MT942 ``:34F:``/``:90D:``, or
  the ``:25:`` suffix); ISO 4217 current and historic codes are accepted (the cmxl file's
  ``DEM``), unknown ones reject the statement's rows;
* ``bank_reference`` is the ``//`` reference, else the customer reference (empty for
  ``NONREF``); ``statement_id`` is ``:20:``, ``sequence_number`` is ``:28C:``.

transaction_id rule (documented contract choice):

* ``:61:`` with a ``//`` bank reference (not ``NONREF``):
  ``make_transaction_id(account, "ref", bank_reference, value_date, n)`` where ``n`` counts
  earlier ``:61:`` lines with the same reference and value date in the same statement.
  An MT942 intraday report and the end-of-day MT940 that repeats the entry therefore give
  the same id, so the transaction is stored once; the value date keeps a bank that reuses a
  reference on other days (cmxl ``//55555``) from merging different transactions.
* otherwise: ``make_transaction_id(account, ":20:", ":28C:", opening balance date (MT942:
  ``:13D:``), position of the :61: in the statement)``. The opening date is part of the
  statement identity because some banks repeat ``:20:``/``:28C:`` on every statement
  (Rabobank ``940S130101`` / ``0``). Two identical-looking entries get different positions.
  Such entries in an MT942 and the later MT940 get different ids (nothing in the message
  links them); banks that send both should send bank references.

Balance check per statement: opening (``:60F:``/``:60M:``) + every entry whose amount could
be read = closing (``:62F:``/``:62M:``) → ok / mismatch; without either balance (MT942, a
truncated file) → not_checkable. A file without any ``:20:`` message raises
:class:`UnreadableFile`; a bad ``:61:`` is a rejected row naming its line.

The text helpers it shares with the other readers (encoding guess, creditor references,
account clean-up, currency decimals) live in :mod:`pipelines.ingest.bank.common`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from pipelines.ingest.bank.common import (
    FieldError,
    collapse_spaces,
    decode_guess,
    find_structured_reference,
    found,
    looks_like_iban,
    pad_minor_units,
    parse_amount,
    parse_currency,
    reason,
)
from pipelines.ingest.bank.records import (
    ParseResult,
    Statement,
    Transaction,
    UnreadableFile,
    make_transaction_id,
)

__all__ = ["parse"]

FORMAT = "mt940"

# ---------------------------------------------------------------------------------------
# MT940 parsing
# ---------------------------------------------------------------------------------------

_TAG_RE = re.compile(r"^:(\d{2}[A-Z]?|NS):(.*)$")
_IGNORED_TAG_RE = re.compile(r"^:\d{3}:\s*$")  # ':940:' header line
_BLOCK_START_RE = re.compile(r"^\{1:")
_MESSAGE_END_RE = re.compile(r"^-\s*$|^-\}|^-XXX\s*$")
_STATEMENT_LINE_RE = re.compile(
    r"^(?P<vdate>\d{6})(?P<edate>\d{4})?(?P<mark>RC|RD|EC|ED|C|D)(?P<funds>[A-Z])?"
    r"(?P<amount>\d[\d,]*)(?P<ttype>[A-Z][A-Z0-9 ]{3})(?P<cref>.*?)(?://(?P<bref>.*))?$"
)
_BALANCE_RE = re.compile(r"^(?P<mark>[CD])(?P<date>\d{6})(?P<ccy>[A-Z]{3})(?P<amount>[\d,]+)$")
_FLOOR_RE = re.compile(r"^(?P<ccy>[A-Z]{3})")
_SUM_RE = re.compile(r"^\d+(?P<ccy>[A-Z]{3})[\d,]+$")
_BIC_RE = re.compile(r"^[A-Z]{6}[A-Z0-9]{2}(?:[A-Z0-9]{3})?$")
_MT942_DATETIME_RE = re.compile(r"^\d{10}")

_SIGN = {"C": 1, "RD": 1, "EC": 1, "D": -1, "RC": -1, "ED": -1}
_FULL_LINE = 65


@dataclass
class _Field:
    tag: str
    line: int
    lines: list[str] = field(default_factory=list)  # first = text after the tag

    @property
    def value(self) -> str:
        return self.lines[0].strip() if self.lines else ""


@dataclass
class _Entry:
    field61: _Field
    info: list[_Field] = field(default_factory=list)  # :86: / :NS: after the :61:


@dataclass
class _Message:
    start_line: int
    fields: list[_Field] = field(default_factory=list)
    entries: list[_Entry] = field(default_factory=list)

    def first(self, *tags: str) -> _Field | None:
        for tag in tags:
            for f in self.fields:
                if f.tag == tag:
                    return f
        return None


def parse(data: bytes, source_file: str, *, encoding: str | None = None) -> ParseResult:
    """Read an MT940/MT942 file (bytes) into transactions and statements."""
    text, _ = decode_guess(data, encoding)
    messages = _split_messages(text)
    if not messages:
        first = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
        raise UnreadableFile(
            source_file,
            "line 1",
            "an MT940/MT942 statement starting with a :20: field",
            found(first) if first else "an empty file",
        )
    interim = all(
        m.first("60F", "60M") is None and m.first("13D", "34F") is not None for m in messages
    )
    result = ParseResult(format="mt942" if interim else FORMAT)
    for message in messages:
        _read_message(message, source_file, result)
    return result


def _split_messages(text: str) -> list[_Message]:
    """Group the tagged fields into messages, each starting at a ``:20:``."""
    text = text.replace("\x01", "").replace("\x03", "").replace("\x00", "")
    messages: list[_Message] = []
    current: _Message | None = None
    last_field: _Field | None = None
    after_entry = False  # the previous field was a :61: (or its :86:/:NS:)
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.rstrip("\r\n")
        stripped = line.strip()
        match = _TAG_RE.match(line)
        if match:
            tag, rest = match.group(1), match.group(2)
            if tag == "20":
                current = _Message(start_line=number)
                messages.append(current)
            if current is None:
                last_field = None
                continue  # a field before any :20: (header noise)
            last_field = _Field(tag=tag, line=number, lines=[rest])
            current.fields.append(last_field)
            if tag == "61":
                current.entries.append(_Entry(field61=last_field))
                after_entry = True
            elif tag in ("86", "NS") and after_entry:
                current.entries[-1].info.append(last_field)
            else:
                after_entry = False
            continue
        if _BLOCK_START_RE.match(stripped) or _MESSAGE_END_RE.match(stripped):
            last_field = None
            after_entry = False
            continue
        if _IGNORED_TAG_RE.match(stripped):
            continue
        if not stripped:
            continue  # blank lines inside or between messages carry nothing
        if last_field is not None:
            last_field.lines.append(line)
    return messages


def _read_message(message: _Message, source_file: str, result: ParseResult) -> None:
    f20 = message.first("20")
    f25 = message.first("25")
    f28 = message.first("28C", "28")
    opening_f = message.first("60F", "60M")
    closing_f = message.first("62F", "62M")
    f13d = message.first("13D")

    statement_ref = f20.value if f20 else ""
    raw_account = f25.value if f25 else ""
    account, account_ccy = _split_account(raw_account)
    sequence = f28.value if f28 else ""

    statement = Statement(
        statement_id=statement_ref,
        account=account,
        sequence_number=sequence,
        source_file=source_file,
    )
    problems: list[str] = []  # statement-level reasons that reject every row
    opening = _read_balance(opening_f)
    closing = _read_balance(closing_f)
    if opening:
        statement.opening_balance = pad_minor_units(opening[0], opening[2])
        statement.from_date = opening[1]
    if closing:
        statement.closing_balance = pad_minor_units(closing[0], closing[2])
        statement.to_date = closing[1]

    currency, currency_problem = _statement_currency(message, opening, closing, account_ccy)
    statement.currency = currency
    if currency_problem:
        where_line = currency_problem[0]
        problems.append(
            reason(source_file, f"line {where_line}", currency_problem[1], currency_problem[2])
        )
    if not account:
        problems.append(
            reason(
                source_file,
                f"line {message.start_line}",
                "the account in a :25: field",
                "nothing",
            )
        )

    if opening_f is not None:
        identity_date = opening[1].isoformat() if opening else opening_f.value
    elif f13d is not None:
        identity_date = f13d.value
    else:
        identity_date = ""

    ref_counts: dict[tuple[str, str], int] = {}
    entries_total = Decimal("0")
    for position, entry in enumerate(message.entries, start=1):
        tx = _read_entry(entry, source_file)
        tx.account = account
        tx.statement_id = statement_ref
        tx.sequence_number = sequence
        tx.currency = currency
        tx.amount = pad_minor_units(tx.amount, currency)
        if tx.amount is not None:
            entries_total += tx.amount
        if not tx.reject_reason and problems:
            tx.reject_reason = problems[0]
        bank_ref = tx.bank_reference if entry.field61 and _has_bank_ref(entry) else ""
        if bank_ref:
            key = (bank_ref, tx.value_date.isoformat() if tx.value_date else "")
            occurrence = ref_counts.get(key, 0)
            ref_counts[key] = occurrence + 1
            tx.transaction_id = make_transaction_id(account, "ref", bank_ref, key[1], occurrence)
        else:
            tx.transaction_id = make_transaction_id(
                account, statement_ref, sequence, identity_date, position
            )
        result.transactions.append(tx)

    statement.entries_total = entries_total
    statement.entry_count = len(message.entries)
    statement.check_balance()
    result.statements.append(statement)


def _has_bank_ref(entry: _Entry) -> bool:
    match = _STATEMENT_LINE_RE.match(entry.field61.lines[0].strip())
    if not match or not match.group("bref"):
        return False
    return match.group("bref").strip().upper() not in ("", "NONREF")


def _split_account(raw: str) -> tuple[str, str]:
    """``BIC/account[/CCY]`` → (account, CCY); anything else is kept as printed."""
    parts = [p.strip() for p in raw.split("/")]
    if len(parts) >= 2 and _BIC_RE.match(parts[0]) and parts[1]:
        ccy = parts[2] if len(parts) >= 3 and re.fullmatch(r"[A-Z]{3}", parts[2]) else ""
        return parts[1], ccy
    return raw.strip(), ""


def _read_balance(f: _Field | None) -> tuple[Decimal, date, str] | None:
    if f is None:
        return None
    match = _BALANCE_RE.match(f.value.replace(" ", ""))
    if not match:
        return None
    try:
        when = _yymmdd(match.group("date"))
        amount = parse_amount(match.group("amount"), decimal_sep=",")
    except FieldError:
        return None
    if match.group("mark") == "D":
        amount = -amount
    return amount, when, match.group("ccy")


def _statement_currency(
    message: _Message,
    opening: tuple[Decimal, date, str] | None,
    closing: tuple[Decimal, date, str] | None,
    account_ccy: str,
) -> tuple[str, tuple[int, str, str] | None]:
    """The statement currency and, if it is not an ISO 4217 code, (line, expected, found)."""
    candidates: list[tuple[str, int]] = []
    for bal, tags in ((opening, ("60F", "60M")), (closing, ("62F", "62M"))):
        if bal:
            f = message.first(*tags)
            candidates.append((bal[2], f.line if f else message.start_line))
    for tag, regex in (("34F", _FLOOR_RE), ("90D", _SUM_RE), ("90C", _SUM_RE)):
        f = message.first(tag)
        if f is not None:
            match = regex.match(f.value)
            if match:
                candidates.append((match.group("ccy"), f.line))
    if account_ccy:
        f25 = message.first("25")
        candidates.append((account_ccy, f25.line if f25 else message.start_line))
    if not candidates:
        return "", (
            message.start_line,
            "a currency in :60F:/:62F: (or :34F: for MT942)",
            "nothing",
        )
    code, line = candidates[0]
    try:
        return parse_currency(code), None
    except FieldError as err:
        return code, (line, err.expected, err.found)


def _yymmdd(text: str) -> date:
    year = int(text[0:2])
    year += 2000 if year < 80 else 1900
    return date(year, int(text[2:4]), int(text[4:6]))


def _entry_date(mmdd: str, value: date) -> date:
    """The entry (booking) date MMDD in the year that puts it nearest the value date."""
    best: date | None = None
    for year in (value.year - 1, value.year, value.year + 1):
        try:
            candidate = date(year, int(mmdd[:2]), int(mmdd[2:]))
        except ValueError:
            continue
        if best is None or abs((candidate - value).days) < abs((best - value).days):
            best = candidate
    if best is None:
        raise ValueError(mmdd)
    return best


def _read_entry(entry: _Entry, source_file: str) -> Transaction:
    f61 = entry.field61
    where = f"line {f61.line}"
    tx = Transaction(source_file=source_file, location=where)
    first = f61.lines[0].rstrip()
    match = _STATEMENT_LINE_RE.match(first.strip())
    info = _read_info(entry.info, f61)
    tx.remittance_info = info.remittance
    tx.counterparty_name = info.name
    tx.counterparty_account = info.account
    tx.end_to_end_id = info.end_to_end
    tx.structured_reference = info.structured or find_structured_reference(info.remittance)
    tx.return_reason = info.return_reason
    tx.is_reversal = info.is_return
    if not match:
        tx.reject_reason = reason(
            source_file,
            where,
            "a :61: statement line YYMMDD[MMDD]C|D amount type reference",
            found(first),
        )
        return tx
    mark = match.group("mark")
    cref = match.group("cref").strip()
    bref = (match.group("bref") or "").strip()
    if bref and bref.upper() != "NONREF":
        tx.bank_reference = bref
    elif cref and cref.upper() != "NONREF":
        tx.bank_reference = cref
    if mark in ("RC", "RD"):
        tx.is_reversal = True
    try:
        amount = parse_amount(
            match.group("amount"), decimal_sep=",", expected="an amount like 1234,56 in :61:"
        )
        tx.amount = amount * _SIGN[mark]
    except FieldError as err:
        tx.reject_reason = err.reason_for(source_file, where)
    try:
        tx.value_date = _yymmdd(match.group("vdate"))
    except ValueError:
        tx.reject_reason = tx.reject_reason or reason(
            source_file, where, "a value date YYMMDD in :61:", found(match.group("vdate"))
        )
        return tx
    edate = match.group("edate")
    if edate:
        try:
            tx.booking_date = _entry_date(edate, tx.value_date)
        except ValueError:
            tx.reject_reason = tx.reject_reason or reason(
                source_file, where, "an entry date MMDD in :61:", found(edate)
            )
    else:
        tx.booking_date = tx.value_date
    # Supplementary details (second :61: line): a counter IBAN, or text kept as remittance.
    for extra in f61.lines[1:]:
        extra = extra.strip()
        if not extra:
            continue
        if looks_like_iban(extra) and not tx.counterparty_account:
            tx.counterparty_account = extra.replace(" ", "")
        elif collapse_spaces(extra) not in tx.remittance_info:
            tx.remittance_info = collapse_spaces(f"{tx.remittance_info} {extra}")
    return tx


# ---------------------------------------------------------------------------------------
# :86: information to account owner
# ---------------------------------------------------------------------------------------

_SEPA_TAGS = (
    "EREF",
    "KREF",
    "MREF",
    "CRED",
    "DEBT",
    "COAM",
    "OAMT",
    "SVWZ",
    "ABWA",
    "ABWE",
    "IBAN",
    "BIC",
    "PURP",
)
_SEPA_TAG_RE = re.compile(r"(?:(?<=\s)|^)(" + "|".join(_SEPA_TAGS) + r")\+|(MTLG):")
_SLASH_KEYS = (
    "EREF",
    "MARF",
    "CSID",
    "BENM",
    "ORDP",
    "CNTP",
    "NAME",
    "ADDR",
    "ID",
    "REMI",
    "ISDT",
    "RTRN",
    "PREF",
    "TRCD",
    "BUSP",
    "PURP",
    "ATTK",
    "IREF",
    "CDTRREFTP",
    "CDTRREF",
    "CD",
    "TP",
    "ISSR",
    "ULTC",
    "ULTD",
    "ULTB",
    "OCMT",
    "CHGS",
    "EXCH",
    "SVCL",
    "IBAN",
    "BIC",
)
_SLASH_RE = re.compile(r"/(" + "|".join(_SLASH_KEYS) + r")/")
_POLISH_LABELS = {
    "Z RACH.": "from_account",
    "NA RACH.": "to_account",
    "OD": "from_name",
    "DO": "to_name",
    "TYT.": "title",
}


@dataclass
class _Info:
    remittance: str = ""
    name: str = ""
    account: str = ""
    end_to_end: str = ""
    structured: str = ""
    return_reason: str = ""
    is_return: bool = False


def _join_free_text(lines: list[str]) -> str:
    """Free-text lines: a space between lines, none after a full line cut mid-word."""
    out = ""
    prev = ""
    for i, line in enumerate(lines):
        if i == 0:
            out = line
        elif len(prev) >= _FULL_LINE and not prev[-1:].isspace() and not line[:1].isspace():
            out += line
        else:
            out = out.rstrip() + " " + line.strip()
        prev = line
    return out


def _read_info(infos: list[_Field], f61: _Field) -> _Info:
    info = _Info()
    if not infos:
        return info
    texts: list[str] = []
    for f in infos:
        if f.tag == "NS":
            texts.append(collapse_spaces(" ".join(line.strip() for line in f.lines)))
            continue
        raw = "".join(f.lines)
        if re.match(r"^\s*\d{3}\s*\?\d\d", raw) or re.match(r"^\s*\?\d\d", raw):
            _read_german(raw, info)
            texts.append(info.remittance)
        elif _SLASH_RE.match(raw.strip()):
            _read_slash(raw.strip(), info)
            texts.append(info.remittance)
        else:
            text = _join_free_text(f.lines)
            if re.search(r";\s*(Z RACH\.|NA RACH\.|OD|DO|TYT\.)\s*:", text):
                _read_polish("\n".join(f.lines), info)
                texts.append(info.remittance)
            else:
                texts.append(_read_free(f.lines, text, info))
    info.remittance = collapse_spaces(" ".join(t for t in texts if t))
    return info


def _read_german(raw: str, info: _Info) -> None:
    """``GVC?00booking text?10…?20remittance…?32name?33…?31account`` (DFÜ/DK layout)."""
    match = re.match(r"^\s*(\d{3})?\s*", raw)
    body = raw[match.end() :] if match else raw
    parts = re.split(r"\?(\d\d)", body)
    sub: dict[int, list[str]] = {}
    for i in range(1, len(parts) - 1, 2):
        sub.setdefault(int(parts[i]), []).append(parts[i + 1])
    booking_text = "".join(sub.get(0, [])).strip()
    pieces: list[str] = []
    for code in list(range(20, 30)) + list(range(60, 64)):
        for piece in sub.get(code, []):
            # a SEPA tag starting a sub-field starts a new item: keep them apart
            if pieces and _SEPA_TAG_RE.match(piece.lstrip()):
                pieces.append(" ")
            pieces.append(piece)
    remittance = collapse_spaces("".join(pieces))
    tags = _split_sepa_tags(remittance)
    eref = tags.get("EREF", "")
    if eref and eref.upper() not in ("NONREF", "NOTPROVIDED"):
        info.end_to_end = eref
    info.remittance = remittance
    name = collapse_spaces("".join(sub.get(32, []) + sub.get(33, [])))
    info.name = name
    account = "".join(sub.get(38, [])) or "".join(sub.get(31, []))
    info.account = re.sub(r"\s", "", account)
    upper = booking_text.upper()
    if "RETOURE" in upper or "STORNO" in upper or "RUECKUEBERW" in upper:
        info.is_return = True
        info.return_reason = "".join(sub.get(34, [])).strip()


def _split_sepa_tags(text: str) -> dict[str, str]:
    tags: dict[str, str] = {}
    matches = list(_SEPA_TAG_RE.finditer(text))
    for i, m in enumerate(matches):
        key = m.group(1) or m.group(2)
        end = matches[i + 1].start() if i + 1 < len(matches) else len(text)
        tags.setdefault(key, text[m.end() : end].strip())
    return tags


def _read_slash(raw: str, info: _Info) -> None:
    """``/EREF/…/BENM//NAME/…/REMI/…`` (Rabobank, ING new, SEPA-style MT940)."""
    matches = list(_SLASH_RE.finditer(raw))
    values: list[tuple[str, str]] = []
    for i, m in enumerate(matches):
        end = matches[i + 1].start() if i + 1 < len(matches) else len(raw)
        values.append((m.group(1), raw[m.end() : end].strip().rstrip("/")))
    first: dict[str, str] = {}
    for key, value in values:
        first.setdefault(key, value)
    eref = first.get("EREF", "")
    if eref and eref.upper() not in ("NONREF", "NOTPROVIDED"):
        info.end_to_end = eref
    info.remittance = collapse_spaces(first.get("REMI", ""))
    info.name = collapse_spaces(first.get("NAME", ""))
    if "CNTP" in first:
        parts = first["CNTP"].split("/")
        info.account = parts[0].strip()
        if not info.name and len(parts) > 2:
            info.name = parts[2].strip()
    if not info.account and first.get("IBAN"):
        info.account = first["IBAN"].strip()
    if first.get("CDTRREF"):
        info.structured = first["CDTRREF"].replace(" ", "")
    if "RTRN" in first:
        info.is_return = True
        info.return_reason = first["RTRN"].strip()


def _read_polish(text: str, info: _Info) -> None:
    """``…; Z RACH.: account; OD: NAME\\nADDRESS; TYT.: title; …`` (mBank)."""
    fields: dict[str, str] = {}
    for segment in text.split(";"):
        label, sep, value = segment.partition(":")
        key = _POLISH_LABELS.get(collapse_spaces(label).upper())
        if sep and key:
            fields.setdefault(key, value)
    title = collapse_spaces(fields.get("title", ""))
    info.remittance = title or collapse_spaces(text)
    for name_key, account_key in (("from_name", "from_account"), ("to_name", "to_account")):
        if name_key in fields or account_key in fields:
            raw_name = fields.get(name_key, "").strip()
            info.name = collapse_spaces(raw_name.split("\n")[0])
            info.account = re.sub(r"\s", "", fields.get(account_key, ""))
            break


def _read_free(lines: list[str], text: str, info: _Info) -> str:
    """Free text; a first line ``<IBAN> <name>`` (ASN Bank) names the counterparty."""
    first = lines[0].strip()
    parts = first.split(None, 1)
    if parts and looks_like_iban(parts[0]):
        info.account = parts[0]
        if len(parts) > 1:
            info.name = collapse_spaces(parts[1])
    text = collapse_spaces(text)
    if re.match(r"^999\s*", text):  # GVC 999: unstructured text follows
        text = text[3:].strip()
    return text
