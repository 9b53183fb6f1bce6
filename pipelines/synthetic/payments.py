"""What customers (and others) really pay: one row per incoming AR payment with its true
allocations, built with numpy over all invoices at once; then per payment the text a bank
would show (payer name and account, remittance, creditor reference)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from pipelines.synthetic import words
from pipelines.synthetic.checks import rf_reference
from pipelines.synthetic.erp import InvoiceNumbering, Invoices
from pipelines.synthetic.fmt import table, text
from pipelines.synthetic.master import IbanFactory, Master, norm_name, payer_name_variants

# Fates of an invoice (how it gets paid)
FULL, THIRD, UNKNOWN, PARTIAL, FEE, OVER, RETURNED, SDD, SDD_RETURNED = range(9)

EXACT_TEMPLATES = (
    "{r}", "{r}", "{r}", "Invoice {r}", "Rechnung {r}", "RE {r}", "Payment {r}", "{r} {name}",
    "Facture {r}", "Factuur {r}", "Inv. {r}", "Rg {r}",
)  # fmt: skip
SENTENCE_TEMPLATES = (
    "Rechnung Nr. {r} / Kd {cid}", "Ihre Rechnung {r} vom {d}", "Zahlung zu Beleg {r}",
    "Payment of invoice no. {r} - many thanks", "Facture n {r} reglement",
    "Betaling factuur {r} klantnr {cid}", "Ref {r} PO {po}", "Our ref {po} your invoice {r}",
)  # fmt: skip
PARTIAL_TEMPLATES = ("Teilzahlung {r}", "Partial payment {r}", "Anzahlung {r}", "Abschlag {r}")
PARTIAL_NOREF = ("Teilzahlung", "Partial payment", "Anzahlung", "Abschlag")
REST_TEMPLATES = ("Restzahlung {r}", "Balance {r}", "Rest {r}", "Final payment {r}")
REST_NOREF = ("Restzahlung", "Balance", "Rest", "Final payment")
MULTI_PREFIXES = ("", "", "Rechnungen ", "Invoices ", "RE ", "Sammelzahlung ", "Payment ")
MULTI_SEPARATORS = (", ", " ", "; ", " + ", " / ", ",")
SDD_RETURN_REASONS = ("AM04", "AM04", "MD06", "MD06", "MS02", "AC04")
SCT_RETURN_REASONS = ("AC04", "FOCR", "AC06")

# how the payer is named
NAME_STYLES = ("exact", "bank_style", "alias", "typo", "short")


@dataclass
class PaymentPlan:
    pay: pd.DataFrame  # one row per incoming AR payment (pid = position), value-date order
    alloc: pd.DataFrame  # pid, inv, amount, fee, on_account (sorted by pid)
    returns: pd.DataFrame  # one row per return: pid (of the returned payment), date, reason


def _busday(days: np.ndarray) -> np.ndarray:
    return np.busday_offset(days.astype("datetime64[D]"), 0, roll="forward")


def _after(days: np.ndarray, k: np.ndarray | int) -> np.ndarray:
    return np.busday_offset(days.astype("datetime64[D]"), k, roll="forward")


def plan_payments(
    master: Master, inv: Invoices, end: np.datetime64, rng: np.random.Generator
) -> PaymentPlan:
    """Decide for every invoice when and how it is paid (or not), and build the payments and
    their true allocations. Dates are value dates; nothing after ``end`` is paid."""
    f = inv.frame
    cdf = master.customers
    n = len(f)
    cust = f["cust"].to_numpy()
    issue = f["issue"].to_numpy()
    due = f["due"].to_numpy()
    net = f["amount"].to_numpy() - inv.cn_amount
    eligible = (~f["cancelled"].to_numpy()) & (net > 0)
    disputed = f["disputed"].to_numpy()
    prof = cdf["profile"].to_numpy()[cust]
    is_sdd = cdf["sdd"].to_numpy()[cust] & eligible
    currency = f["currency"].to_numpy()

    # ---- when: by the customer's habit, later when disputed, some never
    early = issue + rng.integers(3, 11, n).astype("timedelta64[D]")
    punctual = due + np.clip(np.round(rng.normal(0, 3, n)), -7, 10).astype("timedelta64[D]")
    late = due + np.round(rng.gamma(2.0, 10.0, n)).astype("timedelta64[D]")
    very_late = due + rng.integers(20, 121, n).astype("timedelta64[D]")
    pay = np.select([prof == 0, prof == 1, prof == 2], [early, punctual, late], very_late)
    pay = pay + np.where(disputed, rng.integers(30, 121, n), 0).astype("timedelta64[D]")
    never = (rng.random(n) < np.array([0.015, 0.01, 0.03, 0.08])[prof]) | (
        disputed & (rng.random(n) < 0.4)
    )
    pay = np.where(is_sdd, due, pay)
    never &= ~is_sdd
    pay = np.maximum(_busday(pay), _after(issue, 1))
    has_cn = ~np.isnat(inv.cn_date)
    pay = np.where(has_cn, np.maximum(pay, _after(np.where(has_cn, inv.cn_date, issue), 1)), pay)
    paid = eligible & ~never & (pay <= end)

    # ---- how: one fate per invoice
    tp = cdf["third_party"].to_numpy()[cust] >= 0
    r = rng.random(n)
    p_fee = np.where(currency == "EUR", 0.02, 0.18)
    bounds = np.cumsum(
        np.stack(
            [
                np.where(tp, 0.3, 0.0),
                np.full(n, 0.015),
                np.full(n, 0.04),
                p_fee,
                np.full(n, 0.015),
                np.full(n, 0.004),
            ]
        ),
        axis=0,
    )
    fate = np.select(
        [r < bounds[0], r < bounds[1], r < bounds[2], r < bounds[3], r < bounds[4], r < bounds[5]],
        [THIRD, UNKNOWN, PARTIAL, FEE, OVER, RETURNED],
        FULL,
    )
    fate = np.where(is_sdd, np.where(rng.random(n) < 0.06, SDD_RETURNED, SDD), fate)

    pieces: list[dict[str, np.ndarray]] = []  # payments
    alloc_pieces: list[dict[str, np.ndarray]] = []  # allocations, keyed by a temporary id
    next_key = 0

    def add_single(
        invs: np.ndarray,
        value: np.ndarray,
        amount: np.ndarray,
        alloc: np.ndarray,
        fee: np.ndarray,
        over: np.ndarray,
        category: np.ndarray,
        kind: np.ndarray,
    ) -> None:
        nonlocal next_key
        k = np.arange(next_key, next_key + len(invs))
        next_key += len(invs)
        pieces.append(
            {
                "key": k,
                "cust": cust[invs],
                "inv": invs,
                "n_inv": np.ones(len(invs), np.int64),
                "value": value,
                "amount": amount,
                "category": category,
                "kind": kind,
            }
        )
        alloc_pieces.append(
            {"key": k, "inv": invs, "amount": alloc, "fee": fee, "on_account": over}
        )

    zero = np.zeros(n, np.int64)

    # ---- several invoices in one payment: "multi" customers pay what is due in runs
    multi_cust = cdf["multi"].to_numpy()[cust]
    candidates = np.flatnonzero(paid & (fate == FULL) & multi_cust)
    grouped = np.zeros(n, dtype=bool)
    if len(candidates):
        order = np.lexsort((pay[candidates], cust[candidates]))
        c = candidates[order]
        brk = np.ones(len(c), dtype=bool)
        brk[1:] = (cust[c][1:] != cust[c][:-1]) | (rng.random(len(c) - 1) < 0.4)
        gid = np.cumsum(brk) - 1
        within = pd.Series(gid).groupby(gid).cumcount().to_numpy()
        gid = gid * 8 + within // 6  # at most six invoices per payment
        _, gid = np.unique(gid, return_inverse=True)
        sizes = np.bincount(gid)
        in_multi = sizes[gid] >= 2
        c, gid = c[in_multi], gid[in_multi]
        if len(c):
            _, gid = np.unique(gid, return_inverse=True)
            n_groups = int(gid.max()) + 1
            group_pay = np.full(n_groups, np.datetime64("1970-01-01"), dtype="datetime64[D]")
            np.maximum.at(group_pay, gid, pay[c])
            group_amount = np.zeros(n_groups, np.int64)
            np.add.at(group_amount, gid, net[c])
            first_inv = np.full(n_groups, -1, np.int64)
            first_inv[gid[::-1]] = c[::-1]
            keys = next_key + np.arange(n_groups)
            next_key += n_groups
            pieces.append(
                {
                    "key": keys,
                    "cust": cust[first_inv],
                    "inv": first_inv,
                    "n_inv": np.bincount(gid),
                    "value": group_pay,
                    "amount": group_amount,
                    "category": np.full(n_groups, "multi_invoice"),
                    "kind": np.full(n_groups, FULL),
                }
            )
            alloc_pieces.append(
                {
                    "key": keys[gid],
                    "inv": c,
                    "amount": net[c],
                    "fee": zero[c],
                    "on_account": zero[c],
                }
            )
            grouped[c] = True

    # ---- one invoice per payment
    single = (
        paid
        & ~grouped
        & np.isin(fate, [FULL, THIRD, UNKNOWN, FEE, OVER, RETURNED, SDD, SDD_RETURNED])
    )
    fee = np.where(rng.random(n) < 0.6, rng.integers(1, 100, n), rng.integers(100, 751, n))
    fee = np.minimum(fee, net // 2)
    extra = np.where(
        rng.random(n) < 0.5,
        rng.integers(1, 5001, n),
        np.round(net * rng.uniform(0.01, 0.1, n)).astype(np.int64),
    )
    extra = np.maximum(extra, 1)
    s = np.flatnonzero(single)
    fs = fate[s]
    amount = np.select([fs == FEE, fs == OVER], [net[s] - fee[s], net[s] + extra[s]], net[s])
    alloc = np.where(fs == FEE, net[s] - fee[s], net[s])
    category = np.select(
        [
            fs == THIRD,
            fs == UNKNOWN,
            fs == FEE,
            fs == OVER,
            (fs == RETURNED) | (fs == SDD_RETURNED),
        ],
        ["third_party", "unknown_payer", "fee_short", "overpayment", "returned"],
        "invoice_payment",
    )
    add_single(
        s,
        pay[s],
        amount,
        alloc,
        np.where(fs == FEE, fee[s], 0),
        np.where(fs == OVER, extra[s], 0),
        category,
        fs,
    )

    # ---- partial payments, the rest usually following later
    p = np.flatnonzero(eligible & ~never & (fate == PARTIAL))
    p1 = np.maximum(
        _busday(pay[p] - rng.integers(10, 41, len(p)).astype("timedelta64[D]")), _after(issue[p], 1)
    )
    ok = (p1 < pay[p]) & (p1 <= end)
    p, p1 = p[ok], p1[ok]
    unit = np.where(net[p] > 200_000, 10_000, 1_000)
    part = (np.round(net[p] * rng.uniform(0.2, 0.7, len(p)) / unit).astype(np.int64)) * unit
    part = np.clip(part, 100, net[p] - 100)
    good = part > 0
    p, p1, part = p[good], p1[good], part[good]
    add_single(
        p,
        p1,
        part,
        part,
        np.zeros(len(p), np.int64),
        np.zeros(len(p), np.int64),
        np.full(len(p), "partial"),
        np.full(len(p), PARTIAL),
    )
    rest = (pay[p] <= end) & (rng.random(len(p)) < 0.75)
    q = p[rest]
    add_single(
        q,
        pay[q],
        net[q] - part[rest],
        net[q] - part[rest],
        np.zeros(len(q), np.int64),
        np.zeros(len(q), np.int64),
        np.full(len(q), "partial_rest"),
        np.full(len(q), FULL),
    )

    pay_df = pd.concat([table(x) for x in pieces], ignore_index=True)
    alloc_df = pd.concat([table(x) for x in alloc_pieces], ignore_index=True)

    # ---- returns (direct-debit returns, credit-transfer recalls) and the payment again
    is_ret = pay_df["category"].to_numpy() == "returned"
    ret_days = rng.integers(2, 7, len(pay_df))
    ret_date = _after(pay_df["value"].to_numpy(), ret_days)
    is_ret &= ret_date <= end
    pay_df.loc[(pay_df["category"] == "returned").to_numpy() & ~is_ret, "category"] = (
        "invoice_payment"
    )
    kinds = pay_df["kind"].to_numpy()
    reasons = np.where(
        kinds == SDD_RETURNED,
        np.array(SDD_RETURN_REASONS)[rng.integers(0, len(SDD_RETURN_REASONS), len(pay_df))],
        np.array(SCT_RETURN_REASONS)[rng.integers(0, len(SCT_RETURN_REASONS), len(pay_df))],
    )
    ret_idx = np.flatnonzero(is_ret)
    again_date = _after(ret_date[ret_idx], rng.integers(5, 21, len(ret_idx)))
    again = (again_date <= end) & (rng.random(len(ret_idx)) < 0.7)
    a_inv = pay_df["inv"].to_numpy()[ret_idx[again]]
    repay = {
        "key": next_key + np.arange(len(a_inv)),
        "cust": cust[a_inv],
        "inv": a_inv,
        "n_inv": np.ones(len(a_inv), np.int64),
        "value": again_date[again],
        "amount": net[a_inv],
        "category": np.full(len(a_inv), "invoice_payment"),
        "kind": np.full(len(a_inv), FULL),
    }
    pay_df = pd.concat([pay_df, table(repay)], ignore_index=True)
    alloc_df = pd.concat(
        [
            alloc_df,
            table(
                {
                    "key": repay["key"],
                    "inv": a_inv,
                    "amount": net[a_inv],
                    "fee": np.zeros(len(a_inv), np.int64),
                    "on_account": np.zeros(len(a_inv), np.int64),
                }
            ),
        ],
        ignore_index=True,
    )
    returns_key = pay_df["key"].to_numpy()[ret_idx]
    returns = table({"key": returns_key, "date": ret_date[ret_idx], "reason": reasons[ret_idx]})

    # ---- value-date order → pid
    order = np.lexsort((rng.random(len(pay_df)), pay_df["value"].to_numpy()))
    pay_df = pay_df.iloc[order].reset_index(drop=True)
    key_to_pid = np.empty(len(pay_df), np.int64)
    key_to_pid[pay_df["key"].to_numpy()] = np.arange(len(pay_df))
    alloc_df["pid"] = key_to_pid[alloc_df["key"].to_numpy()]
    alloc_df = (
        alloc_df.sort_values(["pid", "inv"], kind="stable")
        .drop(columns="key")
        .reset_index(drop=True)
    )
    returns["pid"] = key_to_pid[returns["key"].to_numpy()]
    returns = returns.drop(columns="key").sort_values("pid").reset_index(drop=True)
    pay_df = pay_df.drop(columns="key")
    pay_df["currency"] = text(currency[pay_df["inv"].to_numpy()])
    pay_df["returned"] = np.zeros(len(pay_df), dtype=bool)
    pay_df.loc[returns["pid"].to_numpy(), "returned"] = True
    return PaymentPlan(pay_df, alloc_df, returns)


# --------------------------------------------------------------------------- what the bank shows
def describe_payments(
    plan: PaymentPlan,
    master: Master,
    inv: Invoices,
    numbering: InvoiceNumbering,
    end: np.datetime64,
    rng: np.random.Generator,
    ibans: IbanFactory,
) -> None:
    """Add payer, reference style and remittance columns to ``plan.pay`` (in place)."""
    pay = plan.pay
    cdf = master.customers
    f = inv.frame
    m = len(pay)
    cust = pay["cust"].to_numpy()
    kind = pay["kind"].to_numpy()
    category = pay["category"].to_numpy()
    n_inv = pay["n_inv"].to_numpy()

    # ---- reference style
    noref = cdf["noref"].to_numpy()[cust]
    rf_user = cdf["rf_user"].to_numpy()[cust]
    r1, r2, r3 = rng.random(m), rng.random(m), rng.random(m)
    style = np.where(
        r1 < np.where(noref, 0.85, 0.06), "none", np.where(r3 < 0.5, "exact", "variant")
    )
    single = n_inv == 1
    style = np.where(single & (style != "none") & rf_user & (r2 < 0.7), "rf_reference", style)
    style = np.where(
        single & (style != "none") & (style != "rf_reference") & (r2 > 0.965), "typo", style
    )
    third = category == "third_party"
    style = np.where(third & (style == "none"), "exact", style)
    style = np.where(third & (style == "typo"), "variant", style)
    style = np.where(category == "unknown_payer", "none", style)
    is_sdd = (kind == SDD) | (kind == SDD_RETURNED)
    style = np.where(is_sdd, "exact", style)
    is_returned = pay["returned"].to_numpy()
    style = np.where(
        is_returned & (style == "none"), "exact", style
    )  # a reversal needs its original findable
    pay["reference_style"] = text(style)

    channel = np.where(is_sdd, "sdd", np.where(pay["currency"].to_numpy() == "EUR", "sct", "wire"))
    pay["channel"] = text(channel)

    # ---- payer name and account
    names = cdf["name"].tolist()
    customer_ids = cdf["customer_id"].tolist()
    short_names = cdf["base"].tolist()
    name_draw = rng.random(m)
    acct_draw = rng.random(m)
    pick = rng.random((m, 3))
    pay_name, pay_acct, name_style = _customer_payers(
        cdf, master.name_index, cust, is_sdd, name_draw, acct_draw, pick, rng
    )

    third = np.flatnonzero(category == "third_party")
    tp = cdf["third_party"].to_numpy()[cust[third]]
    pay_name[third] = master.third_parties["name"].to_numpy(dtype=object)[tp]
    pay_acct[third] = master.third_parties["iban"].to_numpy(dtype=object)[tp]
    name_style[third] = "third_party"

    for i in np.flatnonzero(category == "unknown_payer").tolist():  # nobody in master data
        while True:
            first = words.FIRST_NAMES[rng.integers(len(words.FIRST_NAMES))]
            last = words.LAST_NAMES[rng.integers(len(words.LAST_NAMES))]
            trade = words.INDUSTRIES_EN[rng.integers(len(words.INDUSTRIES_EN))]
            nm = f"{first} {last}" if rng.random() < 0.5 else f"{last} {trade} Services"
            if norm_name(nm) not in master.name_index:
                break
        pay_name[i] = nm
        pay_acct[i] = ibans.new(("DE", "NL", "FR", "AT", "BE")[rng.integers(5)])
        name_style[i] = "unknown"
    pay["payer_name"] = text(pay_name)
    pay["payer_account"] = text(pay_acct)
    pay["name_style"] = text(name_style)

    # ---- remittance text and creditor reference
    alloc = plan.alloc
    ptr = np.searchsorted(alloc["pid"].to_numpy(), np.arange(m + 1))
    a_inv = alloc["inv"].to_numpy()
    years = f["year"].to_numpy()
    seqs = f["seq"].to_numpy()
    issue_text = pd.Series(f["issue"].to_numpy()).dt.strftime("%d.%m.%Y").to_numpy()
    draws = rng.random((m, 8))
    po = rng.integers(4500000000, 4509999999, m)
    e2e_ids = _random_ids(rng, m, "E2E", 10)
    variants = InvoiceNumbering.VARIANTS
    ustrd: list[str] = []
    rf: list[str] = []
    detail: list[str] = []
    typo_key = np.full(m, -1, dtype=np.int64)
    e2e: list[str] = []
    for i in range(m):
        st = style[i]
        dr = draws[i]
        invs = a_inv[ptr[i] : ptr[i + 1]]
        first = int(invs[0])
        y, sq = int(years[first]), int(seqs[first])
        cat = category[i]
        msg = ""
        ref = ""
        det = ""
        if st == "rf_reference":
            ref = rf_reference(_rf_body(numbering, y, sq))
            msg = (
                words.NO_REFERENCE_TEXTS[int(dr[0] * len(words.NO_REFERENCE_TEXTS))]
                if dr[1] < 0.4
                else ""
            )
            det = "rf"
        elif st == "none":
            if cat == "partial":
                msg = PARTIAL_NOREF[int(dr[0] * len(PARTIAL_NOREF))]
            elif cat == "partial_rest":
                msg = REST_NOREF[int(dr[0] * len(REST_NOREF))]
            elif cat == "unknown_payer":
                msg = words.UNKNOWN_PAYER_TEXTS[int(dr[0] * len(words.UNKNOWN_PAYER_TEXTS))]
            else:
                msg = words.NO_REFERENCE_TEXTS[int(dr[0] * len(words.NO_REFERENCE_TEXTS))]
        elif len(invs) > 1:
            kind_v = "exact" if st == "exact" else variants[int(dr[2] * len(variants))]
            refs = [_spell(numbering, int(years[k]), int(seqs[k]), kind_v, dr[3]) for k in invs]
            prefix = MULTI_PREFIXES[int(dr[0] * len(MULTI_PREFIXES))]
            msg = prefix + MULTI_SEPARATORS[int(dr[1] * len(MULTI_SEPARATORS))].join(refs)
            if len(msg) > 140:
                msg = ", ".join(numbering.exact(int(years[k]), int(seqs[k])) for k in invs)
            det = f"list_{kind_v}"
        else:
            if st == "typo":
                sq_typed, y_typed = _typo_seq(numbering, sq, dr[4], dr[5]), y
                typo_key[i] = numbering.key(y_typed, sq_typed)
                kind_v = "exact" if dr[2] < 0.5 else variants[int(dr[3] * len(variants))]
                r_text = _spell(numbering, y_typed, sq_typed, kind_v, dr[6])
                det = f"typo_{kind_v}"
            elif st == "exact":
                r_text = numbering.exact(y, sq)
                det = "exact"
            else:
                kind_v = variants[int(dr[2] * len(variants))] if dr[7] < 0.7 else "sentence"
                inner = (
                    "exact"
                    if kind_v != "sentence"
                    else (("exact",) + variants)[int(dr[3] * (len(variants) + 1))]
                )
                r_text = _spell(numbering, y, sq, kind_v if kind_v != "sentence" else inner, dr[6])
                det = kind_v if kind_v != "sentence" else f"sentence_{inner}"
            if cat == "partial":
                msg = PARTIAL_TEMPLATES[int(dr[0] * len(PARTIAL_TEMPLATES))].format(r=r_text)
            elif cat == "partial_rest":
                msg = REST_TEMPLATES[int(dr[0] * len(REST_TEMPLATES))].format(r=r_text)
            elif det.startswith("sentence"):
                tpl = SENTENCE_TEMPLATES[int(dr[1] * len(SENTENCE_TEMPLATES))]
                msg = tpl.format(r=r_text, cid=customer_ids[cust[i]], d=issue_text[first], po=po[i])
            else:
                tpl = EXACT_TEMPLATES[int(dr[1] * len(EXACT_TEMPLATES))]
                msg = tpl.format(r=r_text, name=short_names[cust[i]])
            if is_sdd[i]:
                msg = f"{numbering.exact(y, sq)} {names[cust[i]]}"
                det = "direct_debit"
        ustrd.append(msg[:140])
        rf.append(ref)
        detail.append(det)
        e2e.append(
            f"DD{_rf_body(numbering, y, sq)}"[:35]
            if is_sdd[i]
            else (e2e_ids[i] if is_returned[i] or dr[7] > 0.65 else "NOTPROVIDED")
        )
    pay["remittance"] = text(ustrd)
    pay["rf"] = text(rf)
    pay["reference_detail"] = text(detail)
    pay["typo_key"] = typo_key
    pay["end_to_end_id"] = text(e2e)
    pay["mandate"] = text(
        np.where(
            is_sdd,
            np.array([f"MD-{x}-01" for x in cdf["customer_id"].tolist()], dtype=object)[cust],
            "",
        )
    )

    # ---- booking date: mostly the value date, sometimes the next business day
    value = pay["value"].to_numpy()
    later = np.minimum(_after(value, 1), end)
    pay["booking"] = np.where(rng.random(m) < 0.1, later, value)


def _rf_body(numbering: InvoiceNumbering, year: int, seq: int) -> str:
    body = numbering.compact(year, seq)
    if len(body) > 21:
        body = body[-21:]
    return body


def _spell(numbering: InvoiceNumbering, year: int, seq: int, kind: str, pick: float) -> str:
    return (
        numbering.exact(year, seq) if kind == "exact" else numbering.variant(year, seq, kind, pick)
    )


def _typo_seq(numbering: InvoiceNumbering, seq: int, pos_draw: float, digit_draw: float) -> int:
    """The sequence number with one digit typed wrong (any position of the printed digits)."""
    digits = f"{seq:0{numbering.width}d}"
    pos = int(pos_draw * len(digits))
    options = [d for d in "0123456789" if d != digits[pos]]
    new = options[int(digit_draw * len(options))]
    typed = int(digits[:pos] + new + digits[pos + 1 :])
    return typed if typed > 0 else seq + 10 ** (len(digits) - 1)


_B36 = np.array(list("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"))


def _random_ids(rng: np.random.Generator, n: int, prefix: str, length: int) -> np.ndarray:
    """n random upper-case alphanumeric ids (``prefix`` + ``length`` characters)."""
    chars = np.ascontiguousarray(_B36[rng.integers(0, 36, (n, length))])
    return (prefix + pd.Series(chars.view(f"<U{length}").ravel())).to_numpy(dtype=object)


def _customer_payers(
    cdf: pd.DataFrame,
    name_index: dict[str, int],
    cust: np.ndarray,
    is_sdd: np.ndarray,
    name_draw: np.ndarray,
    acct_draw: np.ndarray,
    pick: np.ndarray,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Payer name, account and name style when the customer pays itself (vectorised).

    Account: one in master data (90%, always for direct debits), else one the customer also
    pays from. Name: official 60%, bank style (upper case, transliterated) 14%, an alias 10%
    (when it has one), a typo 8%, without legal form 5%, official otherwise.
    """
    bank_names, typo_names, short_names = (
        np.array(x, dtype=object) for x in payer_name_variants(cdf, name_index, rng)
    )
    names = cdf["name"].to_numpy(dtype=object)
    aliases = cdf["aliases"].tolist()
    alias1 = np.array([a[0] if a else "" for a in aliases], dtype=object)
    alias2 = np.array([a[-1] if a else "" for a in aliases], dtype=object)
    accounts = cdf["accounts"].tolist()
    acct1 = np.array([a[0] if a else "" for a in accounts], dtype=object)
    acct2 = np.array([a[-1] if a else "" for a in accounts], dtype=object)
    n_acct = np.array([len(a) for a in accounts])[cust]
    hidden = cdf["hidden_iban"].to_numpy(dtype=object)

    use_master = (n_acct > 0) & (is_sdd | (acct_draw < 0.9))
    second = (n_acct > 1) & ~is_sdd & (pick[:, 0] >= 0.5)
    account = np.where(use_master, np.where(second, acct2[cust], acct1[cust]), hidden[cust])

    d = np.where(is_sdd, np.minimum(name_draw, 0.59), name_draw)  # the mandate name
    has_alias = alias1[cust] != ""
    conditions = [d < 0.6, d < 0.74, (d < 0.84) & has_alias, d < 0.92, d < 0.97]
    alias = np.where(pick[:, 1] < 0.5, alias1[cust], alias2[cust])
    name = np.select(
        conditions,
        [names[cust], bank_names[cust], alias, typo_names[cust], short_names[cust]],
        names[cust],
    )
    style = np.select(conditions, np.array(NAME_STYLES, dtype=object), "exact")
    return name.astype(object), account.astype(object), style.astype(object)
