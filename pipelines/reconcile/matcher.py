"""Cash application: which invoices does each incoming payment pay?

The evidence is gathered set-based (``evidence.py``); this module walks the transactions in
(effective_date, transaction_id) order, each against the invoices issued on or before its
date and open at that moment (CONTRACT §3), and decides. Payer accounts are learned only
from earlier matches, so the result never depends on how the files were split across nights.

Decisions, strongest evidence first (each rule named and versioned, see ``RULES``):

1. A person's decision (``manual/decisions*.csv``) always wins.
2. Quoted invoices (structured reference, end-to-end id, invoice numbers in the text):
   applied when they agree with the payer; a known payer quoting another customer's invoice,
   references to several customers from an unknown payer, or a quoted number that may be a
   typo for another open invoice of exactly the amount go to a person. A quoted invoice from
   an unknown payer (a third party paying) is applied.
3. No usable reference, payer known: one open invoice of exactly the amount (or within the
   fee tolerance), else a unique smallest combination of open invoices; several fits go to
   a person; nothing fits → on the payer's account. A number with a one-character typo that
   is close to exactly one open invoice of the payer, whose amount agrees, is applied.
4. Unknown payer, nothing quoted → a person.

Short payments within the fee tolerance settle the invoice with a ``bank_fee`` adjustment;
other short payments of several invoices pay the oldest due first (or go to a person, by
policy); overpayments leave the rest on account; a returned payment reverses its
allocations at the return's date and the invoices re-open. Only same-currency matches.
"""

from __future__ import annotations

import bisect
import re
import unicodedata
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

import duckdb
import numpy as np
import orjson

from pipelines.reconcile.combine import subsets_summing_to
from pipelines.reconcile.evidence import build_evidence, normalise_account_sql
from pipelines.reconcile.ledger import Allocation, gc_paused
from pipelines.settings import MatcherSettings

_NON_DIGITS = re.compile(r"[^0-9]")
_DIGIT = re.compile(r"[0-9]")
_NUMBER_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9\-/._]*[A-Za-z0-9]")
_LEADING_LETTERS = re.compile(r"^[A-Z]+")
_ORJSON = orjson.OPT_SORT_KEYS

RULES = {
    "manual": "1",
    "structured_reference": "1",
    "invoice_number": "1",
    "invoice_number_fuzzy": "1",
    "short_payment_oldest_due_first": "1",
    "amount_unique_invoice": "1",
    "amount_combination": "1",
    "payment_returned": "1",
    "bank_fee": "1",
    "manual_write_off": "1",
}

# Outcomes of a receipt
ALLOCATED, ON_ACCOUNT, EXCEPTION, NOT_AR, RETURNED = (
    "allocated", "on_account", "exception", "not_ar", "returned")

LEGAL_FORMS = {"GMBH", "AG", "SE", "AB", "SA", "SAS", "SARL", "SRL", "SPA", "LTD", "LIMITED",
               "PLC", "INC", "LLC", "CORP", "CO", "KG", "OHG", "BV", "NV", "OY", "AS", "APS",
               "SPZOO", "KFT", "UG", "EG", "EV", "GBR", "LLP", "PTY", "THE", "UND", "AND"}


def money(cents: int) -> Decimal:
    """Integer cents as an exact two-decimal amount (the walk computes in cents)."""
    return Decimal(cents).scaleb(-2)


def money_text(cents: int) -> str:
    """``str(money(cents))`` without the Decimal: the evidence's amounts ("-12.05", "0.00")."""
    whole, part = divmod(abs(cents), 100)
    return f"{'-' if cents < 0 else ''}{whole}.{part:02d}"


@dataclass(slots=True)
class Outcome:
    transaction_id: str
    payer_customer_id: str | None
    payer_evidence: str
    outcome: str
    reason_code: str = ""
    candidates: list[str] = field(default_factory=list)


@dataclass(slots=True)
class Invoice:
    invoice_id: str
    number: str
    customer_id: str
    currency: str
    issue_date: date
    due_date: date
    amount: int  # cents
    status: str
    row: int  # position in the book


@dataclass
class MatchResult:
    entries: list[Allocation]
    outcomes: list[Outcome]
    learned_accounts: dict[str, str] = field(default_factory=dict)
    learned_on: dict[str, date] = field(default_factory=dict)
    return_events: list[tuple] = field(default_factory=list)  # see Matcher.return_events


def name_key(name: str | None) -> str:
    """A payer or customer name for fuzzy comparison: letters, digits, no legal forms."""
    text = unicodedata.normalize("NFKD", name or "").encode("ascii", "ignore").decode().upper()
    words = [w for w in re.split(r"[^A-Z0-9]+", text) if w and w not in LEGAL_FORMS]
    return " ".join(words)


_CHAR_SLOT = np.full(128, 36, dtype=np.intp)  # A-Z → 0-25, 0-9 → 26-35, anything else → 36
_CHAR_SLOT[65:91] = np.arange(26)
_CHAR_SLOT[48:58] = np.arange(26, 36)


def _char_counts(keys: list[str]) -> np.ndarray:
    """How often each character occurs in each key (keys are ``name_key``s: A-Z, 0-9, space)."""
    counts = np.zeros((len(keys), 37), dtype=np.int16)
    for i, key in enumerate(keys):
        codes = np.frombuffer(key.encode("ascii", "replace"), dtype=np.uint8) & 127
        counts[i] = np.bincount(_CHAR_SLOT[codes], minlength=37)
    return counts


def number_key(text: str) -> str:
    """Letters and digits, upper case: the ``full`` key of evidence.py."""
    return re.sub(r"[^A-Z0-9]", "", text.upper())


