"""BAI2 (Cash Management Balance Reporting Specification v2) reader.

``parse(data, source_file)`` returns one :class:`Transaction` per ``16`` (transaction detail)
record and one :class:`Statement` per ``03`` account section.

Our own record reader, not the ``bai2`` library's parser: that parser stops on real files
(several logical records on one physical line in moov ``sample3``; an ``03`` summary
continued by ``88`` records in ``sample2``; record counts in ``49`` that do not match). We
do use the library's type-code table (``bai2.constants.TypeCodes``) for the direction of
money and the description of each code; the tests use the library's parser as an
independent cross-check on the files it reads.

Reading rules:

* Logical records start with a record code (``01 02 03 16 49 88 98 99``) and a comma at the
  start of a physical line or after ``/`` plus spaces on the same line (``…PPD/ 16,142,…``);
  a physical line that does not start with a record code continues the previous record
  when that record was not closed by ``/`` (a record split across lines). Anything else is
  a rejected row ("expected a BAI2 record"). ``88:`` (colon) is read as ``88,``.
* ``88`` after a ``16`` continues its text (each ``88`` is one text segment); after any other
  record it continues that record's fields (``03`` summaries split across ``88``).
* The ``16`` text field is everything after the customer reference up to the end of the
  record: commas and ``/`` inside it are text; one closing ``/`` is removed. Funds types
  ``V`` (value date, time), ``S`` (3 amounts) and ``D`` (count + pairs) are skipped over.
* A missing ``/`` on ``99``, a blank ``49`` control total, trailing spaces and a missing
  final newline are accepted. Control totals and record counts are not checked.

Record rules:

* amount = the ``16`` amount in minor units of the currency (implied decimals: 2, or 0 for
  JPY and the like, 3 for BHD/KWD/…), signed by the type code: credit codes (100–399) +,
  debit codes (400–699) −. Codes without a direction (``890`` non-monetary, unknown custom
  codes) are rejected rows.
* currency: the ``03`` account currency, else the ``02`` group currency, else USD (the
  BAI2 default). Unknown codes reject the account's rows.
* booking_date = the group's as-of date; value_date = the funds-type ``V`` date if given.
* bank_reference = the ``16`` bank reference, else the customer reference.
* ``88`` ``KEY: value`` segments: ``DBNM``/``CRNM`` (debtor/creditor name), ``DACT``/
  ``CACT`` (accounts), Citi's ``BO:`` account and ``BO1:`` name, ``EREF`` (end_to_end_id),
  ``REMI``/``PY:`` (remittance). The counterparty is the debtor for money in and the
  creditor for money out (falling back to ``From:``/``To:`` in the ``16`` text).
  remittance_info = the ``16`` text and every ``88`` segment joined.
* is_reversal: return/reversal/reject type codes (e.g. 257, 261, 266, 555, 557), a text
  starting with ``RETURNED``/``RTN``, or ``Reason: "R02"``; return_reason = that reason.
* transaction_id: ``make_transaction_id(account, bank_reference, n)`` with ``n`` counting
  earlier ``16`` records of the account with the same bank reference in the file;
  without a bank reference ``make_transaction_id(account, "bai2", originator, as-of date,
  position of the 16 in the account section)``.
* statement_id = ``sender:creation date:file id`` (01 record); sequence_number =
  ``group/account`` position in the file. Balance check: ``010`` opening ledger + every
  readable ``16`` amount = ``015`` closing ledger; without both → not_checkable.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from bai2.constants import TypeCodes, TypeCodeTransaction

from pipelines.ingest.bank.common import (
    MINOR_UNITS,
    FieldError,
    collapse_spaces,
    decode_guess,
    find_structured_reference,
    found,
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

__all__ = ["MINOR_UNITS", "parse"]

FORMAT = "bai2"

_RECORD_CODES = ("01", "02", "03", "16", "49", "88", "98", "99")
_RECORD_START_RE = re.compile(r"^(01|02|03|16|49|88|98|99)[,]|^(88):")
_INLINE_SPLIT_RE = re.compile(r"/\s+(?=(?:01|02|03|16|49|88|98|99),)")

_TYPE_CODES = dict(TypeCodes)  # code → TypeCode(code, transaction, level, description)
_RETURN_WORDS = re.compile(r"return|revers|reject", re.IGNORECASE)
_TEXT_RETURN_RE = re.compile(r"^\s*(RETURNED\b|RTN\b|RETURN\b)", re.IGNORECASE)
_REASON_RE = re.compile(r'\bReason:\s*"([^"]+)"')
_KEY_RE = re.compile(r"^([A-Z][A-Z0-9]{1,5}):\s?(.*)$", re.DOTALL)
_SUBKEY_RE = re.compile(r"\s((?:BO|OB|BI)\d):")


@dataclass
class _Record:
    code: str
    line: int
    text: str  # the record without its code and first comma
    closed: bool  # ended with '/'
    segments: list[str] = field(default_factory=list)  # 88 text continuations (16 only)
    extra_fields: list[str] = field(default_factory=list)  # 88 field continuations


def parse(data: bytes, source_file: str) -> ParseResult:
    """Read a BAI2 file (bytes) into transactions and per-account statements."""
    text, _ = decode_guess(data)
    records, stray = _logical_records(text)
    if not records or records[0].code != "01":
        first = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
        raise UnreadableFile(
            source_file,
            "line 1",
            "a BAI2 file header record '01,…'",
            found(first) if first else "an empty file",
        )
    return _Reader(source_file, records, stray).read()


def _logical_records(text: str) -> tuple[list[_Record], list[tuple[int, str]]]:
    """Physical lines → logical records (with 88 continuations folded in)."""
    raw: list[_Record] = []
    stray: list[tuple[int, str]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.rstrip("\r\n")
        if not line.strip():
            continue
        match = _RECORD_START_RE.match(line.lstrip())
        if not match:
            if raw and not raw[-1].closed:
                raw[-1].text += line
                raw[-1].closed = line.rstrip().endswith("/")
            else:
                stray.append((number, line.strip()))
            continue
        for piece in _INLINE_SPLIT_RE.split(line.strip()):
            code = piece[:2]
            body = piece[3:]
            raw.append(_Record(code=code, line=number, text=body, closed=_closed(body)))
    # fold 88 continuations into the record they continue
    records: list[_Record] = []
    for rec in raw:
        if rec.code == "88" and records:
            parent = records[-1]
            if parent.code == "16":
                parent.segments.append(_strip_terminator(rec.text))
            else:
                parent.extra_fields.extend(_fields(rec.text))
            continue
        if rec.code == "88":
            stray.append((rec.line, "88," + rec.text))
            continue
        records.append(rec)
    return records, stray


def _closed(body: str) -> bool:
    return body.rstrip().endswith("/")


def _strip_terminator(text: str) -> str:
    text = text.rstrip()
    if text.endswith("/"):
        text = text[:-1]
    return text.strip()


def _fields(text: str) -> list[str]:
    return [f.strip() for f in _strip_terminator(text).split(",")]


@dataclass
class _Detail:
    problem: str = ""
    bank_ref: str = ""
    text16: str = ""
    keyed: dict[str, str] = field(default_factory=dict)


@dataclass
class _Account:
    statement: Statement
    key: tuple[str, str, str]
    originator: str
    as_of: date | None
    currency_problem: str = ""


class _Reader:
    def __init__(self, source_file: str, records: list[_Record], stray: list[tuple[int, str]]):
        self.source_file = source_file
        self.records = records
        self.stray = stray
        self.result = ParseResult(format=FORMAT)
        self.file_id = ""
        self.group_no = 0
        self.account_no = 0
        self.group_currency = ""
        self.group_originator = ""
        self.group_as_of: date | None = None
        self.group_problem = ""
        self.account: _Account | None = None
        self.ref_counts: dict[tuple[str, str], int] = {}
        self.positions: dict[tuple[str, str, str], int] = {}

    def read(self) -> ParseResult:
        for rec in self.records:
            handler = getattr(self, f"_rec_{rec.code}", None)
            if handler is not None:
                handler(rec)
        self._close_account()
        for line, content in self.stray:
            self.result.transactions.append(
                Transaction(
                    source_file=self.source_file,
                    location=f"line {line}",
                    reject_reason=reason(
                        self.source_file,
                        f"line {line}",
                        "a BAI2 record starting with a record code (01, 02, 03, 16, 49, 88, "
                        "98, 99) and a comma",
                        found(content),
                    ),
                )
            )
        return self.result

    # -- header records ------------------------------------------------------------------

    def _rec_01(self, rec: _Record) -> None:
        f = _fields(rec.text) + rec.extra_fields
        sender = f[0] if f else ""
        created = f[2] if len(f) > 2 else ""
        file_id = f[4] if len(f) > 4 else ""
        self.file_id = f"{sender}:{created}:{file_id}"

    def _rec_02(self, rec: _Record) -> None:
        self._close_account()
        f = _fields(rec.text) + rec.extra_fields
        self.group_no += 1
        self.account_no = 0
        self.group_originator = f[1] if len(f) > 1 else ""
        self.group_problem = ""
        raw_date = f[3] if len(f) > 3 else ""
        try:
            self.group_as_of = _yymmdd(raw_date)
        except ValueError:
            self.group_as_of = None
            self.group_problem = reason(
                self.source_file,
                f"line {rec.line}",
                "an as-of date YYMMDD in the 02 record",
                found(raw_date),
            )
        self.group_currency = f[5] if len(f) > 5 else ""

    def _rec_03(self, rec: _Record) -> None:
        self._close_account()
        f = _fields(rec.text) + rec.extra_fields
        self.account_no += 1
        number = f[0] if f else ""
        raw_ccy = (f[1] if len(f) > 1 else "") or self.group_currency or "USD"
        statement = Statement(
            statement_id=self.file_id,
            account=number,
            sequence_number=f"{self.group_no}/{self.account_no}",
            from_date=self.group_as_of,
            to_date=self.group_as_of,
            source_file=self.source_file,
        )
        problem = ""
        try:
            statement.currency = parse_currency(raw_ccy)
        except FieldError as err:
            statement.currency = raw_ccy
            problem = err.reason_for(self.source_file, f"line {rec.line}")
        summaries = _summaries(f[2:])
        decimals = MINOR_UNITS.get(statement.currency, 2)
        for code, target in (("010", "opening_balance"), ("015", "closing_balance")):
            amount = summaries.get(code)
            if amount is not None:
                setattr(statement, target, _scaled(amount, decimals))
        key = (self.group_originator, str(self.group_as_of or ""), number)
        self.account = _Account(
            statement=statement,
            key=key,
            originator=self.group_originator,
            as_of=self.group_as_of,
            currency_problem=problem,
        )

    def _rec_49(self, rec: _Record) -> None:
        self._close_account()

    def _rec_98(self, rec: _Record) -> None:
        self._close_account()

    def _rec_99(self, rec: _Record) -> None:
        self._close_account()

    def _close_account(self) -> None:
        if self.account is None:
            return
        self.account.statement.check_balance()
        self.result.statements.append(self.account.statement)
        self.account = None

    # -- transaction detail -----------------------------------------------------------------

    def _rec_16(self, rec: _Record) -> None:
        where = f"line {rec.line}"
        tx = Transaction(source_file=self.source_file, location=where)
        self.result.transactions.append(tx)
        acct = self.account
        if acct is None:
            tx.reject_reason = reason(
                self.source_file,
                where,
                "a 16 record inside an account section (after an 03 record)",
                found("16," + rec.text),
            )
            return
        st = acct.statement
        tx.account = st.account
        tx.statement_id = st.statement_id
        tx.sequence_number = st.sequence_number
        tx.currency = st.currency
        tx.booking_date = acct.as_of
        position = self.positions.get(acct.key, 0) + 1
        self.positions[acct.key] = position
        st.entry_count += 1

        detail = self._read_detail(rec, tx, st.currency)
        if tx.amount is not None:
            st.entries_total += tx.amount
        _fill_counterparty(tx, detail)
        tx.reject_reason = detail.problem or acct.currency_problem or self.group_problem

        bank_ref = detail.bank_ref
        if bank_ref:
            key = (st.account, bank_ref)
            occurrence = self.ref_counts.get(key, 0)
            self.ref_counts[key] = occurrence + 1
            tx.transaction_id = make_transaction_id(st.account, bank_ref, occurrence)
        else:
            tx.transaction_id = make_transaction_id(
                st.account, "bai2", acct.originator, str(acct.as_of or ""), position
            )

    def _read_detail(self, rec: _Record, tx: Transaction, currency: str) -> _Detail:
        """Fill ``tx`` from a 16 record; the returned detail carries any reject reason."""
        detail = _Detail()
        detail.problem = self._read_fields(rec, tx, currency, detail)
        return detail

    def _read_fields(self, rec: _Record, tx: Transaction, currency: str, detail: _Detail) -> str:
        where = f"line {rec.line}"
        parts = rec.text.split(",")
        problem = ""

        def take(i: int) -> str:
            return parts[i].strip() if i < len(parts) else ""

        type_code = take(0)
        raw_amount = take(1)
        funds = take(2).upper()
        idx = 3
        if funds == "V":
            value_raw = take(3)
            if value_raw and not value_raw.endswith("/"):
                try:
                    tx.value_date = _yymmdd(value_raw)
                except ValueError:
                    problem = reason(
                        self.source_file, where, "a value date YYMMDD", found(value_raw)
                    )
            idx = 5
        elif funds == "S":
            idx = 6
        elif funds == "D":
            count_raw = take(3)
            try:
                count = int(count_raw)
            except ValueError:
                count = 0
                problem = reason(
                    self.source_file,
                    where,
                    "a number of availability entries after funds type D",
                    found(count_raw),
                )
            idx = 4 + 2 * count
        # bank reference, customer reference, then text up to the end of the record; a
        # field ending in '/' closes the record.
        values: list[str] = []
        closed = False
        for _ in range(2):
            if idx < len(parts) and not closed:
                value = parts[idx]
                if value.rstrip().endswith("/"):
                    closed = True
                    value = value.rstrip()[:-1]
                values.append(value.strip())
                idx += 1
            else:
                values.append("")
        bank_ref, customer_ref = values
        text16 = "" if closed else _strip_terminator(",".join(parts[idx:]))
        tx.bank_reference = bank_ref or customer_ref
        detail.bank_ref = bank_ref
        detail.text16 = text16

        segments = [s for s in rec.segments if s]
        self._read_text(tx, text16, segments, detail)

        # type code and amount
        tc = _TYPE_CODES.get(type_code)
        direction = tc.transaction if tc else _direction_from_range(type_code)
        description = tc.description if tc else ""
        if _RETURN_WORDS.search(description) and direction is not None:
            tx.is_reversal = True
        if not re.fullmatch(r"\d{3}", type_code):
            return problem or reason(
                self.source_file,
                where,
                "a 3-digit BAI2 type code in the 16 record",
                found(type_code),
            )
        try:
            cents = _integer(raw_amount)
        except ValueError:
            return problem or reason(
                self.source_file,
                where,
                "an amount in minor units (digits only, e.g. 000000000002500)",
                found(raw_amount),
            )
        amount = _scaled(cents, MINOR_UNITS.get(currency, 2))
        if direction == TypeCodeTransaction.credit:
            tx.amount = amount
        elif direction == TypeCodeTransaction.debit:
            tx.amount = -amount
        else:
            tx.amount = None
            label = f" ({description})" if description else ""
            return problem or reason(
                self.source_file,
                where,
                "a credit (100-399) or debit (400-699) type code",
                f"{type_code!r}{label}",
            )
        return problem

    def _read_text(
        self, tx: Transaction, text16: str, segments: list[str], detail: _Detail
    ) -> None:
        keyed = detail.keyed
        for seg in segments:
            for key, value in _split_keyed(seg):
                keyed.setdefault(key, value)
        if _TEXT_RETURN_RE.match(text16):
            tx.is_reversal = True
        match = _REASON_RE.search(text16)
        if match:
            tx.return_reason = match.group(1).strip()
            if re.fullmatch(r"R\d\d", tx.return_reason):
                tx.is_reversal = True
        eref = keyed.get("EREF", "")
        tx.end_to_end_id = eref
        tx.remittance_info = collapse_spaces(" ".join([text16, *segments]))
        tx.structured_reference = find_structured_reference(tx.remittance_info)


def _split_keyed(segment: str) -> list[tuple[str, str]]:
    """``'BO:11111111 BO1:DOE JO'`` → [('BO', '11111111'), ('BO1', 'DOE JO')]."""
    match = _KEY_RE.match(segment.strip())
    if not match:
        return []
    key, rest = match.group(1), match.group(2)
    pieces = _SUBKEY_RE.split(" " + rest)
    out = [(key, pieces[0].strip())]
    for i in range(1, len(pieces) - 1, 2):
        out.append((pieces[i], pieces[i + 1].strip()))
    return out


def _direction_from_range(code: str) -> TypeCodeTransaction | None:
    if not re.fullmatch(r"[0-9]{3}", code):
        return None
    n = int(code)
    if 100 <= n <= 399:
        return TypeCodeTransaction.credit
    if 400 <= n <= 699:
        return TypeCodeTransaction.debit
    return None


def _fill_counterparty(tx: Transaction, detail: _Detail) -> None:
    keyed = detail.keyed
    text16 = detail.text16
    money_in = tx.amount is not None and tx.amount > 0
    if money_in:
        name = keyed.get("DBNM") or keyed.get("BO1") or _from_text(text16, "From")
        account = keyed.get("DACT") or (keyed.get("BO", "").split() or [""])[0]
    else:
        name = keyed.get("CRNM") or _from_text(text16, "To")
        account = keyed.get("CACT", "")
    tx.counterparty_name = collapse_spaces(name)
    tx.counterparty_account = account.strip()


def _from_text(text: str, label: str) -> str:
    match = re.search(rf"(?:^|,\s*)(?:Return )?{label}:\s*([^,]+)", text)
    return match.group(1).strip() if match else ""


def _summaries(fields: list[str]) -> dict[str, int]:
    """``03`` summary fields (type, amount, count, funds type[, funds details]) → amounts."""
    out: dict[str, int] = {}
    i = 0
    while i < len(fields):
        code = fields[i]
        if not code:
            i += 1
            continue
        if not re.fullmatch(r"[0-9]+", code):
            break
        amount = fields[i + 1] if i + 1 < len(fields) else ""
        funds = (fields[i + 3] if i + 3 < len(fields) else "").upper()
        i += 4
        if funds == "V":
            i += 2
        elif funds == "S":
            i += 3
        elif funds == "D":
            try:
                i += 1 + 2 * int(fields[i])
            except (IndexError, ValueError):
                break
        try:
            out.setdefault(code, _integer(amount))
        except ValueError:
            continue
    return out


def _integer(text: str) -> int:
    text = text.strip()
    if not re.fullmatch(r"[+-]?\d+", text):
        raise ValueError(text)
    return int(text)


def _scaled(minor: int, decimals: int) -> Decimal:
    return Decimal(minor).scaleb(-decimals)


def _yymmdd(text: str) -> date:
    text = text.strip()
    if not re.fullmatch(r"\d{6}", text):
        raise ValueError(text)
    year = int(text[:2])
    year += 2000 if year < 70 else 1900
    return date(year, int(text[2:4]), int(text[4:6]))
