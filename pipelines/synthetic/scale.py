"""A fast, set-based generator for the benchmark sizes (S 100k, M 1M, L 10M invoices).

``pipelines.synthetic.generator`` draws every value in Python and numpy and writes the truth of
each payment: right for tests and the quality benchmark, too slow for 10 million invoices. This
module writes an inbox of the same shape with DuckDB SQL only: every value is a pure function
of (seed, row number), computed by ``hash()`` in SQL and written with ``COPY ... TO``, so the
generation streams (bounded memory, both cores) and the same seed gives the same rows.

The world (``docs/generator.md`` describes the full generator's; this one keeps its shape):

- **customers** with a currency (EUR 70%, USD 15%, CHF 15%), country, legal form, credit
  limit (15% none), terms 14/30/45/60 days, a salesperson, 0–2 IBANs (valid check digits) and
  for a third an alias (the name without its legal form); 5% bill one fixed fee, so amounts
  repeat;
- **salespeople** in teams under a head of sales; **collection targets** per salesperson,
  month and currency (what falls due, ±10%); **fx rates** for USD and CHF per business day;
- **orders**, one per invoice, plus 4% still open; **invoices** issued evenly over the
  ``months`` ending at ``end_date``, numbered ``INV-<year>-<8 digits>``; 1% cancelled, 2.5%
  disputed, salesperson blank for 60%; **credit notes** on 3.5% (a third for the full
  amount);
- **bank transactions** in the contract's generic CSV layout, one file per account and month:
  payments of invoices — quoting the number exactly (57%), a variant of it (3.5%: no prefix,
  no leading zeros, separators), an RF creditor reference (4%) or nothing, paying by amount
  from a known account (20%) — two invoices in one payment (every 40th pair), partial payments
  with their rest weeks later, short by bank fees, overpaid, paid by a third party, returned
  and paid again; payers unknown to master data, non-AR credits (interest, refunds) and
  outgoing debits. About 3% of invoices are never paid, and whatever falls due late is open.

``generate_scale(out, invoices)`` writes the inbox as of ``end_date`` into ``out/inbox``;
``write_increment(out, invoices)`` then adds "one more day": new files only (ERP invoices
and orders issued on ``end_date + 1``, bank files with the payments booked that day), about
``day_invoices`` new invoices and as many payments of invoices open at ``end_date``.

There is no truth file: the benchmark measures speed, ``pipelines.bench --only quality``
measures correctness on the full generator's mix.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import date, timedelta
from pathlib import Path

import duckdb

from pipelines.synthetic import words

# Our bank accounts, one per currency: (file prefix, IBAN, currency, reference prefix).
ACCOUNTS: tuple[tuple[str, str, str, str], ...] = (
    ("nb", "DE44500105175407324931", "EUR", "NB"),
    ("nu", "DE22500105175407324932", "USD", "NU"),
    ("hp", "CH9300762011623852957", "CHF", "HP"),
)
BANK_COLUMNS = ("account", "booking_date", "value_date", "amount", "currency", "counterparty_name",
                "counterparty_account", "reference", "remittance_info")
ERP_FORMATS = ("parquet", "csv")
MULTI_EVERY = 40  # invoices i and i+1 with i % 40 == 0 belong to one customer and may be paid together
SLOTS = 4  # bank rows per invoice at most: payment, rest or return, repayment


@dataclass(frozen=True)
class ScaleSummary:
    invoices: int
    customers: int
    salespeople: int
    orders: int
    credit_notes: int
    bank_transactions: int
    bank_files: int
    erp_files: int
    seconds: float
    bytes: int


def _sql_list(values) -> str:
    return "[" + ", ".join("'" + v.replace("'", "''") + "'" for v in values) + "]"


def _pick(values, h: str) -> str:
    """One element of ``values`` chosen by the hash expression ``h``."""
    return f"{_sql_list(values)}[1 + ({h}) % {len(values)}]"


class _World:
    """The SQL macros every value is computed with: pure functions of (seed, row number)."""

    def __init__(self, con: duckdb.DuckDBPyConnection, invoices: int, seed: int, end_date: date,
                 months: int, customers: int | None):
        if invoices < MULTI_EVERY:
            raise ValueError(f"invoices: expected at least {MULTI_EVERY}, found {invoices}")
        self.con = con
        self.n = invoices
        self.seed = int(seed)
        self.end = end_date
        first = date(end_date.year, end_date.month, 1)
        for _ in range(months - 1):
            first = (first - timedelta(days=1)).replace(day=1)
        self.start = first
        self.span = (end_date - first).days + 1
        self.customers = customers or max(100, invoices // 40)
        self.salespeople = max(10, min(200, self.customers // 1000))
        self.extras = invoices // 25  # bank rows that pay no invoice: unknown payers, non-AR, debits
        self._macros()

    # ------------------------------------------------------------------ macros
    def _macros(self) -> None:
        s, c = self.seed, self.customers
        con = self.con
        con.execute(f"CREATE OR REPLACE MACRO h(x, salt) AS (hash(x, {s}, salt) >> 1)::BIGINT")
        con.execute("CREATE OR REPLACE MACRO u(x, salt) AS (h(x, salt) % 1000003)::DOUBLE / 1000003")
        con.execute("CREATE OR REPLACE MACRO cents_text(x) AS (x::DECIMAL(38, 0) / 100)::DECIMAL(18, 2)")
        # customers: pure functions of c in [0, customers)
        con.execute("""CREATE OR REPLACE MACRO c_ccy(c) AS CASE WHEN u(c, 'ccy') < 0.70 THEN 'EUR'
                         WHEN u(c, 'ccy') < 0.85 THEN 'USD' ELSE 'CHF' END""")
        eur = ("DE",) * 5 + ("AT", "NL", "FR", "BE", "IE", "FI")
        con.execute(f"""CREATE OR REPLACE MACRO c_country(c) AS CASE c_ccy(c)
                         WHEN 'EUR' THEN {_pick(eur, "h(c, 'country')")}
                         WHEN 'USD' THEN {_pick(("GB", "GB", "IE", "NL", "DE", "SE"), "h(c, 'country')")}
                         ELSE {_pick(("CH",) * 6 + ("DE",), "h(c, 'country')")} END""")
        legal = {k: v for k, v in words.LEGAL_FORMS.items()}
        forms = " ".join(f"WHEN '{k}' THEN {_pick(v, 'h(c, ' + chr(39) + 'form' + chr(39) + ')')}"
                         for k, v in legal.items())
        con.execute(f"CREATE OR REPLACE MACRO c_form(c) AS CASE c_country(c) {forms} ELSE 'GmbH' END")
        de_words = words.SURNAMES_DE + words.BRANDS_DE
        en_words = words.WORDS_EN + words.WORDS_NORDIC + words.WORDS_NL_BE + words.WORDS_FR
        con.execute(f"""CREATE OR REPLACE MACRO c_base(c) AS CASE
                         WHEN c_country(c) IN ('DE', 'AT', 'CH')
                           THEN {_pick(de_words, "h(c, 'w1')")} || ' ' || {_pick(words.INDUSTRIES_DE, "h(c, 'w2')")}
                         ELSE {_pick(en_words, "h(c, 'w1')")} || ' ' || {_pick(words.INDUSTRIES_EN, "h(c, 'w2')")} END
                         || CASE WHEN u(c, 'city') < 0.6 THEN ' ' || {_pick(words.CITIES, "h(c, 'w3')")} ELSE '' END""")
        con.execute("CREATE OR REPLACE MACRO c_name(c) AS c_base(c) || ' ' || c_form(c)")
        con.execute("CREATE OR REPLACE MACRO c_id(c) AS (100000 + c)::VARCHAR")
        terms = _pick(("14", "30", "30", "45", "60"), "h(c, 'terms')")
        con.execute(f"CREATE OR REPLACE MACRO c_terms(c) AS {terms}::INTEGER")
        con.execute(f"CREATE OR REPLACE MACRO c_sp(c) AS 'SP' || lpad((2 + h(c, 'sp') % {self.salespeople - 1})::VARCHAR, 4, '0')")
        con.execute("CREATE OR REPLACE MACRO c_naccounts(c) AS CASE WHEN u(c, 'nacc') < 0.10 THEN 0 "
                    "WHEN u(c, 'nacc') < 0.85 THEN 1 ELSE 2 END")
        # A German IBAN with valid check digits: DE kk + 8-digit bank code + 10-digit account.
        con.execute("""CREATE OR REPLACE MACRO iban_de(bban) AS
                         'DE' || lpad((98 - ((bban || '131400')::HUGEINT % 97))::VARCHAR, 2, '0') || bban""")
        con.execute("CREATE OR REPLACE MACRO c_account(c, k) AS iban_de("
                    "lpad((10000000 + h(c, 'blz' || k) % 89999999)::VARCHAR, 8, '0') || "
                    "lpad((h(c, 'acct' || k) % 10000000000)::VARCHAR, 10, '0'))")
        con.execute("CREATE OR REPLACE MACRO c_fee(c) AS CASE WHEN u(c, 'fee') < 0.05 "
                    "THEN 4900 + 5000 * (h(c, 'feeamt') % 40) END")
        # invoices: pure functions of i in [0, invoices + increment)
        con.execute(f"CREATE OR REPLACE MACRO i_cust(i) AS h(i - CASE WHEN i % {MULTI_EVERY} = 1 "
                    f"THEN 1 ELSE 0 END, 'cust') % {c}")
        con.execute(f"""CREATE OR REPLACE MACRO i_issue(i) AS CASE WHEN i < {self.n}
                         THEN DATE '{self.start}' + ((i * {self.span}) // {self.n})::INTEGER
                         ELSE DATE '{self.end}' + 1 END""")
        # about log-normal around 1,500.00; a fixed fee for subscription customers
        con.execute("""CREATE OR REPLACE MACRO i_cents(i) AS coalesce(c_fee(i_cust(i)),
                         CASE WHEN u(i, 'round') < 0.2 THEN 100 ELSE 1 END * round(greatest(2000, least(500000000,
                           exp(ln(150000) + 1.1 * (u(i, 'a1') + u(i, 'a2') + u(i, 'a3') + u(i, 'a4') - 2) * 1.732)))
                           / CASE WHEN u(i, 'round') < 0.2 THEN 100 ELSE 1 END)::BIGINT)""")
        con.execute("CREATE OR REPLACE MACRO i_number(i) AS 'INV-' || year(i_issue(i)) || '-' || "
                    "lpad((i + 1)::VARCHAR, 8, '0')")
        con.execute("CREATE OR REPLACE MACRO i_id(i) AS printf('%08x-%010d', h(i, 'id') % 4294967296, i)")
        con.execute("CREATE OR REPLACE MACRO i_cancelled(i) AS u(i, 'cancel') < 0.01")
        con.execute("CREATE OR REPLACE MACRO i_credited(i) AS u(i, 'cn') < 0.035")
        con.execute("CREATE OR REPLACE MACRO i_full_credit(i) AS i_credited(i) AND u(i, 'cnf') < 0.333")
        con.execute("CREATE OR REPLACE MACRO i_excluded(i) AS i_cancelled(i) OR i_full_credit(i)")
        con.execute("CREATE OR REPLACE MACRO i_cn_cents(i) AS CASE WHEN i_full_credit(i) THEN i_cents(i) "
                    "ELSE greatest(100, round(i_cents(i) * (0.1 + 0.4 * u(i, 'cnshare')))::BIGINT) END")
        con.execute(f"CREATE OR REPLACE MACRO i_multi(i) AS i % {MULTI_EVERY} = 0 AND i + 1 < {self.n} "
                    "AND NOT i_excluded(i) AND NOT i_excluded(i + 1)")
        # RF creditor reference (ISO 11649) of an invoice number INV-yyyy-nnnnnnnn: body
        # INVyyyynnnnnnnn; I=18 N=23 V=31, R=27 F=15.
        con.execute("""CREATE OR REPLACE MACRO rf_ref(num) AS
                         'RF' || lpad((98 - (('182331' || regexp_replace(num, '[^0-9]', '', 'g') || '271500')::HUGEINT
                         % 97))::VARCHAR, 2, '0') || regexp_replace(num, '[^A-Z0-9]', '', 'g')""")

    # ------------------------------------------------------------------ ERP rows
    def customers_sql(self, text: bool) -> str:
        ts = self._ts(f"DATE '{self.start}' - 30 - (h(c, 'upd') % 400)::INTEGER", "c", text)
        return f"""
            SELECT c_id(c) AS customer_id, c_name(c) AS name, c_country(c) AS country,
                   c_ccy(c) AS currency,
                   CASE WHEN u(c, 'limit') < 0.15 THEN NULL
                        ELSE ((1 + h(c, 'limitamt') % 200) * 1000)::DECIMAL(18, 2) END AS credit_limit,
                   c_terms(c) AS payment_terms_days, c_sp(c) AS salesperson_id,
                   u(c, 'key') < 0.05 AS is_key_account,
                   CASE c_naccounts(c) WHEN 0 THEN NULL WHEN 1 THEN c_account(c, 1)
                        ELSE c_account(c, 1) || ';' || c_account(c, 2) END AS bank_accounts,
                   CASE WHEN u(c, 'alias') < 0.33 THEN c_base(c) END AS aliases,
                   {ts} AS updated_at
            FROM range({self.customers}) t(c) ORDER BY c"""

    def salespeople_sql(self) -> str:
        teams = ("DACH", "Benelux", "France", "Nordics", "UK & Ireland")
        names = _pick(words.FIRST_NAMES, "h(p, 'first')") + " || ' ' || " + _pick(words.LAST_NAMES, "h(p, 'last')")
        return f"""
            SELECT 'SP' || lpad(p::VARCHAR, 4, '0') AS salesperson_id, {names} AS name,
                   CASE WHEN p = 1 THEN 'Management' ELSE {_pick(teams, 'p')} END AS team,
                   CASE WHEN p = 1 THEN NULL ELSE 'SP0001' END AS manager_id
            FROM range(1, {self.salespeople + 1}) t(p) ORDER BY p"""

    @staticmethod
    def _ts(day: str, x: str, text: bool) -> str:
        expr = f"({day})::TIMESTAMP + to_seconds((28800 + h({x}, 'sec') % 36000)::BIGINT)"
        return f"strftime({expr}, '%Y-%m-%dT%H:%M:%S')" if text else expr

    def invoices_sql(self, lo: int, hi: int, text: bool) -> str:
        return f"""
            SELECT i_id(i) AS invoice_id, i_number(i) AS invoice_number,
                   'SO' || lpad(i::VARCHAR, 10, '0') AS order_id, c_id(i_cust(i)) AS customer_id,
                   CASE WHEN u(i, 'spblank') < 0.6 THEN NULL ELSE c_sp(i_cust(i)) END AS salesperson_id,
                   i_issue(i) AS issue_date, i_issue(i) + c_terms(i_cust(i)) AS due_date,
                   c_ccy(i_cust(i)) AS currency, cents_text(i_cents(i)) AS amount,
                   CASE WHEN i_cancelled(i) THEN 'cancelled' ELSE 'issued' END AS status,
                   u(i, 'disputed') < 0.025 AS disputed,
                   {self._ts('i_issue(i)', 'i', text)} AS updated_at
            FROM range({lo}, {hi}) t(i) ORDER BY i"""

    def orders_sql(self, lo: int, hi: int, text: bool, open_lo: int = 0, open_hi: int = 0) -> str:
        """Orders of invoices lo..hi, and the open orders open_lo..open_hi (numbered after all
        invoices, dated in the last 45 days)."""
        open_part = ""
        if open_hi > open_lo:
            day = f"DATE '{self.end}' - (h(o, 'odate') % 45)::INTEGER"
            open_part = f"""
            UNION ALL
            SELECT 'SO' || lpad(o::VARCHAR, 10, '0'), c_id(h(o, 'cust') % {self.customers}),
                   c_sp(h(o, 'cust') % {self.customers}), {day},
                   c_ccy(h(o, 'cust') % {self.customers}), cents_text(i_cents(o)),
                   CASE WHEN u(o, 'ocancel') < 0.25 THEN 'cancelled' ELSE 'open' END,
                   {self._ts(day, 'o', text)}
            FROM range({open_lo}, {open_hi}) t(o)"""
        return f"""
            SELECT * FROM (
            SELECT 'SO' || lpad(i::VARCHAR, 10, '0') AS order_id, c_id(i_cust(i)) AS customer_id,
                   c_sp(i_cust(i)) AS salesperson_id,
                   i_issue(i) - (h(i, 'odays') % 14)::INTEGER AS order_date,
                   c_ccy(i_cust(i)) AS currency, cents_text(i_cents(i)) AS amount,
                   'invoiced' AS status, {self._ts('i_issue(i)', 'i', text)} AS updated_at
            FROM range({lo}, {hi}) t(i)
            {open_part}) ORDER BY order_id"""

    def credit_notes_sql(self) -> str:
        day = "i_issue(i) + (5 + h(i, 'cndays') % 25)::INTEGER"
        return f"""
            SELECT * FROM (
            SELECT 'CN-' || lpad(i::VARCHAR, 10, '0') AS credit_note_id, i_id(i) AS invoice_id,
                   c_id(i_cust(i)) AS customer_id, {day} AS issue_date, c_ccy(i_cust(i)) AS currency,
                   cents_text(i_cn_cents(i)) AS amount
            FROM range({self.n}) t(i)
            WHERE i_credited(i) AND NOT i_cancelled(i) AND {day} <= DATE '{self.end}'
            UNION ALL  -- a few credits on the customer's account
            SELECT 'CN-A' || lpad(k::VARCHAR, 9, '0'), NULL, c_id(h(k, 'cnacust') % {self.customers}),
                   DATE '{self.start}' + (h(k, 'cnaday') % {self.span})::INTEGER,
                   c_ccy(h(k, 'cnacust') % {self.customers}), cents_text(5000 + h(k, 'cnaamt') % 100000)
            FROM range({max(1, self.n // 2000)}) t(k)) ORDER BY credit_note_id"""

    def targets_sql(self) -> str:
        return f"""
            SELECT salesperson_id, period, currency,
                   (round(due * (0.9 + 0.2 * u(hash(salesperson_id, period, currency), 'target')), -2)
                    / 100)::DECIMAL(18, 2) AS target_amount
            FROM (
                SELECT c_sp(i_cust(i)) AS salesperson_id, strftime(i_issue(i) + c_terms(i_cust(i)), '%Y-%m') AS period,
                       c_ccy(i_cust(i)) AS currency, sum(i_cents(i)) AS due
                FROM range({self.n}) t(i) WHERE NOT i_cancelled(i) GROUP BY ALL)
            WHERE period <= strftime(DATE '{self.end}', '%Y-%m')
            ORDER BY salesperson_id, period, currency"""

    def fx_sql(self, first: date, last: date) -> str:
        return f"""
            SELECT d::DATE AS date, ccy AS currency,
                   round(base * (1 + 0.04 * sin(epoch(d) / 86400 / 45) + 0.004 * (u(epoch(d)::BIGINT, ccy) - 0.5)), 6)
                     ::DECIMAL(18, 6) AS rate_to_reporting
            FROM range(DATE '{first}', DATE '{last}' + 1, INTERVAL 1 DAY) t(d),
                 (VALUES ('USD', 0.92), ('CHF', 1.05)) r(ccy, base)
            WHERE isodow(d) <= 5 ORDER BY d, ccy"""

    # ------------------------------------------------------------------ bank rows
    def first_payments_sql(self) -> str:
        """One row per invoice of 0..n that gets paid: its kind, payer, the first payment's date,
        amount (``amount0``) and text (``text0``), and what the invoice is owed (``paid_cents``)."""
        kind = f"""CASE WHEN i_multi(i) THEN 'multi'
                  WHEN i % {MULTI_EVERY} = 1 AND i_multi(i - 1) THEN 'in_multi'
                  WHEN i_excluded(i) THEN 'none'
                  WHEN u(i, 'kind') < 0.03 THEN 'none'
                  WHEN u(i, 'kind') < 0.60 THEN 'ref'
                  WHEN u(i, 'kind') < 0.80 THEN 'amount'
                  WHEN u(i, 'kind') < 0.84 THEN 'partial'
                  WHEN u(i, 'kind') < 0.87 THEN 'fee_short'
                  WHEN u(i, 'kind') < 0.89 THEN 'overpaid'
                  WHEN u(i, 'kind') < 0.91 THEN 'third_party'
                  WHEN u(i, 'kind') < 0.925 THEN 'returned'
                  WHEN u(i, 'kind') < 0.965 THEN 'rf'
                  ELSE 'variant' END"""
        late = ("CASE WHEN u(i, 'late') < 0.12 THEN 30 + h(i, 'lated') % 120 "
                "ELSE h(i, 'paydays') % 40 END - 10")
        base = f"""
            SELECT i, c, kind, ccy, num, cents, paid_cents,
                   greatest(issue + 1, due + ({late})::INTEGER) AS pay_date,
                   CASE WHEN kind = 'third_party' THEN
                        replace({_pick(words.THIRD_PARTY_PATTERNS, "h(i, 'tpp')")}, '{{w}}',
                                {_pick(words.THIRD_PARTY_WORDS, "h(i, 'tpw')")})
                        WHEN u(i, 'upper') < 0.2 THEN upper(c_name(c)) ELSE c_name(c) END AS payer,
                   CASE WHEN kind = 'third_party' OR c_naccounts(c) = 0 OR u(i, 'newacct') < 0.04
                          THEN c_account(h(i, 'tp'), 9)
                        WHEN c_naccounts(c) = 2 AND u(i, 'acct2') < 0.3 THEN c_account(c, 2)
                        ELSE c_account(c, 1) END AS payer_account
            FROM (
                SELECT i, i_cust(i) AS c, {kind} AS kind, c_ccy(i_cust(i)) AS ccy, i_number(i) AS num,
                       i_cents(i) AS cents, i_issue(i) AS issue,
                       CASE WHEN i_multi(i) THEN i_issue(i + 1) ELSE i_issue(i) END + c_terms(i_cust(i)) AS due,
                       CASE WHEN i_multi(i) THEN i_cents(i) + i_cents(i + 1)
                            WHEN i_credited(i) THEN i_cents(i) - i_cn_cents(i)
                            ELSE i_cents(i) END AS paid_cents
                FROM range({self.n}) t(i))
            WHERE kind NOT IN ('none', 'in_multi')"""
        quoted = """CASE h(i, 'text') % 6 WHEN 0 THEN num WHEN 1 THEN 'Invoice ' || num
                    WHEN 2 THEN 'Rechnung Nr. ' || num WHEN 3 THEN 'Payment ' || num || ' thank you'
                    WHEN 4 THEN 'RE ' || num || ' Kd ' || c_id(c) ELSE 'Facture ' || num END"""
        variant = """CASE h(i, 'variant') % 4
                     WHEN 0 THEN substr(num, 5)
                     WHEN 1 THEN replace(num, '-', ' ')
                     WHEN 2 THEN 'INV-' || substr(num, 5, 4) || '-' || ltrim(substr(num, 10), '0')
                     ELSE 'Rechnung ' || substr(num, 5, 4) || '-' || ltrim(substr(num, 10), '0') END"""
        pair_text = """CASE h(i, 'ptext') % 3 WHEN 0 THEN 'Invoices ' || num || ', ' || i_number(i + 1)
                       WHEN 1 THEN 'Rechnungen ' || num || ' ' || i_number(i + 1)
                       ELSE 'INV ' || num || ' / ' || i_number(i + 1) END"""
        no_ref = _pick(words.NO_REFERENCE_TEXTS, "h(i, 'noref')")
        text0 = f"""CASE kind WHEN 'amount' THEN {no_ref}
                    WHEN 'multi' THEN CASE WHEN u(i, 'mref') < 0.8 THEN {pair_text} ELSE {no_ref} END
                    WHEN 'rf' THEN 'Payment ' || rf_ref(num)
                    WHEN 'variant' THEN {variant}
                    ELSE {quoted} END"""
        amount0 = """CASE kind
                     WHEN 'partial' THEN greatest(1000, round(paid_cents * (0.2 + 0.5 * u(i, 'part')), -3)::BIGINT)
                     WHEN 'fee_short' THEN paid_cents - least(paid_cents // 100, 1 + h(i, 'fee') % 750)
                     WHEN 'overpaid' THEN paid_cents + 1 + (paid_cents * 0.1 * u(i, 'over'))::BIGINT
                     ELSE paid_cents END"""
        return f"SELECT *, {text0} AS text0, {amount0} AS amount0 FROM ({base})"

    def payments_sql(self, increment: int = 0, p_inc: float = 0.0) -> str:
        """Every bank row up to the end date: payments of invoices 0..n and the extras. With
        ``increment`` > 0 the rows of one more day (end + 1) instead: the first payment of a
        sample (share ``p_inc``) of the invoices first paid after the end date, and the day's
        extras."""
        d = f"DATE '{self.end}'"
        ref_prefix = "CASE ccy " + " ".join(f"WHEN '{ccy}' THEN '{pfx}'" for _, _, ccy, pfx in ACCOUNTS) + " END"
        if increment:
            rows = f"""
                SELECT i * {SLOTS} AS k, ccy, {d} + 1 AS day, amount0 AS cents, payer, payer_account,
                       text0 AS text
                FROM ({self.first_payments_sql()})
                WHERE pay_date > {d} AND u(i, 'inc') < {p_inc!r}
                UNION ALL
                {self._extras_sql(self.extras, self.extras + max(1, increment // 25), f'{d} + 1')}"""
        else:
            ref0 = f"({ref_prefix}) || strftime(pay_date, '%Y%m%d') || lpad((i * {SLOTS})::VARCHAR, 11, '0')"
            return_code = _pick(("AC04", "MD06", "AM04", "MS02"), "h(i, 'rr')")
            rows = f"""
                SELECT * FROM (
                WITH p0 AS MATERIALIZED ({self.first_payments_sql()})
                SELECT i * {SLOTS} AS k, ccy, pay_date AS day, amount0 AS cents, payer, payer_account,
                       text0 AS text FROM p0
                UNION ALL  -- the rest of a partial payment
                SELECT i * {SLOTS} + 1, ccy, pay_date + (10 + h(i, 'rest') % 30)::INTEGER,
                       paid_cents - amount0, payer, payer_account, text0 FROM p0
                WHERE kind = 'partial' AND paid_cents > amount0
                UNION ALL  -- the bank returns a payment, quoting the original's reference
                SELECT i * {SLOTS} + 2, ccy, pay_date + (2 + h(i, 'ret') % 5)::INTEGER, -amount0, payer,
                       payer_account, 'RETURN ' || {return_code} || ' ORIGINAL REF ' || {ref0} || ' ' || text0
                FROM p0 WHERE kind = 'returned'
                UNION ALL  -- and the customer pays again, from another account
                SELECT i * {SLOTS} + 3, ccy, pay_date + (12 + h(i, 'repay') % 10)::INTEGER, amount0, payer,
                       c_account(c, 1), text0 FROM p0
                WHERE kind = 'returned'
                UNION ALL
                {self._extras_sql()})
                WHERE day <= {d}"""
        accounts = "CASE ccy " + " ".join(f"WHEN '{ccy}' THEN '{iban}'" for _, iban, ccy, _ in ACCOUNTS) + " END"
        return f"""
            SELECT {accounts} AS account, day AS booking_date, day AS value_date,
                   cents_text(cents) AS amount, ccy AS currency, payer AS counterparty_name,
                   payer_account AS counterparty_account,
                   ({ref_prefix}) || strftime(day, '%Y%m%d') || lpad(k::VARCHAR, 11, '0') AS reference,
                   text AS remittance_info
            FROM ({rows})"""

    def _extras_sql(self, lo: int = 0, hi: int | None = None, day: str | None = None) -> str:
        """Bank rows that pay no invoice: unknown payers (40%), non-AR credits (15%), outgoing
        debits (45%). Keys after every invoice's."""
        hi = self.extras if hi is None else hi
        day = day or f"DATE '{self.start}' + (h(j, 'xday') % {self.span})::INTEGER"
        key0 = SLOTS * (self.n * 2 + 10)
        person = _pick(words.FIRST_NAMES, "h(j, 'xf')") + " || ' ' || " + _pick(words.LAST_NAMES, "h(j, 'xl')")
        unknown_text = _pick(words.UNKNOWN_PAYER_TEXTS, "h(j, 'xt')")
        supplier = _pick(words.SUPPLIERS, "h(j, 'xs')")
        non_ar = _pick(("Zinsgutschrift", "Steuererstattung Finanzamt", "Gutschrift Lieferant",
                        "Interest credit", "Refund"), "h(j, 'xn')")
        return f"""
            SELECT {key0} + j, CASE WHEN u(j, 'xccy') < 0.8 THEN 'EUR' WHEN u(j, 'xccy') < 0.9 THEN 'USD'
                                    ELSE 'CHF' END, {day},
                   CASE WHEN u(j, 'xkind') < 0.55 THEN 1 ELSE -1 END * (500 + h(j, 'xamt') % 2000000),
                   CASE WHEN u(j, 'xkind') < 0.40 THEN {person}
                        WHEN u(j, 'xkind') < 0.55 THEN 'Finanzamt / Bank' ELSE {supplier} END,
                   CASE WHEN u(j, 'xkind') < 0.55 AND u(j, 'xkind') >= 0.40 THEN NULL
                        ELSE c_account(h(j, 'xacct'), 7) END,
                   CASE WHEN u(j, 'xkind') < 0.40 THEN {unknown_text}
                        WHEN u(j, 'xkind') < 0.55 THEN {non_ar}
                        ELSE 'Rechnung ' || (100000 + h(j, 'xinv') % 900000) || ' Lieferung' END
            FROM range({lo}, {hi}) t(j)"""

    def future_payments(self) -> int:
        """How many invoices of 0..n are first paid after the end date (candidates for the next day)."""
        return int(self.con.execute(f"SELECT count(*) FROM ({self.first_payments_sql()}) "
                                    f"WHERE pay_date > DATE '{self.end}'").fetchone()[0])


# ---------------------------------------------------------------------- writing
def _copy(con: duckdb.DuckDBPyConnection, sql: str, path: Path, fmt: str) -> int:
    options = "FORMAT parquet, COMPRESSION zstd" if fmt == "parquet" else "FORMAT csv, HEADER true"
    path.parent.mkdir(parents=True, exist_ok=True)
    con.execute(f"COPY ({sql}) TO '{path}' ({options})")
    return int(con.execute(f"SELECT count(*) FROM read_{fmt}('{path}')").fetchone()[0]) \
        if fmt == "parquet" else sum(1 for _ in path.open("rb")) - 1


def _connect(work: Path, threads: int, memory_limit: str) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(str(work / "scale.duckdb"), config={
        "threads": threads, "memory_limit": memory_limit, "preserve_insertion_order": True,
        "temp_directory": str(work / "spill")})
    con.execute("SET enable_progress_bar = false")
    return con


def _months(first: date, last: date) -> list[tuple[date, date]]:
    out = []
    m = first.replace(day=1)
    while m <= last:
        nxt = (m + timedelta(days=32)).replace(day=1)
        out.append((m, min(nxt - timedelta(days=1), last)))
        m = nxt
    return out


def _prepare(out_dir: Path) -> Path:
    inbox = out_dir / "inbox"
    if inbox.exists() and any(inbox.rglob("*")):
        raise FileExistsError(f"{inbox}: expected an empty or missing inbox, found files")
    for sub in ("erp", "bank", "manual"):
        (inbox / sub).mkdir(parents=True, exist_ok=True)
    return inbox


def _write_bank(con: duckdb.DuckDBPyConnection, bank: Path, suffixes: list[tuple[str, str, str]]) -> tuple[int, int]:
    """Write table ``_pay`` into one CSV per (account, period); ``suffixes`` lists (suffix,
    first day, last day). Returns (rows, files)."""
    rows = files = 0
    for prefix, iban, _ccy, _ in ACCOUNTS:
        for suffix, first, last in suffixes:
            sql = (f"SELECT {', '.join(BANK_COLUMNS)} FROM _pay WHERE account = '{iban}' "
                   f"AND booking_date BETWEEN DATE '{first}' AND DATE '{last}' ORDER BY booking_date, reference")
            if not con.execute(f"SELECT count(*) FROM ({sql})").fetchone()[0]:
                continue
            rows += _copy(con, sql, bank / f"{prefix}_{iban}_{suffix}.csv", "csv")
            files += 1
    return rows, files


@contextmanager
def _world(out_dir: Path, invoices: int, seed: int, end_date: date, months: int, customers: int | None,
           threads: int, memory_limit: str) -> Iterator[tuple[duckdb.DuckDBPyConnection, _World]]:
    """A scratch DuckDB session (in a temp folder under ``out_dir``) and the generated world."""
    with tempfile.TemporaryDirectory(prefix="arw-scale-", dir=out_dir) as tmp:
        con = _connect(Path(tmp), threads, memory_limit)
        try:
            yield con, _World(con, invoices, seed, end_date, months, customers)
        finally:
            con.close()


def generate_scale(out_dir: Path, invoices: int, seed: int = 7, end_date: date = date(2026, 10, 31),
                   months: int = 18, customers: int | None = None, erp_format: str = "parquet",
                   threads: int = 2, memory_limit: str = "4GB") -> ScaleSummary:
    """Write the inbox as of ``end_date`` into ``out_dir/inbox`` (see the module docstring)."""
    if erp_format not in ERP_FORMATS:
        raise ValueError(f"erp_format: expected one of {', '.join(ERP_FORMATS)}, found {erp_format!r}")
    started = time.monotonic()
    inbox = _prepare(out_dir)
    ext = erp_format
    text = erp_format == "csv"
    with _world(out_dir, invoices, seed, end_date, months, customers, threads,
                memory_limit) as (con, w):
        erp = inbox / "erp"
        erp_files = 0
        _copy(con, w.customers_sql(text), erp / f"customers.{ext}", ext)
        _copy(con, w.salespeople_sql(), erp / f"salespeople.{ext}", ext)
        order_count = 0
        open_orders = invoices // 25
        months_list = _months(w.start, end_date)
        for first, last in months_list:
            lo = -(-invoices * (first - w.start).days // w.span)  # first i issued in the month
            hi = -(-invoices * ((last - w.start).days + 1) // w.span)
            _copy(con, w.invoices_sql(lo, hi, text), erp / f"invoices_{first:%Y-%m}.{ext}", ext)
            last_month = last == end_date
            base_open = invoices * SLOTS  # open orders numbered after every invoice
            order_count += _copy(con, w.orders_sql(lo, hi, text, base_open if last_month else 0,
                                                   base_open + open_orders if last_month else 0),
                                 erp / f"orders_{first:%Y-%m}.{ext}", ext)
            erp_files += 2
        credit_notes = _copy(con, w.credit_notes_sql(), erp / f"credit_notes.{ext}", ext)
        _copy(con, w.targets_sql(), erp / f"collection_targets.{ext}", ext)
        _copy(con, w.fx_sql(w.start - timedelta(days=10), end_date), erp / f"fx_rates.{ext}", ext)
        erp_files += 5
        con.execute(f"CREATE TABLE _pay AS {w.payments_sql()}")
        rows, files = _write_bank(con, inbox / "bank", [
            (f"{first:%Y-%m}", first.isoformat(), last.isoformat()) for first, last in months_list])
        summary = ScaleSummary(invoices=invoices, customers=w.customers, salespeople=w.salespeople,
                               orders=order_count, credit_notes=credit_notes, bank_transactions=rows,
                               bank_files=files, erp_files=erp_files,
                               seconds=round(time.monotonic() - started, 1),
                               bytes=sum(p.stat().st_size for p in inbox.rglob("*") if p.is_file()))
    return summary


def write_increment(out_dir: Path, invoices: int, seed: int = 7, end_date: date = date(2026, 10, 31),
                    months: int = 18, customers: int | None = None, erp_format: str = "parquet",
                    day_invoices: int = 20_000, threads: int = 2, memory_limit: str = "4GB") -> ScaleSummary:
    """Add "one more day" (``end_date + 1``) to the inbox ``generate_scale`` wrote with the same
    arguments: new files only — the day's new invoices and orders, and the day's bank rows
    (about ``day_invoices`` payments of invoices open at ``end_date``, plus extras)."""
    started = time.monotonic()
    inbox = out_dir / "inbox"
    day = end_date + timedelta(days=1)
    ext = erp_format
    text = erp_format == "csv"
    with _world(out_dir, invoices, seed, end_date, months, customers, threads,
                memory_limit) as (con, w):
        lo, hi = invoices, invoices + day_invoices
        erp = inbox / "erp"
        new_invoices = _copy(con, w.invoices_sql(lo, hi, text), erp / f"invoices_{day}.{ext}", ext)
        orders = _copy(con, w.orders_sql(lo, hi, text), erp / f"orders_{day}.{ext}", ext)
        future = w.future_payments()
        p_inc = min(1.0, day_invoices / future) if future else 0.0
        con.execute(f"CREATE TABLE _pay AS {w.payments_sql(increment=day_invoices, p_inc=p_inc)}")
        rows, files = _write_bank(con, inbox / "bank", [(day.isoformat(), day.isoformat(), day.isoformat())])
        summary = ScaleSummary(invoices=new_invoices, customers=0, salespeople=0, orders=orders,
                               credit_notes=0, bank_transactions=rows, bank_files=files, erp_files=2,
                               seconds=round(time.monotonic() - started, 1),
                               bytes=sum(p.stat().st_size for p in (erp / f"invoices_{day}.{ext}",
                                                                    erp / f"orders_{day}.{ext}")))
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipelines.synthetic.scale",
                                     description="Write a benchmark-size inbox (and one more day).")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--invoices", type=int, required=True)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--end-date", type=date.fromisoformat, default=date(2026, 10, 31))
    parser.add_argument("--erp-format", choices=ERP_FORMATS, default="parquet")
    parser.add_argument("--increment", type=int, default=0,
                        help="also write one more day with about this many invoices and payments")
    args = parser.parse_args(argv)
    summary = generate_scale(args.out, args.invoices, args.seed, args.end_date, erp_format=args.erp_format)
    print(json.dumps(asdict(summary)))
    if args.increment:
        inc = write_increment(args.out, args.invoices, args.seed, args.end_date, erp_format=args.erp_format,
                              day_invoices=args.increment)
        print(json.dumps(asdict(inc)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