class _Book:
    """Invoices and their open amounts (integer cents) as the walk moves through time.

    Invoices are kept as the rows DuckDB returns, numbered in the order of customer, currency,
    due date, issue date and number (``_book_rows`` holds the same numbers for SQL); an
    ``Invoice`` object is made only when the walk looks at one. What was applied to each
    invoice (allocations and adjustments) is a list by row.
    """

    def __init__(self, con: duckdb.DuckDBPyConnection, as_of: date, resumed: bool = False):
        # Only invoices issued on or before ``as_of``: a later one is never open during the walk
        # (a slice of a long walk would otherwise hold every invoice of the later slices). A
        # resumed walk (see ``Resume``) needs only the invoices ``_book_scope`` names, with what
        # the earlier nights applied to them; their order among themselves is the same.
        scope = f"WHERE issue_date <= DATE '{as_of.isoformat()}'"
        if resumed:
            scope += " AND invoice_id IN (SELECT invoice_id FROM _book_scope)"
        con.execute(f"""
            CREATE OR REPLACE TEMP TABLE _book_rows AS
            SELECT invoice_id, invoice_number, customer_id, currency, issue_date, due_date,
                   CAST(amount * 100 AS BIGINT) AS cents, status,
                   CAST(row_number() OVER (ORDER BY customer_id, currency, due_date, issue_date,
                                                    invoice_number, invoice_id) - 1 AS INTEGER) AS row
            FROM staging.stg_erp__invoices {scope}
        """)
        self._rows = con.execute("SELECT * FROM _book_rows ORDER BY row").fetchall()
        self._index: dict[str, int] | None = None
        self._made: list[Invoice | None] = [None] * len(self._rows)
        self.applied = [0] * len(self._rows)  # allocations and adjustments, cents
        if resumed:
            for row, cents in con.execute("SELECT b.row, s.applied FROM _book_rows b "
                                          "JOIN _book_scope s USING (invoice_id) WHERE s.applied <> 0").fetchall():
                self.applied[row] = cents
        # (customer, currency) → its issued invoices not yet issued as of the walk's date (by
        # issue date, with a read position), and those issued that may still be open (in order)
        self._pending: dict[tuple[str, str], list[tuple[date, int]]] = defaultdict(list)
        self._pending_at: dict[tuple[str, str], int] = defaultdict(int)
        self._open_rows: dict[tuple[str, str], list[int]] = defaultdict(list)
        for i, row in enumerate(self._rows):
            if row[7] == "issued":
                self._pending[(row[2], row[3])].append((row[4], i))
        for pending in self._pending.values():
            pending.sort()
        self.credits: dict[int, list[tuple[date, int]]] = defaultdict(list)
        for row, issue_date, cents in con.execute(
                "SELECT b.row, c.issue_date, CAST(c.amount * 100 AS BIGINT) FROM staging.stg_erp__credit_notes c "
                "JOIN _book_rows b USING (invoice_id)").fetchall():
            self.credits[row].append((issue_date, cents))

    def at(self, i: int) -> Invoice:
        inv = self._made[i]
        if inv is None:
            inv = self._made[i] = Invoice(*self._rows[i])
        return inv

    def get(self, invoice_id: str | None) -> Invoice | None:
        if self._index is None:
            self._index = {row[0]: i for i, row in enumerate(self._rows)}
        i = self._index.get(invoice_id)
        return None if i is None else self.at(i)

    def open_amount(self, inv: Invoice, on: date) -> int:
        if inv.status != "issued" or inv.issue_date > on:
            return 0
        open_amount = inv.amount - self.applied[inv.row]
        if self.credits:
            for day, amount in self.credits.get(inv.row, ()):
                if day <= on:
                    open_amount -= amount
        return open_amount

    def open_invoices(self, customer_id: str, currency: str, on: date) -> list[tuple[Invoice, int]]:
        """The customer's invoices open on ``on``, oldest due first.

        The walk only moves forward in time and open amounts only shrink (until a return
        re-opens an invoice, see ``reopen``), so an invoice found settled is dropped from the
        customer's list: a customer with a long history costs only its open invoices.
        """
        key = (customer_id, currency)
        pending = self._pending.get(key)
        if not pending:
            return []
        rows = self._open_rows[key]
        at = self._pending_at[key]
        while at < len(pending) and pending[at][0] <= on:  # issued since the last look
            bisect.insort(rows, pending[at][1])
            at += 1
        self._pending_at[key] = at
        # open_amount() inlined (the walk's hottest loop): every row here is issued by ``on``
        result, settled = [], []
        made, applied, credits = self._made, self.applied, self.credits
        for i in rows:
            inv = made[i] or self.at(i)
            open_amount = inv.amount - applied[i]
            if credits and i in credits:
                for day, amount in credits[i]:
                    if day <= on:
                        open_amount -= amount
            if open_amount > 0:
                result.append((inv, open_amount))
            else:
                settled.append(i)
        if settled:
            gone = set(settled)
            rows[:] = [i for i in rows if i not in gone]
        return result

    def reopen(self, inv: Invoice) -> None:
        """A returned payment gives the invoice its open amount back."""
        if inv.status != "issued":
            return
        key = (inv.customer_id, inv.currency)
        if bisect.bisect_left(self._pending[key], (inv.issue_date, inv.row)) >= self._pending_at[key]:
            return  # not issued as of the last look yet: it joins the list when it is
        rows = self._open_rows[key]
        if inv.row not in rows:
            bisect.insort(rows, inv.row)


@dataclass(slots=True)
class _Txn:
    transaction_id: str
    bank_reference: str | None
    effective_date: date
    amount: int  # cents, signed
    currency: str
    counterparty_name: str | None
    account_key: str
    remittance_info: str
    end_to_end_id: str
    is_reversal: bool
    reversal_of: str | None
    return_reason: str | None


