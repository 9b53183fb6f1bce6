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

import re
import unicodedata
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

import duckdb
import orjson

from pipelines.reconcile.combine import subsets_summing_to
from pipelines.reconcile.evidence import build_evidence
from pipelines.reconcile.ledger import Allocation
from pipelines.settings import MatcherSettings

ZERO = Decimal("0")
_NON_DIGITS = re.compile(r"[^0-9]")
CENT = Decimal("0.01")

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


@dataclass
class Outcome:
    transaction_id: str
    payer_customer_id: str | None
    payer_evidence: str
    outcome: str
    reason_code: str = ""
    candidates: list[str] = field(default_factory=list)


@dataclass
class Invoice:
    invoice_id: str
    number: str
    customer_id: str
    currency: str
    issue_date: date
    due_date: date
    amount: Decimal
    status: str
    credits: list[tuple[date, Decimal]] = field(default_factory=list)


@dataclass
class MatchResult:
    entries: list[Allocation]
    outcomes: list[Outcome]


def name_key(name: str | None) -> str:
    """A payer or customer name for fuzzy comparison: letters, digits, no legal forms."""
    text = unicodedata.normalize("NFKD", name or "").encode("ascii", "ignore").decode().upper()
    words = [w for w in re.split(r"[^A-Z0-9]+", text) if w and w not in LEGAL_FORMS]
    return " ".join(words)


def number_key(text: str) -> str:
    """Letters and digits, upper case: the ``full`` key of evidence.py."""
    return re.sub(r"[^A-Z0-9]", "", text.upper())


class _Book:
    """Invoices and their open amounts as the walk moves through time."""

    def __init__(self, invoices: dict[str, Invoice]):
        self.invoices = invoices
        self.allocated: dict[str, Decimal] = {}
        self.adjusted: dict[str, Decimal] = {}
        self.by_customer: dict[tuple[str, str], list[Invoice]] = defaultdict(list)
        for inv in sorted(invoices.values(), key=lambda i: (i.due_date, i.issue_date, i.number)):
            if inv.status == "issued":
                self.by_customer[(inv.customer_id, inv.currency)].append(inv)

    def open_amount(self, inv: Invoice, on: date) -> Decimal:
        if inv.status != "issued" or inv.issue_date > on:
            return ZERO
        open_amount = inv.amount - self.allocated.get(inv.invoice_id, ZERO) - self.adjusted.get(
            inv.invoice_id, ZERO)
        for day, amount in inv.credits:
            if day <= on:
                open_amount -= amount
        return open_amount

    def open_invoices(self, customer_id: str, currency: str, on: date) -> list[tuple[Invoice, Decimal]]:
        result = []
        for inv in self.by_customer.get((customer_id, currency), ()):
            if inv.issue_date <= on:
                open_amount = self.open_amount(inv, on)
                if open_amount > 0:
                    result.append((inv, open_amount))
        return result


