"""What the nightly report shows, read from the published warehouse.

Every amount stays ``Decimal`` (DuckDB ``DECIMAL``) and every query names the mart it reads,
so each number in the report can be found again with ``arw sql``. A mart missing from the
file gives an empty list: the section then says so instead of failing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import NamedTuple

import duckdb

RATE = Decimal("0.0001")
TREND_NIGHTS = 30  # aging history: the last N nights
TREND_MONTHS = 12  # auto-match rate: the last N months of receipts
TOP_OVERDUE = 10
TOP_CREDIT = 50  # credit-limit warnings listed (highest first); the rest are counted
OLDEST_EXCEPTIONS = 10


class Headline(NamedTuple):
    currency: str
    total: Decimal
    overdue: Decimal
    invoices: int
    overdue_invoices: int
    dso: Decimal | None
    cei: Decimal | None


class Reporting(NamedTuple):
    currency: str  # the native currency
    amount_currency: str  # the reporting currency
    fx_rate: Decimal | None
    total: Decimal | None
    overdue: Decimal | None


class BucketAmount(NamedTuple):
    currency: str
    bucket: str
    rank: int
    invoices: int
    amount: Decimal


class HistoryAmount(NamedTuple):
    as_of_date: date
    currency: str
    bucket: str
    amount: Decimal


class Collection(NamedTuple):
    period: str
    currency: str
    salesperson_id: str | None
    salesperson: str
    collected: Decimal
    target: Decimal | None
    attainment_pct: Decimal | None


class OverdueCustomer(NamedTuple):
    customer_id: str
    name: str
    currency: str
    overdue: Decimal
    over_90: Decimal
    oldest_days: int
    invoices: int
    reporting: Decimal | None  # in the reporting currency, for ranking across currencies


class CreditWarning(NamedTuple):
    customer_id: str
    name: str
    currency: str
    credit_limit: Decimal | None
    open_ar: Decimal | None
    open_orders: Decimal | None
    exposure: Decimal | None
    utilization_pct: Decimal | None
    level: str


class MatchRate(NamedTuple):
    period: str  # YYYY-MM of the receipts' effective date, or "tonight"
    currency: str
    receipts: Decimal
    matcher_applied: Decimal
    rate: Decimal | None


class ExceptionTotal(NamedTuple):
    currency: str
    count: int
    amount: Decimal
    oldest: date | None  # the oldest payment's value date


class ExceptionReason(NamedTuple):
    reason_code: str
    currency: str
    count: int
    amount: Decimal


class OpenException(NamedTuple):
    first_seen: date | None
    effective_date: date
    currency: str
    amount: Decimal
    counterparty: str
    reason_code: str
    remittance: str


@dataclass
class ReportData:
    as_of: date
    source_name: str
    data_as_of: date | None = None  # the night the published marts hold
    published_at: datetime | None = None
    missing_tables: list[str] = field(default_factory=list)
    headline: list[Headline] = field(default_factory=list)
    reporting: list[Reporting] = field(default_factory=list)
    aging: list[BucketAmount] = field(default_factory=list)
    bucket_ranks: dict[str, int] = field(default_factory=dict)
    history: list[HistoryAmount] = field(default_factory=list)
    collections: list[Collection] = field(default_factory=list)
    collection_periods: tuple[str, ...] = ()
    top_overdue: list[OverdueCustomer] = field(default_factory=list)
    overdue_without_rate: list[str] = field(default_factory=list)  # currencies not ranked
    credit_warnings: list[CreditWarning] = field(default_factory=list)  # the TOP_CREDIT highest
    credit_levels: list[tuple[str, int]] = field(default_factory=list)  # every warned customer, per level
    credit_missing_fx: int = 0
    match_tonight: list[MatchRate] = field(default_factory=list)
    match_trend: list[MatchRate] = field(default_factory=list)
    exceptions: list[ExceptionTotal] = field(default_factory=list)
    exception_reasons: list[ExceptionReason] = field(default_factory=list)
    oldest_exceptions: list[OpenException] = field(default_factory=list)


def _tables(con: duckdb.DuckDBPyConnection) -> set[str]:
    return {f"{s}.{t}" for s, t in con.execute(
        "SELECT table_schema, table_name FROM information_schema.tables").fetchall()}


def _month(d: date, back: int = 0) -> date:
    index = d.year * 12 + d.month - 1 - back
    return date(index // 12, index % 12 + 1, 1)


def rate(applied: Decimal, receipts: Decimal) -> Decimal | None:
    return (applied / receipts).quantize(RATE, ROUND_HALF_EVEN) if receipts else None


def load(con: duckdb.DuckDBPyConnection, as_of: date, source_name: str) -> ReportData:
    tables = _tables(con)
    needed = ["marts.fct_ar_aging", "marts.fct_ar_kpis", "marts.fct_ar_aging_history",
              "marts.fct_collections_vs_target", "marts.fct_credit_exposure",
              "marts.fct_reconciliation_exceptions", "marts.fct_bank_receipts",
              "marts.fct_payment_allocations", "marts.dim_customers", "marts.dim_salespeople"]
    data = ReportData(as_of=as_of, source_name=source_name,
                      missing_tables=[t for t in needed if t not in tables])
    has = tables.__contains__
    if has("audit.runs"):
        row = con.execute("SELECT as_of_date, finished_at FROM audit.runs WHERE status = 'published' "
                          "ORDER BY finished_at DESC NULLS LAST LIMIT 1").fetchone()
        if row:
            data.data_as_of, data.published_at = row
    if has("marts.fct_ar_kpis"):
        kpi_date = con.execute("SELECT max(as_of_date) FROM marts.fct_ar_kpis").fetchone()[0]
        data.data_as_of = kpi_date or data.data_as_of
    if has("marts.fct_ar_aging"):
        _aging(con, data, has)
    if has("marts.fct_ar_kpis"):
        _kpis(con, data)
    if has("marts.fct_ar_aging_history"):
        data.history = [HistoryAmount(*r) for r in con.execute("""
            WITH nights AS (
                SELECT DISTINCT as_of_date FROM marts.fct_ar_aging_history WHERE as_of_date <= $d
                ORDER BY as_of_date DESC LIMIT $n
            )
            SELECT as_of_date, currency, aging_bucket, sum(open_amount)
            FROM marts.fct_ar_aging_history WHERE as_of_date IN (SELECT as_of_date FROM nights)
            GROUP BY ALL ORDER BY ALL
        """, {"d": as_of, "n": TREND_NIGHTS}).fetchall()]
    if has("marts.fct_collections_vs_target"):
        _collections(con, data, has("marts.dim_salespeople"))
    if has("marts.fct_credit_exposure"):
        _credit(con, data)
    if has("marts.fct_bank_receipts") and has("marts.fct_payment_allocations"):
        _match_trend(con, data)
    if has("marts.fct_reconciliation_exceptions"):
        _exceptions(con, data)
    return data


def _aging(con: duckdb.DuckDBPyConnection, data: ReportData, has) -> None:
    data.headline = [Headline(*r, None, None) for r in con.execute("""
        SELECT currency, sum(open_amount),
               coalesce(sum(open_amount) FILTER (WHERE days_past_due > 0), 0),
               count(*), count(*) FILTER (WHERE days_past_due > 0)
        FROM marts.fct_ar_aging GROUP BY currency ORDER BY currency
    """).fetchall()]
    data.aging = [BucketAmount(*r) for r in con.execute("""
        SELECT currency, aging_bucket, min(aging_bucket_rank), count(*), sum(open_amount)
        FROM marts.fct_ar_aging GROUP BY currency, aging_bucket ORDER BY currency, 3
    """).fetchall()]
    data.bucket_ranks = {b.bucket: b.rank for b in data.aging}
    names = "LEFT JOIN marts.dim_customers c USING (customer_id)" if has("marts.dim_customers") else ""
    name = "any_value(c.name)" if names else "NULL"
    fx = ("SELECT currency, fx_rate FROM marts.fct_ar_kpis WHERE basis = 'reporting' "
          "AND NOT coalesce(missing_fx_rate, false) AND fx_rate IS NOT NULL"
          if has("marts.fct_ar_kpis") else "SELECT NULL::VARCHAR AS currency, NULL::DECIMAL(18, 6) AS fx_rate")
    # Ranked in SQL (there may be millions of customers): the amount in the reporting
    # currency is rounded half to even to the cent, exactly (decimal arithmetic), as shown.
    rows = con.execute(f"""
        WITH fx AS ({fx}),
        overdue AS (
            SELECT a.customer_id, {name} AS name, a.currency, sum(a.open_amount) AS overdue,
                   coalesce(sum(a.open_amount) FILTER (WHERE a.days_past_due > 90), 0) AS over_90,
                   max(a.days_past_due) AS oldest, count(*) AS n
            FROM marts.fct_ar_aging a {names}
            WHERE a.days_past_due > 0
            GROUP BY a.customer_id, a.currency
        )
        SELECT o.*, round_even(o.overdue * fx.fx_rate, 2) AS reporting
        FROM overdue o LEFT JOIN fx USING (currency)
        ORDER BY reporting IS NULL, reporting DESC, overdue DESC, customer_id, currency
        LIMIT {TOP_OVERDUE}
    """).fetchall()
    data.top_overdue = [OverdueCustomer(cid, cname or cid, currency, overdue, over_90, oldest, n, reporting)
                        for cid, cname, currency, overdue, over_90, oldest, n, reporting in rows]
    data.overdue_without_rate = [r[0] for r in con.execute(f"""
        SELECT DISTINCT currency FROM marts.fct_ar_aging
        WHERE days_past_due > 0 AND currency NOT IN (SELECT currency FROM ({fx}) WHERE currency IS NOT NULL)
        ORDER BY 1""").fetchall()]


def _kpis(con: duckdb.DuckDBPyConnection, data: ReportData) -> None:
    native = {r[0]: r[1:] for r in con.execute("""
        SELECT currency, dso, cei, ar_receipts_amount, matcher_applied_amount, auto_match_rate
        FROM marts.fct_ar_kpis WHERE basis = 'native' ORDER BY currency
    """).fetchall()}
    data.headline = [h._replace(dso=native[h.currency][0], cei=native[h.currency][1])
                     if h.currency in native else h for h in data.headline]
    data.match_tonight = [MatchRate("tonight", c, v[2], v[3], v[4]) for c, v in native.items()]
    data.reporting = [Reporting(*r) for r in con.execute("""
        SELECT currency, amount_currency,
               CASE WHEN coalesce(missing_fx_rate, false) THEN NULL ELSE fx_rate END,
               CASE WHEN coalesce(missing_fx_rate, false) THEN NULL ELSE total_ar END,
               CASE WHEN coalesce(missing_fx_rate, false) THEN NULL ELSE overdue_ar END
        FROM marts.fct_ar_kpis WHERE basis = 'reporting' ORDER BY currency
    """).fetchall()]


def _collections(con: duckdb.DuckDBPyConnection, data: ReportData, with_names: bool) -> None:
    this_month = _month(data.as_of)
    periods = (f"{this_month:%Y-%m}", f"{_month(data.as_of, 1):%Y-%m}")
    join = "LEFT JOIN marts.dim_salespeople s USING (salesperson_id)" if with_names else ""
    name = "s.name" if with_names else "NULL"
    data.collection_periods = periods
    data.collections = [
        Collection(p, cur, sid, name or sid or "(no salesperson)", collected, target, pct)
        for p, cur, sid, name, collected, target, pct in con.execute(f"""
            SELECT v.period, v.currency, v.salesperson_id, {name}, v.collected_amount,
                   v.target_amount, v.attainment_pct
            FROM marts.fct_collections_vs_target v {join}
            WHERE v.period IN (?, ?)
            ORDER BY v.period DESC, v.currency, v.attainment_pct DESC NULLS LAST,
                     v.collected_amount DESC, v.salesperson_id
        """, list(periods)).fetchall()]


def _credit(con: duckdb.DuckDBPyConnection, data: ReportData) -> None:
    """The TOP_CREDIT customers highest over their credit limit, and how many are at each
    warning level (at 10M invoices some 25,000 customers are: a list nobody reads, and most
    of the report's size)."""
    warned = "FROM marts.fct_credit_exposure WHERE warning_level IS NOT NULL AND warning_level <> 'none'"
    data.credit_warnings = [CreditWarning(*r) for r in con.execute(f"""
        SELECT customer_id, coalesce(customer_name, customer_id), currency, credit_limit, open_ar,
               open_orders, exposure, utilization_pct, warning_level
        {warned}
        ORDER BY TRY_CAST(warning_level AS INTEGER) DESC NULLS FIRST,
                 utilization_pct DESC NULLS FIRST, customer_id
        LIMIT {TOP_CREDIT}
    """).fetchall()]
    data.credit_levels = con.execute(
        f"SELECT warning_level, count(*) {warned} GROUP BY 1 "
        "ORDER BY TRY_CAST(warning_level AS INTEGER) DESC NULLS FIRST, 1").fetchall()
    data.credit_missing_fx = con.execute(
        "SELECT count(*) FROM marts.fct_credit_exposure WHERE coalesce(missing_fx_rate, false)"
    ).fetchone()[0]


def _match_trend(con: duckdb.DuckDBPyConnection, data: ReportData) -> None:
    """The auto-match rate of each month's receipts, as reconciled tonight (the KPI's formula:
    matcher-applied amount / AR receipt amount, money not AR excluded)."""
    rows = con.execute("""
        WITH receipts AS (
            SELECT transaction_id, currency, strftime(effective_date, '%Y-%m') AS period,
                   applied_amount + unapplied_amount AS amount
            FROM marts.fct_bank_receipts
            WHERE status <> 'not_ar' AND effective_date >= $start AND effective_date <= $d
        ),
        totals AS (SELECT period, currency, sum(amount) AS amount FROM receipts GROUP BY ALL),
        -- the matcher's allocations summed per month and currency of their receipt (not per
        -- transaction first: half the time at 8.5M allocations)
        applied AS (
            SELECT r.period, r.currency, sum(a.allocated_amount) AS applied
            FROM marts.fct_payment_allocations a JOIN receipts r USING (transaction_id)
            WHERE a.decided_by = 'matcher' GROUP BY ALL
        )
        SELECT period, currency, amount, coalesce(applied, 0)
        FROM totals LEFT JOIN applied USING (period, currency)
        ORDER BY ALL
    """, {"start": _month(data.as_of, TREND_MONTHS - 1), "d": data.as_of}).fetchall()
    data.match_trend = [MatchRate(p, c, amount, applied, rate(applied, amount))
                        for p, c, amount, applied in rows]


def _exceptions(con: duckdb.DuckDBPyConnection, data: ReportData) -> None:
    data.exceptions = [ExceptionTotal(*r) for r in con.execute("""
        SELECT currency, count(*), sum(amount), min(effective_date)
        FROM marts.fct_reconciliation_exceptions GROUP BY currency ORDER BY currency
    """).fetchall()]
    data.exception_reasons = [ExceptionReason(*r) for r in con.execute("""
        SELECT coalesce(reason_code, '(none)'), currency, count(*), sum(amount)
        FROM marts.fct_reconciliation_exceptions GROUP BY ALL ORDER BY currency, 3 DESC, 1
    """).fetchall()]
    data.oldest_exceptions = [OpenException(*r) for r in con.execute("""
        SELECT first_seen_date, effective_date, currency, amount, coalesce(counterparty_name, ''),
               coalesce(reason_code, ''), coalesce(remittance_info, '')
        FROM marts.fct_reconciliation_exceptions
        ORDER BY effective_date, first_seen_date, amount DESC, transaction_id LIMIT ?
    """, [OLDEST_EXCEPTIONS]).fetchall()]