# What the walk reads of each transaction: _Txn's fields, then what _settled says of it. The
# payer's name and the text are not needed where _settled has the receipt (its payer is the
# account's), so they are not fetched for those.
_WALK_COLUMNS = (
    "t.transaction_id, t.bank_reference, t.effective_date, CAST(t.amount * 100 AS BIGINT), t.currency, "
    "CASE WHEN s.row IS NULL THEN t.counterparty_name END, t.account_key, "
    "CASE WHEN s.row IS NULL THEN t.remittance_info ELSE '' END, t.end_to_end_id, t.is_reversal, t.reversal_of, "
    "t.return_reason, s.row, s.invoice_id, s.position, s.token, s.field, s.exact, s.invoice_number, "
    "s.customer_id, s.evidence")

# Receipts the evidence settles on its own: one quoted invoice, of the customer whose account
# paid, in the payment's currency, open for exactly the amount when nothing else was applied
# to it yet. The walk confirms "nothing else applied yet" when it reaches the receipt and
# otherwise decides it the long way, so the result is the same as deciding every receipt
# in the walk; the majority of receipts then cost a few list look-ups.
_SETTLED_BY_EVIDENCE = """
    CREATE OR REPLACE TEMP TABLE _settled AS
    WITH single AS (
        SELECT transaction_id, any_value(invoice_id) AS invoice_id, any_value(position) AS position,
               any_value(token) AS token, any_value(field) AS field, any_value(exact) AS exact
        FROM _refs GROUP BY transaction_id HAVING count(*) = 1
    ),
    credited AS (
        SELECT s.transaction_id, sum(CAST(c.amount * 100 AS BIGINT)) AS credits
        FROM single s
        JOIN _txns t USING (transaction_id)
        JOIN staging.stg_erp__credit_notes c ON c.invoice_id = s.invoice_id AND c.issue_date <= t.effective_date
        GROUP BY s.transaction_id
    )
    SELECT s.transaction_id, b.row, s.invoice_id, s.position, s.token, s.field, s.exact,
           b.invoice_number, b.customer_id,
           -- the evidence as _quoted writes it (keys sorted, compact)
           to_json({'exact_spelling': s.exact, 'field': s.field, 'invoice_number': b.invoice_number,
                    'open_before': CAST(t.amount AS DECIMAL(18, 2))::VARCHAR, 'payer': b.customer_id,
                    'payer_by': 'account', 'quoted': s.token})::VARCHAR AS evidence
    FROM single s
    JOIN _txns t USING (transaction_id)
    JOIN _book_rows b ON b.invoice_id = s.invoice_id
    JOIN _payer_known p ON p.transaction_id = s.transaction_id AND p.by_account = b.customer_id
    LEFT JOIN credited c ON c.transaction_id = s.transaction_id
    WHERE t.amount > 0 AND NOT t.is_reversal AND b.currency = t.currency AND b.status = 'issued'
      AND b.issue_date <= t.effective_date AND CAST(t.amount * 100 AS BIGINT) = b.cents - coalesce(c.credits, 0)
"""


@dataclass
class Resume:
    """Where a resumed walk starts (``night.py`` decides when it may): the walk of every
    transaction effective on or before ``after`` is that night's, already in the ledger and in
    its outcomes. What the walk carried past ``after`` is restored: the amounts applied to each
    invoice (the ledger), the accounts it learned, and, for the earlier receipts a new return
    may send back, the receipts, their entries and whether they were returned already."""

    after: date
    learned_accounts: dict[str, str]
    learned_on: dict[str, date]  # the day each account was learned
    returned: set[str]  # receipts walked before ``after`` that were returned by then
    invoice_keys_ready: bool = False  # ``_invoice_keys`` of this night exist (a later slice)


# The earlier receipts (walked before ``after``) a new return may name or fit, in walk order:
# by transaction id or bank reference (reversal_of), end-to-end id, or account and amount.
_EARLIER_RECEIPTS = """
    CREATE OR REPLACE TEMP TABLE _earlier_receipts AS
    WITH returns AS (
        SELECT reversal_of, end_to_end_id, account_key, -amount AS amount, currency FROM _txns
        WHERE amount < 0 AND (is_reversal OR coalesce(return_reason, '') <> '')
    ),
    earlier AS (
        SELECT transaction_id, bank_reference, effective_date, amount, currency, counterparty_name,
               {account_key} AS account_key, coalesce(remittance_info, '') AS remittance_info,
               coalesce(end_to_end_id, '') AS end_to_end_id, is_reversal, reversal_of, return_reason,
               named
        FROM (SELECT *, transaction_id IN (SELECT reversal_of FROM returns)
                        OR bank_reference IN (SELECT reversal_of FROM returns)
                        OR (coalesce(end_to_end_id, '') NOT IN ('', 'NOTPROVIDED')
                            AND end_to_end_id IN (SELECT end_to_end_id FROM returns)) AS named
              FROM staging.stg_bank__transactions
              WHERE effective_date <= {after} AND amount > 0 AND NOT coalesce(is_reversal, false))
        -- a cheap first cut: the account is normalised only for what passes
        WHERE named OR amount IN (SELECT amount FROM returns)
    )
    SELECT * EXCLUDE (named) FROM earlier e
    WHERE named OR EXISTS (SELECT 1 FROM returns r WHERE e.account_key <> '' AND r.account_key = e.account_key
                                                    AND r.amount = e.amount AND r.currency = e.currency)
"""

# Their entries in force (kind allocation: their own and the reversals of earlier returns).
_EARLIER_ENTRIES = """
    CREATE OR REPLACE TEMP TABLE _earlier_entries AS
    SELECT transaction_id, invoice_id, currency, effective_date, rule, sum(amount) AS amount
    FROM recon.allocation_ledger
    WHERE effective_date <= {after} AND kind = 'allocation'
      AND transaction_id IN (SELECT transaction_id FROM _earlier_receipts)
    GROUP BY ALL HAVING sum(amount) <> 0
"""

