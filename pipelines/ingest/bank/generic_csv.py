"""The generic bank CSV layout (CONTRACT §1): one signed amount per row, header required.

Columns (order-insensitive, case-insensitive, extra columns tolerated)::

    account, booking_date, value_date, amount, currency,
    counterparty_name, counterparty_account, reference, remittance_info

Optional extra columns that are used when present: ``end_to_end_id``,
``structured_reference``. UTF-8 (a BOM is tolerated), comma-separated (``;`` and TAB are
accepted when the header uses them), ``.`` decimal point, ISO dates, amount signed
(+ money in, − money out).

Row problems (missing account / date / amount / currency, impossible date, malformed or zero
amount, unknown currency) reject that row with ``"<file>, line N, column <c>: expected …,
found …"``; the other rows load.

transaction_id: with a ``reference`` (the bank's own), ``make_transaction_id(account,
reference, k)`` where k counts earlier rows of the file with the same account and reference;
without one, ``make_transaction_id(account, "csv", booking_date, n)`` where n counts earlier
rows of that account with that booking date. So a re-sent or extended file keeps its ids, and
two identical-looking genuine rows are both kept. Rejected rows count too, so correcting one
row does not shift the ids of the others.

One statement per account; the layout carries no balances, so ``not_checkable``.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from decimal import Decimal

from pipelines.ingest.bank.common import (
    FieldError,
    decode_text,
    found,
    parse_amount,
    parse_currency,
    parse_date,
)
from pipelines.ingest.bank.records import (
    ParseResult,
    Statement,
    Transaction,
    UnreadableFile,
    make_transaction_id,
)

__all__ = ["FORMAT", "GENERIC_COLUMNS", "generic_header_delimiter", "parse"]

FORMAT = "generic_csv"

GENERIC_COLUMNS: tuple[str, ...] = (
    "account",
    "booking_date",
    "value_date",
    "amount",
    "currency",
    "counterparty_name",
    "counterparty_account",
    "reference",
    "remittance_info",
)
OPTIONAL_COLUMNS: tuple[str, ...] = ("end_to_end_id", "structured_reference")

_DELIMITERS = (",", ";", "\t")
_MAX_HEADER = 64 * 1024
_DATE = "a date YYYY-MM-DD"


def _normalise(name: str) -> str:
    return name.strip().strip('"').strip().lstrip("\ufeff").strip().lower()


def generic_header_delimiter(line: str) -> str | None:
    """The delimiter when ``line`` is a generic-layout header (all nine columns), else None."""
    line = line.lstrip("\ufeff")
    if len(line) > _MAX_HEADER:
        return None
    for delimiter in _DELIMITERS:
        if delimiter not in line:
            continue
        names = {_normalise(n) for n in next(csv.reader([line], delimiter=delimiter), [])}
        if set(GENERIC_COLUMNS) <= names:
            return delimiter
    return None


def _first_line(text: str) -> tuple[int, str]:
    """Index and text of the first non-blank line."""
    start = 0
    index = 0
    while True:
        end = text.find("\n", start)
        line = text[start:] if end < 0 else text[start:end]
        if line.strip() or end < 0:
            return index, line.rstrip("\r")
        start = end + 1
        index += 1


def parse(data: bytes, source_file: str) -> ParseResult:
    """Read a generic-layout CSV (see the module docstring)."""
    text = decode_text(data, source_file, "utf-8")
    if not text.strip():
        raise UnreadableFile(
            source_file, "line 1", "a header " + ", ".join(GENERIC_COLUMNS), "an empty file"
        )
    header_index, header_line = _first_line(text)
    expected = "the generic CSV header with columns " + ", ".join(GENERIC_COLUMNS)
    if len(header_line) > _MAX_HEADER:
        raise UnreadableFile(
            source_file,
            f"line {header_index + 1} (header)",
            expected,
            f"a line of {len(header_line):,} characters starting {found(header_line[:40])}",
        )
    delimiter = generic_header_delimiter(header_line)
    if delimiter is None:
        delimiter = max(_DELIMITERS, key=header_line.count)
        names = [_normalise(n) for n in next(csv.reader([header_line], delimiter=delimiter))]
        missing = [c for c in GENERIC_COLUMNS if c not in names]
        raise UnreadableFile(
            source_file,
            f"line {header_index + 1} (header)",
            expected,
            f"a header without {', '.join(missing)} (columns found: {', '.join(names)[:300]})",
        )

    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    result = ParseResult(format=FORMAT)
    header: list[str] | None = None
    index: dict[str, int] = {}
    ref_seen: Counter[tuple[str, str]] = Counter()
    day_seen: Counter[tuple[str, str]] = Counter()
    line_end = 0
    try:
        for row in reader:
            line_start, line_end = line_end + 1, reader.line_num
            if not any(cell.strip() for cell in row):
                continue
            if header is None:
                header = [_normalise(n) for n in row]
                duplicates = sorted({n for n in header if n and header.count(n) > 1})
                if duplicates:
                    raise UnreadableFile(
                        source_file,
                        f"line {line_start} (header)",
                        "each column named once",
                        f"{', '.join(duplicates)} more than once",
                    )
                index = {name: i for i, name in enumerate(header)}
                continue
            tx, booking_key = _row(row, header, index, source_file, line_start)
            _assign_id(tx, booking_key, ref_seen, day_seen)
            result.transactions.append(tx)
    except csv.Error as err:
        raise UnreadableFile(
            source_file, f"line {reader.line_num}", "well-formed CSV", str(err)
        ) from None

    result.statements = _statements(result.transactions, source_file)
    return result


def _row(
    row: list[str], header: list[str], index: dict[str, int], source_file: str, line: int
) -> tuple[Transaction, str]:
    """One row as a Transaction (rejected with every problem found) and its booking-date key."""

    def cell(name: str) -> str:
        i = index.get(name)
        return row[i].strip() if i is not None and i < len(row) else ""

    where = f"line {line}"
    problems: list[str] = []

    def bad(column: str, err: FieldError) -> None:
        problems.append(err.reason_for(source_file, f"{where}, column {column}"))

    tx = Transaction(
        bank_reference=cell("reference"),
        account=cell("account"),
        counterparty_name=cell("counterparty_name"),
        counterparty_account=cell("counterparty_account"),
        remittance_info=cell("remittance_info"),
        structured_reference=cell("structured_reference"),
        end_to_end_id=cell("end_to_end_id"),
        source_file=source_file,
        location=where,
    )
    extra = [v for v in row[len(header) :] if v.strip()]
    if extra:
        problems.append(
            f"{source_file}, {where}: expected {len(header)} fields as in the header, "
            f"found {len(row)} ({found(extra[0])} beyond the last column)"
        )
    if not tx.account:
        bad("account", FieldError("an account (IBAN or number)", "nothing"))
    try:
        tx.booking_date = parse_date(cell("booking_date"), expected=_DATE)
    except FieldError as err:
        bad("booking_date", err)
    if cell("value_date"):
        try:
            tx.value_date = parse_date(cell("value_date"), expected=_DATE)
        except FieldError as err:
            bad("value_date", err)
    try:
        tx.amount = parse_amount(cell("amount"), allow_zero=False)
    except FieldError as err:
        bad("amount", err)
    try:
        tx.currency = parse_currency(cell("currency"))
    except FieldError as err:
        tx.currency = cell("currency")
        bad("currency", err)
    tx.reject_reason = "; ".join(problems)
    return tx, tx.booking_date.isoformat() if tx.booking_date else cell("booking_date")


def _assign_id(
    tx: Transaction,
    booking_key: str,
    ref_seen: Counter[tuple[str, str]],
    day_seen: Counter[tuple[str, str]],
) -> None:
    if tx.bank_reference:
        key = (tx.account, tx.bank_reference)
        tx.transaction_id = make_transaction_id(tx.account, tx.bank_reference, ref_seen[key])
        ref_seen[key] += 1
    else:
        key = (tx.account, booking_key)
        tx.transaction_id = make_transaction_id(tx.account, "csv", booking_key, day_seen[key])
        day_seen[key] += 1


def _statements(transactions: list[Transaction], source_file: str) -> list[Statement]:
    by_account: dict[str, list[Transaction]] = {}
    for tx in transactions:
        if tx.account:
            by_account.setdefault(tx.account, []).append(tx)
    statements = []
    for account, rows in by_account.items():
        loaded = [t for t in rows if not t.reject_reason]
        currencies = {t.currency for t in loaded}
        dates = [t.booking_date for t in rows if t.booking_date]
        statement = Statement(
            account=account,
            currency=currencies.pop() if len(currencies) == 1 else "",
            from_date=min(dates) if dates else None,
            to_date=max(dates) if dates else None,
            entries_total=sum((t.amount for t in loaded if t.amount is not None), Decimal("0")),
            entry_count=len(rows),
            source_file=source_file,
        )
        statement.check_balance()
        statements.append(statement)
    return statements