class Matcher:
    def __init__(self, con: duckdb.DuckDBPyConnection, as_of: date, config: MatcherSettings):
        self.con = con
        self.as_of = as_of
        self.config = config
        self.entries: list[Allocation] = []
        self.outcomes: list[Outcome] = []
        self.learned_accounts: dict[str, str] = {}
        self.applied_by_txn: dict[str, list[Allocation]] = defaultdict(list)
        self._returned_ids: set[str] = set()

    # ------------------------------------------------------------------ loading
    def _load(self) -> None:
        con = self.con
        build_evidence(con, self.as_of)
        invoices: dict[str, Invoice] = {}
        for row in con.execute(
                "SELECT invoice_id, invoice_number, customer_id, currency, issue_date, due_date, "
                "amount, status FROM staging.stg_erp__invoices").fetchall():
            invoices[row[0]] = Invoice(*row)
        for invoice_id, issue_date, amount in con.execute(
                "SELECT invoice_id, issue_date, amount FROM staging.stg_erp__credit_notes "
                "WHERE invoice_id IS NOT NULL").fetchall():
            if invoice_id in invoices:
                invoices[invoice_id].credits.append((issue_date, amount))
        self.book = _Book(invoices)
        self.refs: dict[str, list[tuple]] = defaultdict(list)
        for tid, invoice_id, position, token, fld, exact in con.execute(
                "SELECT transaction_id, invoice_id, position, token, field, exact FROM _refs "
                "ORDER BY transaction_id, CASE field WHEN 'structured_reference' THEN 0 "
                "WHEN 'end_to_end_id' THEN 1 ELSE 2 END, position, invoice_id").fetchall():
            self.refs[tid].append((invoice_id, position, token, fld, exact))
        self.payers = {tid: (acct, name) for tid, acct, name in con.execute(
            "SELECT transaction_id, by_account, by_name FROM _payer_known").fetchall()}
        self.customer_names = self._customer_name_index()
        self.decisions = self._load_decisions()

    def _customer_name_index(self) -> dict[str, set[str]]:
        index: dict[str, set[str]] = defaultdict(set)
        for customer_id, name, aliases in self.con.execute(
                "SELECT customer_id, name, aliases FROM staging.stg_erp__customers").fetchall():
            for n in [name, *(aliases or "").split(";")]:
                key = name_key(n)
                if key:
                    index[key].add(customer_id)
        return index

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
            SELECT tid, inv_id, action, amount, decided_by, decided_at, note
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
    def _entry(self, txn, inv: Invoice, amount: Decimal, rule: str, score: float, evidence: dict,
               kind: str = "allocation", decided_by: str = "matcher", on: date | None = None) -> None:
        entry = Allocation(txn.transaction_id, inv.invoice_id, amount, inv.currency,
                           on or txn.effective_date, rule, RULES[rule], score,
                           orjson.dumps(evidence, option=orjson.OPT_SORT_KEYS, default=str).decode(),
                           decided_by, kind)
        self.entries.append(entry)
        book = self.book.allocated if kind == "allocation" else self.book.adjusted
        book[inv.invoice_id] = book.get(inv.invoice_id, ZERO) + amount
        if kind == "allocation":
            self.applied_by_txn[txn.transaction_id].append(entry)

    def _tolerance(self, amount: Decimal) -> Decimal:
        pct = (amount * self.config.fee_tolerance_pct / 100).quantize(CENT)
        return min(self.config.fee_tolerance_abs, pct)

    def _identify_payer(self, txn) -> tuple[str | None, str]:
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
        exact = self.customer_names.get(key)
        if exact:
            return (next(iter(exact)), "name") if len(exact) == 1 else (None, "")
        from rapidfuzz import fuzz, process

        best = process.extract(key, list(self.customer_names), scorer=fuzz.token_sort_ratio,
                               limit=3, score_cutoff=self.config.name_match_threshold)
        customers = {c for k, _, _ in best for c in self.customer_names[k]}
        if len(customers) == 1:
            return customers.pop(), f"fuzzy_name:{round(best[0][1])}"
        return None, ""  # no name close enough, or a tie between customers

    # ------------------------------------------------------------------ the walk
    def run(self) -> MatchResult:
        self._load()
        txns = self.con.execute(
            "SELECT transaction_id, bank_reference, effective_date, amount, currency, counterparty_name, "
            "account_key, remittance_info, end_to_end_id, is_reversal, reversal_of, return_reason "
            "FROM _txns ORDER BY effective_date, transaction_id").fetchall()
        receipts_seen: list = []
        for row in txns:
            txn = _Txn(*row)
            if txn.amount < 0:
                if txn.is_reversal or txn.return_reason:
                    self._returned(txn, receipts_seen)
                continue
            if txn.is_reversal:  # money back in from a reversed debit: not a customer payment
                self.outcomes.append(Outcome(txn.transaction_id, None, "", NOT_AR, "REVERSAL_OF_DEBIT"))
                continue
            receipts_seen.append(txn)
            self._receipt(txn)
        return MatchResult(self.entries, self.outcomes)

    def _receipt(self, txn) -> None:
        payer, how = self._identify_payer(txn)
        decisions = self.decisions.get(txn.transaction_id)
        if decisions:
            self._manual(txn, payer, how, decisions)
            return
        quoted = [(self.book.invoices[r[0]], *r[1:]) for r in self.refs.get(txn.transaction_id, ())]
        quoted = [q for q in quoted if q[0].currency == txn.currency and q[0].status == "issued"
                  and q[0].issue_date <= txn.effective_date]
        if quoted:
            self._quoted(txn, payer, how, quoted)
        elif payer:
            self._by_amount(txn, payer, how)
        else:
            self.outcomes.append(Outcome(txn.transaction_id, None, "", EXCEPTION, "UNKNOWN_PAYER"))

    def _quoted(self, txn, payer, how, quoted) -> None:
        customers = {q[0].customer_id for q in quoted}
        numbers = sorted({q[0].number for q in quoted})
        if payer and payer not in customers:
            self.outcomes.append(Outcome(txn.transaction_id, payer, how, EXCEPTION,
                                         "QUOTED_INVOICE_OF_OTHER_CUSTOMER", numbers))
            return
        if not payer and len(customers) > 1:
            self.outcomes.append(Outcome(txn.transaction_id, None, "", EXCEPTION,
                                         "QUOTED_INVOICES_OF_SEVERAL_CUSTOMERS", numbers))
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
                                         "QUOTED_INVOICES_ALREADY_SETTLED", numbers))
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
                                             "SHORT_PAYMENT_OF_SEVERAL_INVOICES", numbers))
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
                        "open_before": str(open_amount)}
            self._entry(txn, inv, applied, rule, 1.0 if exact else 0.95, evidence)
            left -= applied
        short = total_open - amount
        if 0 < short <= tolerance:
            last = open_picks[-1][0]
            self._entry(txn, last, short, "bank_fee", 1.0,
                        {"short_by": str(short), "tolerance": str(tolerance)}, kind="bank_fee")
        if how.startswith("fuzzy_name") or how == "name":
            self._learn(txn, customer)
        self.outcomes.append(Outcome(txn.transaction_id, customer, how or "invoice", ALLOCATED))

    def _learn(self, txn, customer: str) -> None:
        if txn.account_key and txn.account_key not in self.learned_accounts:
            self.learned_accounts[txn.account_key] = customer

    def _by_amount(self, txn, payer: str, how: str) -> None:
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
                        {"payer": payer, "payer_by": how, "open_before": str(open_amount),
                         "invoice_number": inv.number})
            if open_amount > amount:
                self._entry(txn, inv, open_amount - amount, "bank_fee", 0.9,
                            {"short_by": str(open_amount - amount), "tolerance": str(tolerance)},
                            kind="bank_fee")
            self.outcomes.append(Outcome(txn.transaction_id, payer, how, ALLOCATED))
            return
        candidates = opens[: self.config.max_combination_candidates]
        cents = [int(o * 100) for _, o in candidates]
        fits = subsets_summing_to(cents, int(amount * 100), self.config.max_combination_size)
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

    def _fuzzy_number(self, txn, payer: str, how: str, opens) -> bool:
        """A quoted number one typo away from exactly one open invoice whose amount agrees."""
        from rapidfuzz.distance import Levenshtein

        tokens = {number_key(t) for t in re.findall(r"[A-Za-z0-9][A-Za-z0-9\-/._]*[A-Za-z0-9]",
                                                    txn.remittance_info)}
        tokens = {t for t in tokens if len(_NON_DIGITS.sub("", t)) >= 4}
        if not tokens:
            return False
        tolerance = self._tolerance(txn.amount)
        close = []
        for inv, open_amount in opens:
            key = number_key(inv.number)
            keys = {key, re.sub(r"^[A-Z]+", "", key)}
            if any(Levenshtein.distance(t, k) == 1 for t in tokens for k in keys):
                close.append((inv, open_amount))
        if len(close) != 1:
            return False
        inv, open_amount = close[0]
        if not (open_amount - tolerance <= txn.amount <= open_amount):
            return False
        self._entry(txn, inv, txn.amount, "invoice_number_fuzzy", 0.8,
                    {"payer": payer, "payer_by": how, "invoice_number": inv.number,
                     "quoted": sorted(tokens), "open_before": str(open_amount)})
        if open_amount > txn.amount:
            self._entry(txn, inv, open_amount - txn.amount, "bank_fee", 0.8,
                        {"short_by": str(open_amount - txn.amount)}, kind="bank_fee")
        self.outcomes.append(Outcome(txn.transaction_id, payer, how, ALLOCATED))
        return True

    def _manual(self, txn, payer, how, decisions) -> None:
        outcome = Outcome(txn.transaction_id, payer, how, ON_ACCOUNT if payer else EXCEPTION,
                          "" if payer else "UNKNOWN_PAYER")
        left = txn.amount
        for inv_id, action, amount, decided_by, decided_at, note in decisions:
            inv = self.book.invoices.get(inv_id) if inv_id else None
            evidence = {"decided_at": decided_at, "note": note or ""}
            if action == "not_ar":
                outcome = Outcome(txn.transaction_id, None, "person", NOT_AR)
            elif action == "on_account":
                outcome = Outcome(txn.transaction_id, payer, how or "person", ON_ACCOUNT)
            elif action == "allocate" and inv is not None and inv.currency == txn.currency:
                open_amount = self.book.open_amount(inv, txn.effective_date)
                applied = min(amount or left, left, max(open_amount, ZERO))
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

    def _returned(self, txn, receipts_seen) -> None:
        original = None
        refs = {txn.reversal_of} - {None, ""}
        for r in reversed(receipts_seen):
            if r.transaction_id in refs or (r.bank_reference and r.bank_reference in refs) or (
                    txn.end_to_end_id not in ("", "NOTPROVIDED") and r.end_to_end_id == txn.end_to_end_id):
                original = r
                break
        if original is None:  # the same payer and the same amount, the latest earlier receipt
            same = [r for r in receipts_seen if r.account_key and r.account_key == txn.account_key
                    and r.amount == -txn.amount and r.currency == txn.currency
                    and r.transaction_id not in self._returned_ids]
            original = same[-1] if same else None
        if original is None:
            return
        self._returned_ids.add(original.transaction_id)
        for entry in list(self.applied_by_txn.get(original.transaction_id, ())):
            inv = self.book.invoices[entry.invoice_id]
            self._entry(original, inv, -entry.amount, "payment_returned", 1.0,
                        {"return_transaction": txn.transaction_id, "return_reason": txn.return_reason or ""},
                        on=txn.effective_date)
        for outcome in self.outcomes:
            if outcome.transaction_id == original.transaction_id:
                outcome.outcome, outcome.reason_code = RETURNED, txn.return_reason or ""