# The invoices a resumed walk can touch: issued by ``as_of`` and open after ``after`` (or
# issued since), quoted by a new payment, named in a decision, or re-opened by a return of an
# earlier receipt. Any other invoice was settled by then and stays so, or is not issued yet
# during the walk; leaving it out changes nothing but the cost.
_BOOK_SCOPE = """
    CREATE OR REPLACE TEMP TABLE _book_scope AS
    WITH applied AS (
        SELECT invoice_id, CAST(sum(amount) * 100 AS BIGINT) AS applied FROM recon.allocation_ledger
        WHERE effective_date <= {after} GROUP BY invoice_id
    ),
    credited AS (
        SELECT invoice_id, CAST(sum(amount) * 100 AS BIGINT) AS credited FROM staging.stg_erp__credit_notes
        WHERE issue_date <= {after} GROUP BY invoice_id
    ),
    named AS (
        SELECT invoice_id FROM _refs
        UNION SELECT invoice_id FROM _earlier_entries
        UNION SELECT invoice_id FROM staging.stg_manual__decisions WHERE invoice_id IS NOT NULL
        UNION SELECT i.invoice_id FROM staging.stg_erp__invoices i
              JOIN staging.stg_manual__decisions d ON d.invoice_number = i.invoice_number
    )
    SELECT i.invoice_id, coalesce(a.applied, 0) AS applied
    FROM staging.stg_erp__invoices i
    LEFT JOIN applied a USING (invoice_id)
    LEFT JOIN credited c USING (invoice_id)
    WHERE i.issue_date <= {as_of}
      AND (i.issue_date > {after}
           OR (i.status = 'issued' AND CAST(i.amount * 100 AS BIGINT) - coalesce(a.applied, 0)
                                       - coalesce(c.credited, 0) > 0)
           OR i.invoice_id IN (SELECT invoice_id FROM named))
"""


class CustomerNames:
    """Customer names and aliases by ``name_key`` (made on the first fuzzy name look-up), their
    character counts, and the fuzzy look-ups made so far. The customers and the settings do not
    change during a night, so its slices share one (at 10M invoices: ~5 s a slice)."""

    def __init__(self, con: duckdb.DuckDBPyConnection):
        self.con = con
        self._index: dict[str, set[str]] | None = None
        self._counts: tuple[list[str], np.ndarray] | None = None
        self.fuzzy_seen: dict[str, tuple[str | None, str]] = {}

    @property
    def index(self) -> dict[str, set[str]]:
        if self._index is None:
            index: dict[str, set[str]] = defaultdict(set)
            for customer_id, name, aliases in self.con.execute(
                    "SELECT customer_id, name, aliases FROM staging.stg_erp__customers").fetchall():
                for n in [name, *(aliases or "").split(";")]:
                    key = name_key(n)
                    if key:
                        index[key].add(customer_id)
            self._index = index
        return self._index

    def counts(self) -> tuple[list[str], np.ndarray]:
        if self._counts is None:
            keys = list(self.index)
            self._counts = (keys, _char_counts(keys))
        return self._counts


