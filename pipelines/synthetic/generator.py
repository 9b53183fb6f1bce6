"""The synthetic data generator behind ``arw generate``.

``generate(out_dir, ...)`` writes a realistic inbox (CONTRACT §1) to ``out_dir/inbox`` and,
beside it, the truth of every incoming payment to ``out_dir/truth``. The same arguments give
byte-identical files: every random draw comes from one seeded numpy ``SeedSequence`` (one child
stream per stage), there is no wall-clock time anywhere and nothing iterates over a set.
Money is integer cents throughout and written as text with two decimals.

See ``docs/generator.md`` for the mix of payments and the truth files.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from pipelines.synthetic.bank import (
    ACCOUNTS,
    account_formats,
    assign_batches,
    build_entries,
    order_and_reference,
    payment_accounts,
    write_statements,
)
from pipelines.synthetic.erp import (
    InvoiceNumbering,
    Invoices,
    make_fx,
    make_invoices,
    make_targets,
    window_start,
)
from pipelines.synthetic.fmt import (
    bools,
    iso_dates,
    iso_datetimes,
    money,
    write_csv,
    write_csv_chunks,
)
from pipelines.synthetic.master import IbanFactory, Master, make_master
from pipelines.synthetic.payments import PaymentPlan, describe_payments, plan_payments
from pipelines.synthetic.truth import Truth, simulate

DEFAULT_INVOICE_NUMBER_FORMAT = "INV-{year}-{seq:06d}"

CUSTOMER_COLUMNS = (
    "customer_id",
    "name",
    "country",
    "currency",
    "credit_limit",
    "payment_terms_days",
    "salesperson_id",
    "is_key_account",
    "bank_accounts",
    "aliases",
    "updated_at",
)
SALESPEOPLE_COLUMNS = ("salesperson_id", "name", "team", "manager_id")
ORDER_COLUMNS = (
    "order_id",
    "customer_id",
    "salesperson_id",
    "order_date",
    "currency",
    "amount",
    "status",
    "updated_at",
)
INVOICE_COLUMNS = (
    "invoice_id",
    "invoice_number",
    "order_id",
    "customer_id",
    "salesperson_id",
    "issue_date",
    "due_date",
    "currency",
    "amount",
    "status",
    "disputed",
    "updated_at",
)
CREDIT_NOTE_COLUMNS = (
    "credit_note_id",
    "invoice_id",
    "customer_id",
    "issue_date",
    "currency",
    "amount",
)
TARGET_COLUMNS = ("salesperson_id", "period", "currency", "target_amount")
FX_COLUMNS = ("date", "currency", "rate_to_reporting")
OPEN_ITEM_COLUMNS = ("as_of_date", "invoice_id", "open_amount")
TRUTH_PAYMENT_COLUMNS = (
    "payment_ref", "entry_ref", "account", "source_file", "booking_date", "value_date", "amount",
    "currency", "category", "payer_customer_id", "reference_style", "reference_detail",
    "matchable", "matchable_reason", "payer_identified_by", "channel", "invoice_count",
    "counterparty_name", "counterparty_account", "remittance_info", "structured_reference",
    "end_to_end_id", "reversal_of", "reversed_by", "return_reason",
)  # fmt: skip
TRUTH_ALLOCATION_COLUMNS = (
    "payment_ref",
    "invoice_id",
    "invoice_number",
    "amount",
    "fee_amount",
    "on_account_amount",
)

_STAGES = ("ibans", "master", "invoices", "payments", "describe", "bank", "erp", "customers")


def generate(
    out_dir: Path,
    customers: int = 200,
    invoices: int = 5000,
    seed: int = 42,
    end_date: date = date(2026, 10, 31),
    bank_format: str = "mixed",
    progress: Callable[[str], None] | None = None,
    *,
    invoice_number_format: str = DEFAULT_INVOICE_NUMBER_FORMAT,
) -> dict:
    """Write ``out_dir/inbox`` (CONTRACT §1) and ``out_dir/truth``; return a short summary.

    ``bank_format``: ``mixed`` (main EUR and USD accounts as camt.053.001.02 XML, the second
    EUR account and the CHF account as generic CSV), ``camt``, ``csv`` or ``parquet`` (every
    account in that format). ``invoice_number_format`` is the printed invoice number, e.g.
    ``INV-{year}-{seq:06d}`` (the default) or ``RE{year}{seq:05d}``.
    """
    out_dir = Path(out_dir)
    formats = account_formats(bank_format)
    numbering = InvoiceNumbering.parse(invoice_number_format)
    inbox, truth_dir = out_dir / "inbox", out_dir / "truth"
    for folder in (inbox, truth_dir):
        if folder.exists() and any(folder.iterdir()):
            raise FileExistsError(f"{folder} is not empty: generate into a new or empty directory")
    say = progress or (lambda _msg: None)
    rngs = dict(
        zip(
            _STAGES,
            (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(len(_STAGES))),
            strict=True,
        )
    )
    end = np.datetime64(end_date, "D")
    start = window_start(end)

    say(f"customers: {customers}")
    ibans = IbanFactory(rngs["ibans"], tuple(a.iban for a in ACCOUNTS))
    master = make_master(customers, rngs["master"], ibans)
    say(f"invoices: {invoices} from {start} to {end}")
    inv = make_invoices(master, invoices, start, end, numbering, rngs["invoices"])
    say("payments: planning")
    plan = plan_payments(master, inv, end, rngs["payments"])
    describe_payments(plan, master, inv, numbering, end, rngs["describe"], ibans)
    say(f"payments: {len(plan.pay)}; simulating open balances for the truth")
    truth = simulate(master, inv, plan, numbering, end)

    say("bank statements")
    acct_of_pay = payment_accounts(plan, master.customers["second_eur"].to_numpy())
    entries = build_entries(plan, acct_of_pay, start, end, rngs["bank"], ibans)
    assign_batches(entries, plan, formats, rngs["bank"])
    entries = order_and_reference(entries)
    try:
        source, files = write_statements(
            entries, formats, inbox / "bank", start, end, rngs["bank"], progress
        )
        say("ERP extracts")
        counts = _write_erp(inbox / "erp", master, inv, truth, start, end, rngs)
        (inbox / "manual").mkdir(parents=True, exist_ok=True)
        say("truth")
        shares = _write_truth(truth_dir, master, inv, plan, truth, entries, source)
    except BaseException:
        # never leave half an inbox behind: a rerun must start from an empty directory
        shutil.rmtree(inbox, ignore_errors=True)
        shutil.rmtree(truth_dir, ignore_errors=True)
        raise

    summary = _summary(counts, plan, entries, files, shares, seed, end, bank_format)
    (truth_dir / "summary.json").write_text(
        json.dumps(summary, indent=2, sort_keys=True) + "\n", encoding="utf-8"
    )
    return summary


# --------------------------------------------------------------------------- ERP extracts
def _write_erp(
    erp: Path,
    master: Master,
    inv: Invoices,
    truth: Truth,
    start: np.datetime64,
    end: np.datetime64,
    rngs: dict[str, np.random.Generator],
) -> dict[str, int]:
    cdf = master.customers
    sp = master.salespeople
    f = inv.frame
    rng = rngs["customers"]
    counts: dict[str, int] = {}
    sp_ids = sp["salesperson_id"].to_numpy()
    cust_ids = cdf["customer_id"].to_numpy()

    # customers: master data valid before the customer's first invoice
    first_issue = pd.Series(f["issue"].to_numpy()).groupby(f["cust"].to_numpy()).min()
    first = np.full(len(cdf), end, dtype="datetime64[D]")
    first[first_issue.index.to_numpy()] = first_issue.to_numpy().astype("datetime64[D]")
    first = np.minimum(first, start)
    updated = (first - rng.integers(1, 400, len(cdf)).astype("timedelta64[D]")).astype(
        "datetime64[s]"
    )
    updated = updated + rng.integers(7 * 3600, 19 * 3600, len(cdf)).astype("timedelta64[s]")
    limit = cdf["credit_limit"].to_numpy()
    counts["customers"] = write_csv(
        erp / "customers.csv",
        CUSTOMER_COLUMNS,
        [
            cust_ids,
            cdf["name"].to_numpy(),
            cdf["country"].to_numpy(),
            cdf["currency"].to_numpy(),
            [m if c >= 0 else "" for c, m in zip(limit, money(np.maximum(limit, 0)), strict=True)],
            cdf["terms"].to_numpy(),
            sp_ids[cdf["sp_idx"].to_numpy()],
            bools(cdf["key"].to_numpy()),
            [";".join(a) for a in cdf["accounts"]],
            [";".join(a) for a in cdf["aliases"]],
            iso_datetimes(updated),
        ],
    )
    counts["salespeople"] = write_csv(
        erp / "salespeople.csv",
        SALESPEOPLE_COLUMNS,
        [sp[c].to_numpy() for c in SALESPEOPLE_COLUMNS],
    )

    orders = inv.orders
    o_cust = orders["cust"].to_numpy()

    def order_columns(lo: int, hi: int) -> list[object]:
        part = slice(lo, hi)
        updated = orders["updated"].to_numpy()[part].astype("datetime64[D]").astype("datetime64[s]")
        return [
            orders["order_id"].to_numpy()[part],
            cust_ids[o_cust[part]],
            sp_ids[cdf["sp_idx"].to_numpy()[o_cust[part]]],
            iso_dates(orders["order_date"].to_numpy()[part].astype("datetime64[D]")),
            orders["currency"].to_numpy()[part],
            money(orders["amount"].to_numpy()[part]),
            orders["status"].to_numpy()[part],
            iso_datetimes(updated + np.timedelta64(18 * 3600, "s")),
        ]

    counts["orders"] = write_csv_chunks(
        erp / "orders.csv", ORDER_COLUMNS, len(orders), order_columns
    )

    inv_sp = f["sp"].to_numpy()

    def invoice_columns(lo: int, hi: int) -> list[object]:
        part = slice(lo, hi)
        sp_part = inv_sp[part]
        return [
            inv.ids(part),
            inv.numbers(part),
            f["order_id"].to_numpy()[part],
            cust_ids[f["cust"].to_numpy()[part]],
            np.where(sp_part >= 0, sp_ids[np.maximum(sp_part, 0)], ""),
            iso_dates(f["issue"].to_numpy()[part].astype("datetime64[D]")),
            iso_dates(f["due"].to_numpy()[part].astype("datetime64[D]")),
            f["currency"].to_numpy()[part],
            money(f["amount"].to_numpy()[part]),
            np.where(f["cancelled"].to_numpy()[part], "cancelled", "issued"),
            bools(f["disputed"].to_numpy()[part]),
            iso_datetimes(f["updated_at"].to_numpy()[part]),
        ]

    counts["invoices"] = write_csv_chunks(
        erp / "invoices.csv", INVOICE_COLUMNS, len(f), invoice_columns
    )

    cn = inv.credit_notes
    cn_inv = cn["inv"].to_numpy()
    counts["credit_notes"] = write_csv(
        erp / "credit_notes.csv",
        CREDIT_NOTE_COLUMNS,
        [
            cn["credit_note_id"].to_numpy(),
            np.where(cn_inv >= 0, inv.ids(np.maximum(cn_inv, 0)), ""),
            cust_ids[cn["cust"].to_numpy()],
            iso_dates(cn["date"].to_numpy().astype("datetime64[D]")),
            cdf["currency"].to_numpy()[cn["cust"].to_numpy()],
            money(cn["amount"].to_numpy()),
        ],
    )

    targets = make_targets(inv, master, start, end, rngs["erp"])
    counts["collection_targets"] = write_csv(
        erp / "collection_targets.csv",
        TARGET_COLUMNS,
        [
            sp_ids[targets["sp"].to_numpy()],
            np.datetime_as_string(targets["period"].to_numpy().astype("datetime64[M]"), unit="M"),
            targets["currency"].to_numpy(),
            money(targets["target"].to_numpy()),
        ],
    )

    fx = make_fx(start, end, rngs["erp"])
    micro = fx["micro"].to_numpy()
    counts["fx_rates"] = write_csv(
        erp / "fx_rates.csv",
        FX_COLUMNS,
        [
            iso_dates(fx["date"].to_numpy().astype("datetime64[D]")),
            fx["currency"].to_numpy(),
            [f"{x // 1_000_000}.{x % 1_000_000:06d}" for x in micro.tolist()],
        ],
    )

    open_idx = np.flatnonzero(truth.open_end > 0)
    counts["ar_open_items"] = write_csv(
        erp / "ar_open_items.csv",
        OPEN_ITEM_COLUMNS,
        [[str(end)] * len(open_idx), inv.ids(open_idx), money(truth.open_end[open_idx])],
    )
    return counts


# --------------------------------------------------------------------------- truth
def _write_truth(
    truth_dir: Path,
    master: Master,
    inv: Invoices,
    plan: PaymentPlan,
    truth: Truth,
    entries: pd.DataFrame,
    source: np.ndarray,
) -> dict[str, float]:
    """payments.csv (one row per incoming payment, return and non-AR credit, in statement
    order), allocations.csv and open_items.csv."""
    pay = plan.pay
    f = inv.frame
    m = len(pay)
    kind = entries["kind"].to_numpy()
    rows = np.flatnonzero(np.isin(kind, ("ar", "return", "non_ar", "interest")))
    k = kind[rows]
    is_ar, is_ret, is_non = k == "ar", k == "return", np.isin(k, ("non_ar", "interest"))
    e_pid = entries["pid"].to_numpy()[rows]
    e_orig = entries["orig_pid"].to_numpy()[rows]
    pid = np.where(is_ar, e_pid, np.where(is_ret, e_orig, m))  # m: the padding slot below
    ref = entries["ref"].to_numpy()[rows]

    ref_of_pid = np.empty(m, dtype=object)
    ref_of_pid[e_pid[is_ar]] = ref[is_ar]
    pos_of_pid = np.zeros(m, np.int64)
    pos_of_pid[e_pid[is_ar]] = np.flatnonzero(is_ar)
    returned_by = np.full(m, "", dtype=object)
    returned_by[e_orig[is_ret]] = ref[is_ret]
    pos_of_return = np.zeros(m, np.int64)
    pos_of_return[e_orig[is_ret]] = np.flatnonzero(is_ret)
    n_alloc = np.bincount(plan.alloc["pid"].to_numpy(), minlength=m)
    e_ret = entries["ret"].to_numpy()[rows]
    reasons = np.append(plan.returns["reason"].to_numpy().astype(object), "")  # [-1]: none

    cust_ids = master.customers["customer_id"].to_numpy()
    acct = entries["acct"].to_numpy()[rows]
    ibans = np.array([a.iban for a in ACCOUNTS], dtype=object)
    currencies = np.array([a.currency for a in ACCOUNTS], dtype=object)
    # per payment, plus one padding slot (index m) for the non-AR rows
    ref_of_pid, returned_by = np.append(ref_of_pid, ""), np.append(returned_by, "")
    n_alloc_padded = np.append(n_alloc, 0)
    matchable = np.append(np.where(truth.matchable, "true", "false").astype(object), "false")
    reason = np.append(np.array(truth.reason, dtype=object), "non_ar")
    identified_by = np.append(np.array(truth.identified_by, dtype=object), "")
    e = {
        c: entries[c].to_numpy()
        for c in (
            "entry_ref",
            "booking",
            "value",
            "amount",
            "name",
            "cp_iban",
            "ustrd",
            "addtl",
            "rf",
            "e2e",
        )
    }
    p = {
        c: np.append(pay[c].to_numpy().astype(object), "")
        for c in ("category", "reference_style", "reference_detail", "channel")
    }
    payer_ids = np.append(cust_ids[pay["cust"].to_numpy()].astype(object), "")

    def payment_columns(lo: int, hi: int) -> list[object]:
        part = slice(lo, hi)
        r, q = rows[part], pid[part]
        ar, ret, non = is_ar[part], is_ret[part], is_non[part]

        def pick(ar_values: np.ndarray, ret_value: object, non_value: object) -> np.ndarray:
            out = np.asarray(ar_values, dtype=object)[q]
            out[ret] = ret_value
            out[non] = non_value
            return out

        columns = {
            "payment_ref": ref[part],
            "entry_ref": e["entry_ref"][r],
            "account": ibans[acct[part]],
            "source_file": source[r],
            "booking_date": iso_dates(e["booking"][r].astype("datetime64[D]")),
            "value_date": iso_dates(e["value"][r].astype("datetime64[D]")),
            "amount": money(e["amount"][r]),
            "currency": currencies[acct[part]],
            "category": pick(p["category"], "return", "non_ar"),
            "payer_customer_id": payer_ids[q],
            "reference_style": pick(p["reference_style"], "reversal", "none"),
            "reference_detail": pick(p["reference_detail"], "", ""),
            "matchable": pick(matchable, "true", "false"),
            "matchable_reason": pick(reason, "reversal_of_payment", "non_ar"),
            "payer_identified_by": np.where(non, "", identified_by[q]),
            "channel": np.where(non, "sct", p["channel"][q]),
            "invoice_count": n_alloc_padded[q],
            "counterparty_name": e["name"][r],
            "counterparty_account": e["cp_iban"][r],
            "remittance_info": np.where(k[part] == "interest", e["addtl"][r], e["ustrd"][r]),
            "structured_reference": e["rf"][r],
            "end_to_end_id": e["e2e"][r],
            "reversal_of": np.where(ret, ref_of_pid[q], ""),
            "reversed_by": np.where(ar, returned_by[q], ""),
            "return_reason": reasons[e_ret[part]],
        }
        return [columns[c] for c in TRUTH_PAYMENT_COLUMNS]

    write_csv_chunks(truth_dir / "payments.csv", TRUTH_PAYMENT_COLUMNS, len(rows), payment_columns)

    # allocations: what each payment truly pays; a return reverses its payment's rows
    alloc = plan.alloc
    a_pid = alloc["pid"].to_numpy()
    a_inv = alloc["inv"].to_numpy()
    reversed_rows = np.flatnonzero(np.isin(a_pid, e_orig[is_ret]))
    take = np.r_[np.arange(len(alloc)), reversed_rows]
    sign = np.r_[np.ones(len(alloc), np.int64), -np.ones(len(reversed_rows), np.int64)]
    position = np.r_[pos_of_pid[a_pid], pos_of_return[a_pid[reversed_rows]]]
    refs = np.r_[ref_of_pid[a_pid], returned_by[a_pid[reversed_rows]]]
    order = np.lexsort((a_inv[take], position))  # invoice position order is number order
    take, refs, sign = take[order], refs[order], sign[order]
    amounts = {c: alloc[c].to_numpy() for c in ("amount", "fee", "on_account")}

    def allocation_columns(lo: int, hi: int) -> list[object]:
        rows_, s_ = take[lo:hi], sign[lo:hi]
        return [
            refs[lo:hi],
            inv.ids(a_inv[rows_]),
            inv.numbers(a_inv[rows_]),
            money(s_ * amounts["amount"][rows_]),
            money(s_ * amounts["fee"][rows_]),
            money(s_ * amounts["on_account"][rows_]),
        ]

    write_csv_chunks(
        truth_dir / "allocations.csv", TRUTH_ALLOCATION_COLUMNS, len(take), allocation_columns
    )

    open_idx = np.flatnonzero(truth.open_end > 0)
    write_csv(
        truth_dir / "open_items.csv",
        ("invoice_id", "invoice_number", "customer_id", "currency", "open_amount"),
        [
            inv.ids(open_idx),
            inv.numbers(open_idx),
            cust_ids[f["cust"].to_numpy()[open_idx]],
            f["currency"].to_numpy()[open_idx],
            money(truth.open_end[open_idx]),
        ],
    )
    return _shares(plan, truth, n_alloc)


def _shares(plan: PaymentPlan, truth: Truth, n_alloc: np.ndarray) -> dict[str, float]:
    """Shares of incoming AR payments (returns and non-AR credits excluded), by count and by
    amount in EUR at fixed indicative rates (ratios only: no money is computed with floats)."""
    pay = plan.pay
    rate = pd.Series({"EUR": 1.0, "USD": 0.92, "CHF": 1.05})
    eur = pay["amount"].to_numpy() * rate[pay["currency"]].to_numpy()
    total = eur.sum()
    out = {}
    for label, mask in (
        ("no_reference", pay["reference_style"].to_numpy() == "none"),
        ("multi_invoice", n_alloc >= 2),
        ("matchable", truth.matchable),
    ):
        out[f"{label}_count"] = round(float(mask.mean()), 4) if len(pay) else 0.0
        out[f"{label}_amount"] = round(float(eur[mask].sum() / total), 4) if total else 0.0
    return out


def _summary(
    counts: dict[str, int],
    plan: PaymentPlan,
    entries: pd.DataFrame,
    files: list,
    shares: dict[str, float],
    seed: int,
    end: np.datetime64,
    bank_format: str,
) -> dict:
    pay = plan.pay
    by_cat: dict[str, dict[str, object]] = {}
    for cat in sorted(set(pay["category"].tolist())):
        sel = pay["category"].to_numpy() == cat
        amounts = (
            pd.Series(pay["amount"].to_numpy()[sel]).groupby(pay["currency"].to_numpy()[sel]).sum()
        )
        by_cat[cat] = {
            "count": int(sel.sum()),
            "amount": {c: money([int(v)])[0] for c, v in amounts.items()},
        }
    kind = entries["kind"].to_numpy()
    ccy = np.array([a.currency for a in ACCOUNTS])[entries["acct"].to_numpy()]
    for label, kinds in (("return", ("return",)), ("non_ar", ("non_ar", "interest"))):
        sel = np.isin(kind, kinds)
        amounts = pd.Series(entries["amount"].to_numpy()[sel]).groupby(ccy[sel]).sum()
        by_cat[label] = {
            "count": int(sel.sum()),
            "amount": {c: money([int(v)])[0] for c, v in amounts.items()},
        }
    return {
        "seed": seed,
        "end_date": str(end),
        "bank_format": bank_format,
        **counts,
        "bank_files": len(files),
        "bank_entries": int(len(entries)),
        "ar_payments": int(len(pay)),
        "payments_by_category": by_cat,
        "shares": shares,
    }
