"""Invoices, orders, credit notes, collection targets and FX rates (vectorised with numpy)."""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from pipelines.synthetic.fmt import table, text
from pipelines.synthetic.master import Master

DAY = np.timedelta64(1, "D")

_FORMAT_RE = re.compile(
    r"^(?P<prefix>[A-Za-z]*)(?P<sep1>[^A-Za-z0-9{}]*)"
    r"(?:\{year\}(?P<sep2>[^A-Za-z0-9{}]*))?\{seq:0(?P<width>[1-9])d\}$"
)


@dataclass(frozen=True)
class InvoiceNumbering:
    """The printed invoice number, ``<PREFIX><sep>{year}<sep>{seq:0Nd}``, and its spellings.

    Every spelling the generator writes keeps (year, seq) recoverable: separators may change
    or vanish, the prefix may go, leading zeros may go, but never zeros *and* the separator
    between year and sequence at once (``20254711`` would be ambiguous).
    """

    fmt: str
    prefix: str
    sep1: str
    has_year: bool
    sep2: str
    width: int

    @classmethod
    def parse(cls, fmt: str) -> InvoiceNumbering:
        m = _FORMAT_RE.match(fmt)
        if not m:
            raise ValueError(
                "invoice_number_format must look like 'INV-{year}-{seq:06d}' "
                f"(letters, separator, optional {{year}} and separator, {{seq:0Nd}}), found {fmt!r}"
            )
        return cls(
            fmt=fmt,
            prefix=m["prefix"],
            sep1=m["sep1"],
            has_year=m["sep2"] is not None,
            sep2=m["sep2"] or "",
            width=int(m["width"]),
        )

    def _join(self, prefix: str, sep1: str, year: int, sep2: str, seq: str) -> str:
        head = f"{prefix}{sep1}" if prefix else ""
        return f"{head}{year}{sep2}{seq}" if self.has_year else f"{head}{seq}"

    def exact(self, year: int, seq: int) -> str:
        return self._join(self.prefix, self.sep1, year, self.sep2, f"{seq:0{self.width}d}")

    def compact(self, year: int, seq: int) -> str:
        """Letters and digits only, upper case (the body of the RF creditor reference)."""
        return self._join(self.prefix.upper(), "", year, "", f"{seq:0{self.width}d}")

    def exact_many(self, years: np.ndarray, seqs: np.ndarray) -> np.ndarray:
        """:meth:`exact` for whole arrays (vectorised)."""
        head = f"{self.prefix}{self.sep1}" if self.prefix else ""
        seq_text = pd.Series(seqs).astype(str).str.zfill(self.width)
        printed = head + (
            pd.Series(years).astype(str) + self.sep2 + seq_text if self.has_year else seq_text
        )
        return printed.to_numpy(dtype=object)

    def key(self, year: int, seq: int) -> int:
        return year * 10_000_000 + seq if self.has_year else seq

    VARIANTS = ("no_prefix", "separators", "no_leading_zeros", "lower", "no_prefix_no_zeros")

    def variant(self, year: int, seq: int, kind: str, pick: float) -> str:
        """Another spelling of the same number; ``pick`` in [0, 1) chooses among options."""
        padded = f"{seq:0{self.width}d}"
        plain = str(seq)
        sep2 = self.sep2 or "-"
        if kind == "no_prefix" and self.prefix:
            return self._join("", "", year, self.sep2, padded)
        if kind == "no_leading_zeros" and padded != plain:
            return self._join(self.prefix, self.sep1, year, sep2, plain)
        if kind == "lower" and self.prefix:
            return self.exact(year, seq).lower()
        if kind == "no_prefix_no_zeros" and self.has_year and padded != plain:
            return self._join("", "", year, sep2, plain)
        # "separators" (and the fallback when a kind does not apply to this number)
        options = [s for s in (" ", "/", "", ".", "_", " - ") if s not in (self.sep1, self.sep2)]
        new = options[int(pick * len(options))]
        return self._join(self.prefix, new, year, new, padded)


@dataclass
class Invoices:
    frame: pd.DataFrame  # one row per invoice, in issue order (position = index, = number order)
    credit_notes: pd.DataFrame  # every credit note (on invoices and on account)
    cn_amount: np.ndarray  # per invoice: credited cents (0 = none)
    cn_date: np.ndarray  # per invoice: credit note date (NaT = none)
    orders: pd.DataFrame
    id_bytes: np.ndarray  # per invoice: 16 random bytes, the internal invoice_id
    numbering: InvoiceNumbering

    # Text ids and numbers are made when written, not kept: a million of each is memory.
    def ids(self, positions: np.ndarray | slice = slice(None)) -> np.ndarray:
        """``invoice_id`` (UUID-like text) of the invoices at ``positions``."""
        return _uuid_text(self.id_bytes[positions])

    def numbers(self, positions: np.ndarray | slice = slice(None)) -> np.ndarray:
        """``invoice_number`` as printed, of the invoices at ``positions``."""
        return self.numbering.exact_many(
            self.frame["year"].to_numpy()[positions], self.frame["seq"].to_numpy()[positions]
        )