@dataclass
class _Txn:
    transaction_id: str
    bank_reference: str | None
    effective_date: date
    amount: Decimal
    currency: str
    counterparty_name: str | None
    account_key: str
    remittance_info: str
    end_to_end_id: str
    is_reversal: bool
    reversal_of: str | None
    return_reason: str | None


def match(con: duckdb.DuckDBPyConnection, as_of: date, config: MatcherSettings) -> MatchResult:
    """Run the matcher over every transaction effective on or before ``as_of``."""
    return Matcher(con, as_of, config).run()


def store_outcomes(con: duckdb.DuckDBPyConnection, result: MatchResult, as_of: date, run_id: str) -> None:
    """Replace the night's receipt outcomes (recon.receipt_outcomes for ``as_of``)."""
    import pandas as pd

    frame = pd.DataFrame(
        [{"transaction_id": o.transaction_id, "payer_customer_id": o.payer_customer_id,
          "payer_evidence": o.payer_evidence, "outcome": o.outcome, "reason_code": o.reason_code,
          "candidates": ";".join(o.candidates)} for o in result.outcomes],
        columns=["transaction_id", "payer_customer_id", "payer_evidence", "outcome", "reason_code",
                 "candidates"], dtype=object)
    con.register("_outcomes_in", frame)
    try:
        con.execute("DELETE FROM recon.receipt_outcomes WHERE as_of_date = ?", [as_of])
        con.execute("INSERT INTO recon.receipt_outcomes SELECT ?, ?, transaction_id, payer_customer_id, "
                    "payer_evidence, outcome, nullif(reason_code, ''), nullif(candidates, '') "
                    "FROM _outcomes_in", [as_of, run_id])
    finally:
        con.unregister("_outcomes_in")