class Matcher:
    def __init__(self, con: duckdb.DuckDBPyConnection, as_of: date, config: MatcherSettings,
                 resume: Resume | None = None, names: CustomerNames | None = None):
        self.con = con
        self.as_of = as_of
        self.config = config
        self.resume = resume
        self.entries: list[Allocation] = []
        self.outcomes: list[Outcome] = []
        self.learned_accounts: dict[str, str] = dict(resume.learned_accounts) if resume else {}
        self.learned_on: dict[str, date] = dict(resume.learned_on) if resume else {}
        # every return of a receipt: (receipt, return, its date, reason, the receipt's outcome and
        # reason before; None for a receipt of an earlier night, whose outcome is in SQL)
        self.return_events: list[tuple] = []
        # resumed walk: the entries in force of the earlier receipts a return may send back
        self._earlier_entries: dict[str, list[Allocation]] = defaultdict(list)
        # each receipt's own entries are entries[start:end] (by its position in _seen); the
        # returns of a receipt add to _return_entries
        self._spans: list[tuple[int, int] | None] = []
        self._return_entries: dict[str, list[Allocation]] = defaultdict(list)
        self._returned_ids: set[str] = set()
        self._tolerance_abs = int((config.fee_tolerance_abs * 100).to_integral_value())
        self._pct_num, self._pct_den = config.fee_tolerance_pct.as_integer_ratio()
        self._pct_den *= 100
        self.names = names or CustomerNames(con)
        # receipts in walk order, and indexes over them built only when a return needs them
        self._seen: list[tuple] = []
        self._indexed = 0
        self._by_id: dict[str, int] = {}
        self._by_e2e: dict[str, int] = {}
        self._by_ref: dict[str, int] = {}
        self._by_account_amount: dict[tuple, list[int]] = defaultdict(list)
        self._outcome_at: dict[str, Outcome] = {}
        self._outcomes_indexed = 0

    # ------------------------------------------------------------------ loading
    def _load(self) -> None:
        con = self.con
        resume = self.resume
        build_evidence(con, self.as_of, since=resume.after if resume else None,
                       invoice_keys=not (resume and resume.invoice_keys_ready))
        if self.resume:
            self._load_earlier()
        self.book = _Book(con, self.as_of, resumed=self.resume is not None)
        con.execute(_SETTLED_BY_EVIDENCE)
        self.refs: dict[str, list[tuple]] = defaultdict(list)
        for tid, invoice_id, position, token, fld, exact in con.execute(
                "SELECT transaction_id, invoice_id, position, token, field, exact FROM _refs "
                "ANTI JOIN _settled USING (transaction_id) "
                "ORDER BY transaction_id, CASE field WHEN 'structured_reference' THEN 0 "
                "WHEN 'end_to_end_id' THEN 1 ELSE 2 END, position, invoice_id").fetchall():
            self.refs[tid].append((invoice_id, position, token, fld, exact))
        self.payers = {tid: (acct, name) for tid, acct, name in con.execute(
            "SELECT transaction_id, by_account, by_name FROM _payer_known "
            "ANTI JOIN _settled USING (transaction_id)").fetchall()}
        self.decisions = self._load_decisions()

    def _load_earlier(self) -> None:
        """What a resumed walk needs of the receipts before ``after``: those a new return may
        send back come first in ``_seen`` (their spans are None: their entries are the
        ledger's), with the ones already returned in ``_returned_ids``."""
        con, after = self.con, f"DATE '{self.resume.after.isoformat()}'"
        sql = _EARLIER_RECEIPTS.format(after=after, account_key=normalise_account_sql("counterparty_account"))
        if not con.execute("SELECT count(*) FROM _txns WHERE amount < 0 AND "
                           "(is_reversal OR coalesce(return_reason, '') <> '')").fetchone()[0]:
            sql += " LIMIT 0"  # no return tonight: no earlier receipt to look for
        con.execute(sql)
        con.execute(_EARLIER_ENTRIES.format(after=after))
        con.execute(_BOOK_SCOPE.format(after=after, as_of=f"DATE '{self.as_of.isoformat()}'"))
        for row in con.execute("SELECT transaction_id, bank_reference, effective_date, CAST(amount * 100 AS BIGINT), "
                               "currency, counterparty_name, account_key, remittance_info, end_to_end_id, "
                               "is_reversal, reversal_of, return_reason FROM _earlier_receipts "
                               "ORDER BY effective_date, transaction_id").fetchall():
            self._seen.append(row)
            self._spans.append(None)
        for tid, invoice_id, currency, day, rule, amount in con.execute(
                "SELECT * FROM _earlier_entries ORDER BY transaction_id, effective_date, rule, invoice_id").fetchall():
            self._earlier_entries[tid].append(Allocation(tid, invoice_id, amount, currency, day, rule,
                                                         RULES.get(rule, ""), 1.0, ""))
        self._returned_ids.update(self.resume.returned)

    @property
    def customer_names(self) -> dict[str, set[str]]:
        return self.names.index

    def _load_decisions(self) -> dict[str, list[tuple]]:
        """The latest decision per transaction and invoice (person's decisions always win)."""
        rows = self.con.execute("""
            WITH d AS (
                SELECT coalesce(d.transaction_id, t.transaction_id) AS tid, d.*
                FROM staging.stg_manual__decisions d
                LEFT JOIN _txns t ON d.transaction_id IS NULL AND t.bank_reference = d.bank_reference
            ),
            resolved AS (
                SELECT d.*, coalesce(d.invoice_id, i.invoice_id) AS inv_id
                FROM d LEFT JOIN staging.stg_erp__invoices i
                  ON d.invoice_id IS NULL AND i.invoice_number = d.invoice_number
            )
            SELECT tid, inv_id, action, CAST(amount * 100 AS BIGINT), decided_by, decided_at, note
            FROM resolved WHERE tid IS NOT NULL
            QUALIFY row_number() OVER (PARTITION BY tid, coalesce(inv_id, '')
                                       ORDER BY decided_at DESC, file_seq DESC, line_number DESC) = 1
            ORDER BY tid, decided_at, inv_id
        """).fetchall()
        result: dict[str, list[tuple]] = defaultdict(list)
        for row in rows:
            result[row[0]].append(row[1:])
        return result

    # ------------------------------------------------------------------ helpers
    def _entry(self, txn: _Txn, inv: Invoice, cents: int, rule: str, score: float, evidence: dict,
               kind: str = "allocation", decided_by: str = "matcher", on: date | None = None) -> None:
        entry = Allocation(txn.transaction_id, inv.invoice_id, money(cents), inv.currency,
                           on or txn.effective_date, rule, RULES[rule], score,
                           orjson.dumps(evidence, option=_ORJSON, default=str).decode(),
                           decided_by, kind)
        self.entries.append(entry)
        self.book.applied[inv.row] += cents
        if cents < 0:
            self.book.reopen(inv)

    def _tolerance(self, cents: int) -> int:
        """min(absolute tolerance, cents × pct / 100 rounded half to even), in integers."""
        whole, rest = divmod(cents * self._pct_num, self._pct_den)
        if 2 * rest > self._pct_den or (2 * rest == self._pct_den and whole % 2):
            whole += 1
        return min(self._tolerance_abs, whole)

    def _identify_payer(self, txn: _Txn) -> tuple[str | None, str]:
        by_account, by_name = self.payers.get(txn.transaction_id, (None, None))
        if by_account:
            return by_account, "account"
        if txn.account_key and txn.account_key in self.learned_accounts:
            return self.learned_accounts[txn.account_key], "learned_account"
        if by_name:
            return by_name, "name"
        return self._fuzzy_payer(txn.counterparty_name)

    def _fuzzy_payer(self, name: str | None) -> tuple[str | None, str]:
        key = name_key(name)
        if not key:
            return None, ""
        names = self.customer_names
        exact = names.get(key)
        if exact:
            return (next(iter(exact)), "name") if len(exact) == 1 else (None, "")
        seen = self.names.fuzzy_seen
        if key not in seen:  # payers' names repeat: each is looked up once
            seen[key] = self._fuzzy_lookup(key)
        return seen[key]

    def _fuzzy_lookup(self, key: str) -> tuple[str | None, str]:
        """The one customer whose name or alias is at least ``name_match_threshold`` similar
        (rapidfuzz token_sort_ratio), else nobody.

        Only names that can reach the threshold are scored: the similarity is
        100 · (1 − indel distance / total length), and the indel distance is at least the
        sum of the differences in the count of each character, so a cheap bound over every
        name (numpy) leaves the few worth scoring; the result is the same as scoring all.
        """
        from rapidfuzz import fuzz, process

        names = self.customer_names
        keys, counts = self.names.counts()
        query = _char_counts([key])[0]
        total = counts.sum(axis=1) + query.sum()
        bound = np.abs(counts - query).sum(axis=1)
        slack = (1 - self.config.name_match_threshold / 100) * total + 1e-9
        candidates = [keys[i] for i in np.flatnonzero(bound <= slack)]
        best = process.extract(key, candidates, scorer=fuzz.token_sort_ratio,
                               limit=3, score_cutoff=self.config.name_match_threshold)
        customers = {c for k, _, _ in best for c in names[k]}
        if len(customers) == 1:
            return customers.pop(), f"fuzzy_name:{round(best[0][1])}"
        return None, ""  # no name close enough, or a tie between customers

    # ------------------------------------------------------------------ the walk
    def run(self) -> MatchResult:
        self._load()
        # each row: the transaction (_Txn's fields), then what _settled says of it, if anything
        txns = self.con.execute(
            f"SELECT {_WALK_COLUMNS} FROM _txns t LEFT JOIN _settled s USING (transaction_id) "
            "ORDER BY t.effective_date, t.transaction_id").fetchall()
        decisions, applied, entries = self.decisions, self.book.applied, self.entries
        seen, spans = self._seen, self._spans
        for row in txns:
            if row[3] < 0:
                if row[9] or row[11]:  # is_reversal or return_reason
                    self._returned(_Txn(*row[:12]))
                continue
            if row[9]:  # money back in from a reversed debit: not a customer payment
                self.outcomes.append(Outcome(row[0], None, "", NOT_AR, "REVERSAL_OF_DEBIT"))
                continue
            seen.append(row)
            start = len(entries)
            if row[12] is not None and not applied[row[12]] and row[0] not in decisions:
                self._settle_by_evidence(row)
            else:
                if row[12] is not None:  # what the long way needs of a receipt _settled named
                    self.refs[row[0]] = [row[13:18]]
                    self.payers[row[0]] = (row[19], None)
                self._receipt(_Txn(*row[:12]))
            spans.append((start, len(entries)))
        return MatchResult(self.entries, self.outcomes)

    def _settle_by_evidence(self, row: tuple) -> None:
        """What ``_quoted`` decides for one quoted invoice paid in full by its customer's account."""
        tid, cents, fld = row[0], row[3], row[16]
        rule = "invoice_number" if fld == "remittance_info" else "structured_reference"
        self.entries.append(Allocation(tid, row[13], money(cents), row[4], row[2], rule, RULES[rule],
                                       1.0 if row[17] else 0.95, row[20]))
        self.book.applied[row[12]] = cents
        self.outcomes.append(Outcome(tid, row[19], "account", ALLOCATED))

    def _receipt(self, txn: _Txn) -> None:
        payer, how = self._identify_payer(txn)
        decisions = self.decisions.get(txn.transaction_id)
        if decisions:
            self._manual(txn, payer, how, decisions)
            return
        quoted = []
        for invoice_id, *details in self.refs.get(txn.transaction_id, ()):
            inv = self.book.get(invoice_id)  # None: issued after the walk's date
            if inv is not None and inv.currency == txn.currency and inv.status == "issued" and inv.issue_date <= txn.effective_date:
                quoted.append((inv, *details))
        if quoted:
            self._quoted(txn, payer, how, quoted)
        elif payer:
            self._by_amount(txn, payer, how)
        else:
            self.outcomes.append(Outcome(txn.transaction_id, None, "", EXCEPTION, "UNKNOWN_PAYER"))

    def _quoted(self, txn: _Txn, payer, how, quoted) -> None:
        customers = {q[0].customer_id for q in quoted}

        def numbers() -> list[str]:  # named only where a person or the account gets the money
            return sorted({q[0].number for q in quoted})

        if payer and payer not in customers:
            self.outcomes.append(Outcome(txn.transaction_id, payer, how, EXCEPTION,
                                         "QUOTED_INVOICE_OF_OTHER_CUSTOMER", numbers()))
            return
        if not payer and len(customers) > 1:
            self.outcomes.append(Outcome(txn.transaction_id, None, "", EXCEPTION,
                                         "QUOTED_INVOICES_OF_SEVERAL_CUSTOMERS", numbers()))
            return
        customer = payer or next(iter(customers))
        seen: set[str] = set()
        picks = []
        for inv, _position, token, fld, exact in quoted:
            if inv.customer_id == customer and inv.invoice_id not in seen:
                seen.add(inv.invoice_id)
                picks.append((inv, self.book.open_amount(inv, txn.effective_date), token, fld, exact))
        open_picks = [p for p in picks if p[1] > 0]
        if not open_picks:  # quoted invoices already settled: the money waits on account
            self.outcomes.append(Outcome(txn.transaction_id, customer, how or "invoice", ON_ACCOUNT,
                                         "QUOTED_INVOICES_ALREADY_SETTLED", numbers()))
            return
        amount = txn.amount
        total_open = sum(p[1] for p in open_picks)
        tolerance = self._tolerance(amount)
        if len(open_picks) == 1 and not (total_open - tolerance <= amount <= total_open):
            # The amount does not confirm the quoted invoice. If another open invoice of the
            # customer is open for exactly the amount, or the payment overpays the quoted one
            # and could pay another whose number is one typo away, the quote may be a typo:
            # a person decides.
            from rapidfuzz.distance import Levenshtein

            quoted_inv = open_picks[0][0]
            quoted_key = number_key(quoted_inv.number)
            overpaid = amount > total_open
            others = [inv for inv, o in self.book.open_invoices(customer, txn.currency, txn.effective_date)
                      if inv.invoice_id != quoted_inv.invoice_id
                      and (o == amount or (overpaid and o <= amount and Levenshtein.distance(
                          number_key(inv.number), quoted_key) == 1))]
            if others:
                self.outcomes.append(Outcome(
                    txn.transaction_id, customer, how or "invoice", EXCEPTION, "QUOTED_NUMBER_MAY_BE_TYPO",
                    sorted({open_picks[0][0].number, *(o.number for o in others)})))
                return
        if amount < total_open - tolerance and len(open_picks) > 1:
            if self.config.short_payment_policy != "oldest_due_first":
                self.outcomes.append(Outcome(txn.transaction_id, customer, how or "invoice", EXCEPTION,
                                             "SHORT_PAYMENT_OF_SEVERAL_INVOICES", numbers()))
                return
            open_picks.sort(key=lambda p: (p[0].due_date, p[0].issue_date, p[0].number))
            rule = "short_payment_oldest_due_first"
        else:
            rule = "structured_reference" if open_picks[0][3] != "remittance_info" else "invoice_number"
        left = amount
        for inv, open_amount, token, fld, exact in open_picks:
            if left <= 0:
                break
            applied = min(left, open_amount)
            evidence = {"field": fld, "quoted": token, "invoice_number": inv.number,
                        "exact_spelling": bool(exact), "payer": customer, "payer_by": how or "invoice",
                        "open_before": money_text(open_amount)}
            self._entry(txn, inv, applied, rule, 1.0 if exact else 0.95, evidence)
            left -= applied
        short = total_open - amount
        if 0 < short <= tolerance:
            last = open_picks[-1][0]
            self._entry(txn, last, short, "bank_fee", 1.0,
                        {"short_by": money_text(short), "tolerance": money_text(tolerance)}, kind="bank_fee")
        if how.startswith("fuzzy_name") or how == "name":
            self._learn(txn, customer)
        self.outcomes.append(Outcome(txn.transaction_id, customer, how or "invoice", ALLOCATED))

    def _learn(self, txn: _Txn, customer: str) -> None:
        if txn.account_key and txn.account_key not in self.learned_accounts:
            self.learned_accounts[txn.account_key] = customer
            self.learned_on[txn.account_key] = txn.effective_date

    def _by_amount(self, txn: _Txn, payer: str, how: str) -> None:
        opens = self.book.open_invoices(payer, txn.currency, txn.effective_date)
        amount = txn.amount
        if not opens:
            self.outcomes.append(Outcome(txn.transaction_id, payer, how, ON_ACCOUNT, "NO_OPEN_INVOICE"))
            return
        if self._fuzzy_number(txn, payer, how, opens):
            return
        exact = [(inv, o) for inv, o in opens if o == amount]
        tolerance = self._tolerance(amount)
        within = [(inv, o) for inv, o in opens if o - tolerance <= amount < o]
        if len(exact) > 1 or (not exact and len(within) > 1):
            self.outcomes.append(Outcome(txn.transaction_id, payer, how, EXCEPTION, "SEVERAL_INVOICES_FIT_AMOUNT",
                                         sorted(inv.number for inv, _ in (exact or within))))
            return
        if exact or within:
            inv, open_amount = (exact or within)[0]
            self._entry(txn, inv, amount, "amount_unique_invoice", 0.9,
                        {"payer": payer, "payer_by": how, "open_before": money_text(open_amount),
                         "invoice_number": inv.number})
            if open_amount > amount:
                self._entry(txn, inv, open_amount - amount, "bank_fee", 0.9,
                            {"short_by": money_text(open_amount - amount), "tolerance": money_text(tolerance)},
                            kind="bank_fee")
            self.outcomes.append(Outcome(txn.transaction_id, payer, how, ALLOCATED))
            return
        candidates = opens[: self.config.max_combination_candidates]
        fits = subsets_summing_to([o for _, o in candidates], amount, self.config.max_combination_size)
        if len(fits) == 1 and len(fits[0]) > 1:
            picked = [candidates[i] for i in fits[0]]
            for inv, open_amount in picked:
                self._entry(txn, inv, open_amount, "amount_combination", 0.85,
                            {"payer": payer, "payer_by": how, "combination": [i.number for i, _ in picked]})
            self.outcomes.append(Outcome(txn.transaction_id, payer, how, ALLOCATED))
        elif fits:
            numbers = sorted({candidates[i][0].number for fit in fits for i in fit})
            self.outcomes.append(Outcome(txn.transaction_id, payer, how, EXCEPTION,
                                         "SEVERAL_COMBINATIONS_FIT_AMOUNT", numbers))
        else:
            self.outcomes.append(Outcome(txn.transaction_id, payer, how, ON_ACCOUNT, "NO_INVOICE_FITS_AMOUNT"))

    def _fuzzy_number(self, txn: _Txn, payer: str, how: str, opens) -> bool:
        """A quoted number one typo away from exactly one open invoice whose amount agrees."""
        if not _DIGIT.search(txn.remittance_info):
            return False
        from rapidfuzz.distance import Levenshtein

        tokens = {number_key(t) for t in _NUMBER_TOKEN.findall(txn.remittance_info)}
        tokens = {t for t in tokens if len(_NON_DIGITS.sub("", t)) >= 4}
        if not tokens:
            return False
        tolerance = self._tolerance(txn.amount)
        close = []
        for inv, open_amount in opens:
            key = number_key(inv.number)
            keys = {key, _LEADING_LETTERS.sub("", key)}
            if any(Levenshtein.distance(t, k) == 1 for t in tokens for k in keys):
                close.append((inv, open_amount))
        if len(close) != 1:
            return False
        inv, open_amount = close[0]
        if not (open_amount - tolerance <= txn.amount <= open_amount):
            return False
        self._entry(txn, inv, txn.amount, "invoice_number_fuzzy", 0.8,
                    {"payer": payer, "payer_by": how, "invoice_number": inv.number,
                     "quoted": sorted(tokens), "open_before": money_text(open_amount)})
        if open_amount > txn.amount:
            self._entry(txn, inv, open_amount - txn.amount, "bank_fee", 0.8,
                        {"short_by": money_text(open_amount - txn.amount)}, kind="bank_fee")
        self.outcomes.append(Outcome(txn.transaction_id, payer, how, ALLOCATED))
        return True

    def _manual(self, txn: _Txn, payer, how, decisions) -> None:
        outcome = Outcome(txn.transaction_id, payer, how, ON_ACCOUNT if payer else EXCEPTION,
                          "" if payer else "UNKNOWN_PAYER")
        left = txn.amount
        for inv_id, action, amount, decided_by, decided_at, note in decisions:
            inv = self.book.get(inv_id) if inv_id else None
            evidence = {"decided_at": decided_at, "note": note or ""}
            if action == "not_ar":
                outcome = Outcome(txn.transaction_id, None, "person", NOT_AR)
            elif action == "on_account":
                outcome = Outcome(txn.transaction_id, payer, how or "person", ON_ACCOUNT)
            elif action == "allocate" and inv is not None and inv.currency == txn.currency:
                open_amount = self.book.open_amount(inv, txn.effective_date)
                applied = min(amount or left, left, max(open_amount, 0))
                if applied > 0:
                    self._entry(txn, inv, applied, "manual", 1.0, evidence, decided_by=decided_by)
                    left -= applied
                    outcome = Outcome(txn.transaction_id, inv.customer_id, "person", ALLOCATED)
            elif action == "write_off" and inv is not None:
                open_amount = self.book.open_amount(inv, txn.effective_date)
                written = min(amount or open_amount, open_amount)
                if written > 0:
                    self._entry(txn, inv, written, "manual_write_off", 1.0, evidence,
                                kind="manual_write_off", decided_by=decided_by)
            # "unapply": the invoice named is simply not allocated by anyone for this payment
        self.outcomes.append(outcome)

    # ------------------------------------------------------------------ returns
    def _index_receipts(self) -> None:
        """Index the receipts seen since the last return (only nights with returns pay for it)."""
        for seq in range(self._indexed, len(self._seen)):
            row = self._seen[seq]
            tid, ref, cents, currency, account_key, e2e = row[0], row[1], row[3], row[4], row[6], row[8]
            self._by_id[tid] = seq
            if ref:
                self._by_ref[ref] = seq
            if e2e not in ("", "NOTPROVIDED"):
                self._by_e2e[e2e] = seq
            if account_key:
                self._by_account_amount[(account_key, cents, currency)].append(seq)
        self._indexed = len(self._seen)
        for outcome in self.outcomes[self._outcomes_indexed:]:
            self._outcome_at[outcome.transaction_id] = outcome
        self._outcomes_indexed = len(self.outcomes)

    def _returned(self, txn: _Txn) -> None:
        """Reverse the allocations of the receipt a return sends back: the latest earlier receipt
        it names (transaction id, bank reference or end-to-end id), else the latest one of the
        same account and amount not returned yet."""
        self._index_receipts()
        named = []
        if txn.reversal_of:
            named += [self._by_id.get(txn.reversal_of), self._by_ref.get(txn.reversal_of)]
        if txn.end_to_end_id not in ("", "NOTPROVIDED"):
            named.append(self._by_e2e.get(txn.end_to_end_id))
        named = [seq for seq in named if seq is not None]
        if named:
            seq = max(named)
        else:
            same = self._by_account_amount.get((txn.account_key, -txn.amount, txn.currency), ()) \
                if txn.account_key else ()
            seq = next((s for s in reversed(same) if self._seen[s][0] not in self._returned_ids), None)
        if seq is None:
            return
        original = _Txn(*self._seen[seq][:12])
        self._returned_ids.add(original.transaction_id)
        span = self._spans[seq]
        if span is None:  # a receipt of an earlier night (resumed walk): its entries are the ledger's
            applied = list(self._earlier_entries.get(original.transaction_id, ()))
        else:
            applied = [e for e in self.entries[span[0]:span[1]] if e.kind == "allocation"]
        applied += self._return_entries.get(original.transaction_id, [])
        for entry in applied:
            inv = self.book.get(entry.invoice_id)
            self._entry(original, inv, -int(entry.amount * 100), "payment_returned", 1.0,
                        {"return_transaction": txn.transaction_id, "return_reason": txn.return_reason or ""},
                        on=txn.effective_date)
            self._return_entries[original.transaction_id].append(self.entries[-1])
        outcome = self._outcome_at.get(original.transaction_id)
        self.return_events.append((original.transaction_id, txn.transaction_id, txn.effective_date,
                                   txn.return_reason or "",
                                   *((outcome.outcome, outcome.reason_code or None) if outcome else (None, None))))
        if outcome is not None:
            outcome.outcome, outcome.reason_code = RETURNED, txn.return_reason or ""


def match(con: duckdb.DuckDBPyConnection, as_of: date, config: MatcherSettings,
          resume: Resume | None = None, names: CustomerNames | None = None) -> MatchResult:
    """Run the matcher over every transaction effective on or before ``as_of`` (with ``resume``:
    those after ``resume.after``, the walk before being that night's; ``names``: the customer
    names of an earlier slice of the same night)."""
    with gc_paused():
        matcher = Matcher(con, as_of, config, resume, names)
        result = matcher.run()
        result.learned_accounts, result.learned_on = matcher.learned_accounts, matcher.learned_on
        result.return_events = matcher.return_events
        return result