def window_start(end_date: np.datetime64) -> np.datetime64:
    """First day of the month 17 months before the end date's month (18 calendar months)."""
    month = end_date.astype("datetime64[M]") - np.timedelta64(17, "M")
    return month.astype("datetime64[D]")


def _business_days(
    rng: np.random.Generator, start: np.datetime64, end: np.datetime64, n: int
) -> np.ndarray:
    nbd = int(np.busday_count(start, end + DAY))
    return np.busday_offset(start, rng.integers(0, nbd, n), roll="forward")


def make_invoices(
    master: Master,
    n: int,
    start: np.datetime64,
    end: np.datetime64,
    numbering: InvoiceNumbering,
    rng: np.random.Generator,
) -> Invoices:
    cust_df = master.customers
    n_c = len(cust_df)
    if n < 1:
        raise ValueError("invoices must be at least 1")

    # ---- who, when
    weights = cust_df["size"].to_numpy()
    weights = weights / weights.sum()
    first = rng.permutation(n_c)[: min(n, n_c)]
    cust = np.concatenate([first, rng.choice(n_c, n - len(first), p=weights)]).astype(np.int64)
    issue = _business_days(rng, start, end, n)
    order = np.lexsort((rng.random(n), issue))
    cust, issue = cust[order], issue[order]

    terms = cust_df["terms"].to_numpy()[cust]
    other_terms = np.array([14, 30, 45, 60])[rng.integers(0, 4, n)]
    terms = np.where(rng.random(n) < 0.1, other_terms, terms)
    due = issue + terms.astype("timedelta64[D]")

    # ---- how much (integer cents)
    base = cust_df["base_amount"].to_numpy()[cust]
    amount = base * np.exp(rng.normal(0.0, 0.8, n))
    rounding = rng.random(n)
    cents = np.round(amount * 100).astype(np.int64)
    cents = np.where(rounding < 0.2, np.round(amount).astype(np.int64) * 100, cents)
    cents = np.where(rounding > 0.95, np.round(amount / 50).astype(np.int64) * 5000, cents)
    # catalogue customers sell a few standard prices; subscriptions bill one fixed fee
    catalog_prices = (
        np.round(cust_df["base_amount"].to_numpy()[:, None] * np.array([0.5, 1.0, 1.7])).astype(
            np.int64
        )
        * 100
    )
    use_catalog = cust_df["catalog"].to_numpy()[cust] & (rng.random(n) < 0.5)
    cents = np.where(use_catalog, catalog_prices[cust, rng.integers(0, 3, n)], cents)
    fee = np.round(cust_df["base_amount"].to_numpy() * 0.8).astype(np.int64) * 100
    cents = np.where(cust_df["subscription"].to_numpy()[cust], fee[cust], cents)
    cents = np.clip(cents, 2500, 500_000_000)

    # ---- numbers and ids
    year = issue.astype("datetime64[Y]").astype(np.int64) + 1970
    seq = pd.Series(year).groupby(year).cumcount().to_numpy() + 1
    seq = np.where(year == year[0], seq + int(rng.integers(1000, 5000)), seq)
    id_bytes = np.frombuffer(rng.bytes(16 * n), dtype=np.uint8).reshape(n, 16).copy()
    if len(np.unique(id_bytes.view("V16"))) != n:  # 128 random bits: never, but never silently
        raise RuntimeError("duplicate invoice_id generated")

    cancelled = rng.random(n) < 0.01
    disputed = (~cancelled) & (rng.random(n) < 0.025)
    n_sp = len(master.salespeople)
    cust_sp = cust_df["sp_idx"].to_numpy()[cust]
    sp = np.where(rng.random(n) < 0.15, rng.integers(1, n_sp, n), cust_sp)
    sp = np.where(rng.random(n) < 0.6, -1, sp)  # blank = the customer's salesperson

    updated = issue.astype("datetime64[s]") + rng.integers(7 * 3600, 19 * 3600, n).astype(
        "timedelta64[s]"
    )
    changed_on = np.minimum(issue + rng.integers(1, 25, n).astype("timedelta64[D]"), end)
    changed = changed_on.astype("datetime64[s]") + rng.integers(7 * 3600, 19 * 3600, n).astype(
        "timedelta64[s]"
    )
    updated = np.where(cancelled | disputed, changed, updated)

    # ---- credit notes on invoices (a share of them full) and on account
    has_cn = (~cancelled) & ((rng.random(n) < 0.035) | (disputed & (rng.random(n) < 0.25)))
    full = has_cn & (~disputed) & (rng.random(n) < 0.3)
    part = np.round(cents * rng.uniform(0.05, 0.4, n)).astype(np.int64)
    part = np.where(rng.random(n) < 0.5, (part // 100) * 100, part)
    cn_amount = np.where(full, cents, np.where(has_cn, np.maximum(part, 100), 0)).astype(np.int64)
    cn_date = np.minimum(np.busday_offset(issue, rng.integers(1, 20, n), roll="forward"), end)
    cn_date = np.where(has_cn & (cn_date > issue), cn_date, np.datetime64("NaT"))
    has_cn &= ~np.isnat(cn_date)
    cn_amount = np.where(has_cn, cn_amount, 0)

    n_oa = max(2, round(0.003 * n))
    oa_cust = rng.choice(n_c, n_oa, p=weights)
    oa_date = _business_days(rng, start, end, n_oa)
    oa_amount = (
        np.round(cust_df["base_amount"].to_numpy()[oa_cust] * rng.uniform(0.02, 0.3, n_oa)).astype(
            np.int64
        )
        * 100
    )
    inv_pos = np.flatnonzero(has_cn)
    cn = table(
        {
            "inv": np.concatenate([inv_pos, np.full(n_oa, -1)]),
            "cust": np.concatenate([cust[inv_pos], oa_cust]),
            "date": np.concatenate([cn_date[inv_pos], oa_date]),
            "amount": np.concatenate([cn_amount[inv_pos], np.maximum(oa_amount, 5000)]),
        }
    )
    cn = cn.iloc[np.lexsort((cn["inv"].to_numpy(), cn["date"].to_numpy()))].reset_index(drop=True)
    cn_year = cn["date"].to_numpy().astype("datetime64[Y]").astype(np.int64) + 1970
    cn_seq = pd.Series(cn_year).groupby(cn_year).cumcount().to_numpy() + 1
    cn["credit_note_id"] = text([f"CN-{y}-{s:05d}" for y, s in zip(cn_year, cn_seq, strict=True)])

    frame = table(
        {
            "year": year,
            "seq": seq,
            "cust": cust,
            "sp": sp,
            "issue": issue,
            "due": due,
            "currency": cust_df["currency"].to_numpy()[cust],
            "amount": cents,
            "cancelled": cancelled,
            "disputed": disputed,
            "updated_at": updated,
        }
    )
    orders = _make_orders(frame, master, start, end, rng)
    return Invoices(frame, cn, cn_amount, cn_date, orders, id_bytes, numbering)


def _uuid_text(raw: np.ndarray) -> np.ndarray:
    """16 bytes per row → text shaped like a UUID (8-4-4-4-12 lower-case hex), no loop."""
    n = len(raw)
    hex_digits = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
    digits = np.empty((n, 32), np.uint8)
    digits[:, 0::2] = hex_digits[raw >> 4]
    digits[:, 1::2] = hex_digits[raw & 15]
    out = np.full((n, 36), ord("-"), np.uint8)
    for src, dst in (
        (slice(0, 8), slice(0, 8)),
        (slice(8, 12), slice(9, 13)),
        (slice(12, 16), slice(14, 18)),
        (slice(16, 20), slice(19, 23)),
        (slice(20, 32), slice(24, 36)),
    ):
        out[:, dst] = digits[:, src]
    return out.view("S36").ravel().astype("U36").astype(object)


def _make_orders(
    inv: pd.DataFrame,
    master: Master,
    start: np.datetime64,
    end: np.datetime64,
    rng: np.random.Generator,
) -> pd.DataFrame:
    """Most orders become one invoice, some two (partial deliveries); some are still open
    (not invoiced yet: credit exposure) and some cancelled."""
    n = len(inv)
    by_cust = np.lexsort((inv["issue"].to_numpy(), inv["cust"].to_numpy()))
    cust_sorted = inv["cust"].to_numpy()[by_cust]
    new = np.ones(n, dtype=bool)
    new[1:] = (cust_sorted[1:] != cust_sorted[:-1]) | (rng.random(n - 1) >= 0.08)
    cont = ~new
    new[1:] |= cont[1:] & cont[:-1]  # at most two invoices per order
    order_of_sorted = np.cumsum(new) - 1
    order_pos = np.empty(n, dtype=np.int64)
    order_pos[by_cust] = order_of_sorted
    inv["order_pos"] = order_pos

    grouped = inv.groupby("order_pos", sort=True).agg(
        cust=("cust", "first"),
        first_issue=("issue", "min"),
        amount=("amount", "sum"),
        currency=("currency", "first"),
    )
    n_inv_orders = len(grouped)
    lead = rng.integers(0, 15, n_inv_orders).astype("timedelta64[D]")
    invoiced = table(
        {
            "cust": grouped["cust"].to_numpy(),
            "order_date": grouped["first_issue"].to_numpy() - lead,
            "currency": grouped["currency"].to_numpy(),
            "amount": grouped["amount"].to_numpy(),
            "status": "invoiced",
            "updated": grouped["first_issue"].to_numpy(),
            "inv_order": np.arange(n_inv_orders),
        }
    )
    cust_df = master.customers
    weights = (cust_df["size"] / cust_df["size"].sum()).to_numpy()
    n_open = max(1, round(0.04 * n))
    n_cancel = max(1, round(0.015 * n))
    extra_cust = rng.choice(len(cust_df), n_open + n_cancel, p=weights)
    open_from = max(start, end - np.timedelta64(45, "D"))
    extra_dates = np.concatenate(
        [_business_days(rng, open_from, end, n_open), _business_days(rng, start, end, n_cancel)]
    )
    extra_amount = (
        np.round(
            cust_df["base_amount"].to_numpy()[extra_cust]
            * np.exp(rng.normal(0.0, 0.7, n_open + n_cancel))
        ).astype(np.int64)
        * 100
    )
    status = np.array(["open"] * n_open + ["cancelled"] * n_cancel)
    cancel_updated = np.minimum(
        extra_dates + rng.integers(1, 10, n_open + n_cancel).astype("timedelta64[D]"), end
    )
    extra = table(
        {
            "cust": extra_cust,
            "order_date": extra_dates,
            "currency": cust_df["currency"].to_numpy()[extra_cust],
            "amount": np.maximum(extra_amount, 5000),
            "status": status,
            "updated": np.where(status == "open", extra_dates, cancel_updated),
            "inv_order": -1,
        }
    )
    orders = pd.concat([invoiced, extra], ignore_index=True)
    orders = orders.iloc[
        np.lexsort((orders["cust"].to_numpy(), orders["order_date"].to_numpy()))
    ].reset_index(drop=True)
    orders["order_id"] = text([f"SO{k:08d}" for k in range(100001, 100001 + len(orders))])
    mapping = np.empty(n_inv_orders, dtype=object)
    has = orders["inv_order"].to_numpy() >= 0
    mapping[orders["inv_order"].to_numpy()[has]] = orders["order_id"].to_numpy()[has]
    inv["order_id"] = text(mapping[order_pos])
    return orders


def make_targets(
    inv: Invoices,
    master: Master,
    start: np.datetime64,
    end: np.datetime64,
    rng: np.random.Generator,
) -> pd.DataFrame:
    """Collection target per salesperson, month and currency: what falls due, give or take."""
    f = inv.frame
    sp = np.where(
        f["sp"].to_numpy() >= 0,
        f["sp"].to_numpy(),
        master.customers["sp_idx"].to_numpy()[f["cust"].to_numpy()],
    )
    net = np.where(f["cancelled"].to_numpy(), 0, f["amount"].to_numpy() - inv.cn_amount)
    period = f["due"].to_numpy().astype("datetime64[M]")
    frame = pd.DataFrame(
        {"sp": sp, "period": period, "currency": f["currency"].to_numpy(), "net": net}
    )
    frame = frame[
        (frame["period"] >= start.astype("datetime64[M]"))
        & (frame["period"] <= end.astype("datetime64[M]"))
    ]
    grouped = frame.groupby(["sp", "period", "currency"], sort=True)["net"].sum().reset_index()
    factor = rng.uniform(0.9, 1.15, len(grouped))
    target = np.round(grouped["net"].to_numpy() * factor / 10000).astype(np.int64) * 10000
    grouped["target"] = np.maximum(target, 10000)
    return grouped


def make_fx(start: np.datetime64, end: np.datetime64, rng: np.random.Generator) -> pd.DataFrame:
    """Daily (business day) rates to EUR, in millionths, as a gentle random walk."""
    days = np.arange(start - np.timedelta64(7, "D"), end + DAY, dtype="datetime64[D]")
    days = days[np.is_busday(days)]
    frames = []
    for ccy, level in (("USD", 0.92), ("CHF", 1.05)):
        walk = np.exp(np.cumsum(rng.normal(0.0, 0.004, len(days))))
        micro = np.round(level * walk * 1_000_000).astype(np.int64)
        frames.append(pd.DataFrame({"date": days, "currency": ccy, "micro": micro}))
    fx = pd.concat(frames, ignore_index=True)
    return fx.iloc[np.lexsort((fx["currency"].to_numpy(), fx["date"].to_numpy()))].reset_index(
        drop=True
    )
