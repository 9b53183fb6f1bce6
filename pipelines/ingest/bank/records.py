"""The one record every bank format is normalised to (CONTRACT §1, "Bank statements").

Every reader in this package returns a :class:`ParseResult`: one :class:`Transaction` per
booked transaction (one per transaction detail where a batch entry lists its details), each
either loaded (``reject_reason`` empty) or rejected with a reason a person can act on, plus
one :class:`Statement` per statement in the file with its balance check.

A file that cannot be read as a whole raises :class:`UnreadableFile`; the ingest step puts
it in quarantine with that reason.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, fields
from datetime import date
from decimal import Decimal

# The contract's field order: `arw bank parse` prints exactly these columns in this order.
TRANSACTION_FIELDS: tuple[str, ...] = (
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
)

BALANCE_OK = "ok"
BALANCE_MISMATCH = "mismatch"
BALANCE_NOT_CHECKABLE = "not_checkable"


class UnreadableFile(Exception):
    """The file cannot be read as a whole: it goes to quarantine with this reason.

    ``where`` names the line or element, ``expected`` and ``found`` say what was wrong, so the
    message is something a finance person can act on.
    """

    def __init__(self, source_file: str, where: str, expected: str, found: str):
        self.source_file = source_file
        self.where = where
        self.expected = expected
        self.found = found
        super().__init__(self.reason)

    @property
    def reason(self) -> str:
        return f"{self.source_file}, {self.where}: expected {self.expected}, found {self.found}"


@dataclass
class Transaction:
    """One normalised bank transaction. Amounts are signed: + money in, − money out."""

    transaction_id: str = ""
    bank_reference: str = ""
    account: str = ""
    statement_id: str = ""
    sequence_number: str = ""
    booking_date: date | None = None
    value_date: date | None = None
    amount: Decimal | None = None
    currency: str = ""
    counterparty_name: str = ""
    counterparty_account: str = ""
    remittance_info: str = ""
    structured_reference: str = ""
    end_to_end_id: str = ""
    is_reversal: bool = False
    reversal_of: str = ""
    return_reason: str = ""
    source_file: str = ""
    reject_reason: str = ""
    # Where in the file this came from (line number or XML path), for error messages.
    location: str = ""

    @property
    def effective_date(self) -> date | None:
        return self.value_date or self.booking_date

    def as_row(self) -> dict:
        """The record as a dict in contract field order (plus ``location``)."""
        row = {name: getattr(self, name) for name in TRANSACTION_FIELDS}
        row["location"] = self.location
        return row


@dataclass
class Statement:
    """One statement (or notification / report) inside a file, with its balance check."""

    statement_id: str = ""
    account: str = ""
    currency: str = ""
    sequence_number: str = ""
    from_date: date | None = None
    to_date: date | None = None
    opening_balance: Decimal | None = None
    closing_balance: Decimal | None = None
    entries_total: Decimal = Decimal("0")
    entry_count: int = 0
    source_file: str = ""
    # ok | mismatch | not_checkable — see balance_status()
    balance_status: str = BALANCE_NOT_CHECKABLE
    balance_difference: Decimal | None = None

    def check_balance(self) -> None:
        """Set balance_status: opening + entries = closing, to the exact decimal."""
        if self.opening_balance is None or self.closing_balance is None:
            self.balance_status = BALANCE_NOT_CHECKABLE
            self.balance_difference = None
            return
        diff = self.opening_balance + self.entries_total - self.closing_balance
        self.balance_difference = diff
        self.balance_status = BALANCE_OK if diff == 0 else BALANCE_MISMATCH


@dataclass
class ParseResult:
    format: str
    transactions: list[Transaction] = field(default_factory=list)
    statements: list[Statement] = field(default_factory=list)

    @property
    def loaded(self) -> list[Transaction]:
        return [t for t in self.transactions if not t.reject_reason]

    @property
    def rejected(self) -> list[Transaction]:
        return [t for t in self.transactions if t.reject_reason]


def make_transaction_id(*parts: object) -> str:
    """A stable id from the parts the contract names (CONTRACT §1, transaction_id).

    Use the bank's own unique reference with the account and the detail position where the
    format gives one; otherwise the account, the statement identity and the position. Never
    amounts, dates or text alone. The same parts always give the same id.
    """
    text = "\x1f".join("" if p is None else str(p).strip() for p in parts)
    return "T" + hashlib.sha1(text.encode("utf-8")).hexdigest()[:24]


STATEMENT_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(Statement))
