"""Which payments have exactly one correct answer (``matchable``), and why.

The definition is the one an *ideal matcher* would meet (CONTRACT §3: payments in value-date
order, each against the invoices issued on or before its date and open at that moment):

- The ideal matcher has applied every earlier matchable payment correctly (its fee
  write-offs too) and nothing else. So an invoice truly paid by an unmatchable payment is
  still open in its view; that is the view a payment is judged against ("matcher view").
- A payment quoting invoice numbers (exact or varied spelling, or an RF creditor reference)
  is matchable when the quoted invoices are open in that view and applying the payment to
  them (each up to its open amount, the rest on account) gives the true allocation.
- A payment with a one-digit typo is matchable when the typed number is no invoice issued by
  then, the payer is identified, and exactly one open invoice of the payer is one digit away.
- A payment without reference is matchable when the payer is identified from master data
  alone (an IBAN in ``customers.bank_accounts``, or a name equal, after case folding and
  whitespace collapsing, to exactly one customer's name or alias) and exactly one set of 1-4
  of that customer's open invoices sums to the amount, to the cent, and it is the true one.
  When the customer has more than ``MAX_CANDIDATES`` open invoices (in that view) the
  search is not attempted: not matchable (``too_many_open_invoices``).
- Payments on the same value date are judged against the state at the start of that day
  (credit notes and returns of that day applied), which is a superset of what a matcher sees
  in any order within the day, so "unique" holds whatever the order.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from pipelines.synthetic.combos import count_subsets
from pipelines.synthetic.erp import InvoiceNumbering, Invoices
from pipelines.synthetic.master import Master, norm_name
from pipelines.synthetic.payments import PaymentPlan

MAX_CANDIDATES = 200
REF_STYLES = ("exact", "variant", "rf_reference")


@dataclass
class Truth:
    matchable: np.ndarray  # per payment (pid)
    reason: list[str]
    identified_by: list[str]  # "account", "name" or ""
    open_end: np.ndarray  # per invoice: true open amount at the end date (cents)


def _days(values: np.ndarray) -> np.ndarray:
    return np.asarray(values).astype("datetime64[D]")


def simulate(
    master: Master,
    inv: Invoices,
    plan: PaymentPlan,
    numbering: InvoiceNumbering,
    end: np.datetime64,
) -> Truth:
    """Walk the payments in value-date order; decide ``matchable`` for each; return the truth."""
    return _Simulation(master, inv, plan, numbering).run(end)


class _Simulation:
    def __init__(
        self, master: Master, inv: Invoices, plan: PaymentPlan, numbering: InvoiceNumbering
    ):
        f = inv.frame
        pay = plan.pay
        self.inv = inv
        self.plan = plan
        self.numbering = numbering
        m = len(pay)

        self.inv_cust = f["cust"].to_numpy()
        self.issue = _days(f["issue"].to_numpy())
        amount = np.where(f["cancelled"].to_numpy(), 0, f["amount"].to_numpy()).astype(np.int64)
        self.topen = amount.copy()  # the truth
        self.mopen = amount.copy()  # the ideal matcher's view

        # invoice numbers as keys, for typo look-ups
        keys = (
            f["year"].to_numpy() * 10_000_000 + f["seq"].to_numpy()
            if numbering.has_year
            else f["seq"].to_numpy()
        )
        self.key_order = np.argsort(keys, kind="stable")
        self.keys_sorted = keys[self.key_order]

        # each customer's invoices by issue date, for the amount-only candidates
        self.cust_order = np.lexsort((self.issue, self.inv_cust))
        self.cust_ptr = np.searchsorted(
            self.inv_cust[self.cust_order], np.arange(len(master.customers) + 1)
        )
        self.issue_by_cust = self.issue[self.cust_order]
        # per customer, the invoices that may be open in the matcher view (compacted on use)
        self.candidates: dict[int, np.ndarray] = {}
        self.appended = np.zeros(len(master.customers), np.int64)  # of the customer's, by issue
        self.in_candidates = np.zeros(len(f), dtype=bool)
        self.n_open = np.zeros(len(master.customers), np.int64)  # issued and open, matcher view
        self.issued = 0  # invoices are in issue order: positions below this are issued
        self.rank_in_customer = np.empty(len(f), np.int64)
        self.rank_in_customer[self.cust_order] = (
            np.arange(len(f)) - self.cust_ptr[self.inv_cust[self.cust_order]]
        )

        # payer identification from master data only: account first, then exact name/alias
        self.p_cust = pay["cust"].to_numpy()
        self.ident = np.full(m, -1, np.int64)
        self.identified_by = [""] * m
        for i, (acct, name) in enumerate(
            zip(pay["payer_account"].tolist(), pay["payer_name"].tolist(), strict=True)
        ):
            by_acct = master.account_index.get(acct, -1)
            if by_acct >= 0:
                self.ident[i] = by_acct
                self.identified_by[i] = "account"
                continue
            by_name = master.name_index.get(norm_name(name), -1)
            if by_name >= 0:
                self.ident[i] = by_name
                self.identified_by[i] = "name"

        alloc = plan.alloc
        self.a_pid = alloc["pid"].to_numpy()
        self.a_inv = alloc["inv"].to_numpy()
        self.a_amt = alloc["amount"].to_numpy()
        self.a_fee = alloc["fee"].to_numpy()
        self.a_over = alloc["on_account"].to_numpy()
        self.ptr = np.searchsorted(self.a_pid, np.arange(m + 1))
        self.value = _days(pay["value"].to_numpy())
        self.amount = pay["amount"].to_numpy()
        self.style = pay["reference_style"].to_numpy()
        self.typo_key = pay["typo_key"].to_numpy()
        self.matchable = np.zeros(m, dtype=bool)
        self.reason = [""] * m

        # credit notes on invoices and returns, in date order, applied as their day comes
        cn_inv = np.flatnonzero(inv.cn_amount > 0)
        cn_dates = _days(inv.cn_date[cn_inv])
        o = np.argsort(cn_dates, kind="stable")
        self.cn_inv, self.cn_dates = cn_inv[o], cn_dates[o]
        ret_dates = _days(plan.returns["date"].to_numpy())
        o = np.argsort(ret_dates, kind="stable")
        self.ret_pid, self.ret_dates = plan.returns["pid"].to_numpy()[o], ret_dates[o]
        self.cn_done = 0
        self.ret_done = 0

    def run(self, end: np.datetime64) -> Truth:
        value, style, ptr = self.value, self.style, self.ptr
        n_alloc = np.diff(ptr)
        is_ref = np.isin(style, REF_STYLES)
        bounds = np.flatnonzero(np.r_[True, value[1:] != value[:-1], True]) if len(value) else []
        for a, b in itertools.pairwise(np.asarray(bounds).tolist()):
            day = value[a]
            self._issue_until(day)
            self._apply_until(day)
            pids = np.arange(a, b)
            self._references(
                pids[is_ref[a:b] & (n_alloc[a:b] == 1)], pids[is_ref[a:b] & (n_alloc[a:b] > 1)]
            )
            for pid in pids[~is_ref[a:b]].tolist():
                case = self._typo if style[pid] == "typo" else self._amount_only
                self.matchable[pid], self.reason[pid] = case(pid, day)
            # the day's allocations: all of them in the truth, the matchable ones in the view
            rows = slice(ptr[a], ptr[b])
            used = self.a_amt[rows] + self.a_fee[rows]
            np.subtract.at(self.topen, self.a_inv[rows], used)
            keep = self.matchable[self.a_pid[rows]]
            self._change_view(self.a_inv[rows][keep], -used[keep])
        self._apply_until(end)
        return Truth(self.matchable, self.reason, self.identified_by, self.topen)

    def _apply_until(self, day: np.datetime64) -> None:
        """Credit notes and returns dated on or before ``day`` (returns re-open invoices)."""
        k = int(np.searchsorted(self.cn_dates, day, side="right"))
        if k > self.cn_done:
            idx = self.cn_inv[self.cn_done : k]
            self.topen[idx] -= self.inv.cn_amount[idx]
            self._change_view(idx, -self.inv.cn_amount[idx])
            self.cn_done = k
        k = int(np.searchsorted(self.ret_dates, day, side="right"))
        for pid in self.ret_pid[self.ret_done : k].tolist():
            rows = slice(self.ptr[pid], self.ptr[pid + 1])
            back = self.a_amt[rows] + self.a_fee[rows]
            np.add.at(self.topen, self.a_inv[rows], back)
            if self.matchable[pid]:
                self._change_view(self.a_inv[rows], back)
                self._reopen(self.a_inv[rows])
        self.ret_done = max(self.ret_done, k)

    def _issue_until(self, day: np.datetime64) -> None:
        k = int(np.searchsorted(self.issue, day, side="right"))
        if k > self.issued:
            new = np.arange(self.issued, k)
            np.add.at(self.n_open, self.inv_cust[new], self.mopen[new] > 0)
            self.issued = k

    def _change_view(self, invoices: np.ndarray, delta: np.ndarray) -> None:
        """Change open amounts in the matcher view, keeping each customer's open count."""
        if not len(invoices):
            return
        touched = np.unique(invoices)
        was_open = self.mopen[touched] > 0
        np.add.at(self.mopen, invoices, delta)
        now_open = self.mopen[touched] > 0
        changed = (touched < self.issued) & (was_open != now_open)
        np.add.at(self.n_open, self.inv_cust[touched[changed]], np.where(now_open[changed], 1, -1))

    def _references(self, single: np.ndarray, multi: np.ndarray) -> None:
        """Quoted invoice numbers (or RF references): apply up to each open amount."""
        if len(single):
            rows = self.ptr[single]
            mo = self.mopen[self.a_inv[rows]]
            ok = (mo > 0) & (np.minimum(self.amount[single], mo) == self.a_amt[rows])
            self.matchable[single] = ok
            for pid, good, open_ in zip(single.tolist(), ok.tolist(), mo.tolist(), strict=True):
                if good:
                    self.reason[pid] = (
                        "rf_reference_to_open_invoice"
                        if self.style[pid] == "rf_reference"
                        else "reference_to_open_invoice"
                    )
                else:
                    self.reason[pid] = "reference_not_open" if open_ <= 0 else "open_amount_differs"
        for pid in multi.tolist():
            rows = slice(self.ptr[pid], self.ptr[pid + 1])
            good = bool(
                np.all((self.mopen[self.a_inv[rows]] == self.a_amt[rows]) & (self.a_fee[rows] == 0))
            )
            self.matchable[pid] = good
            self.reason[pid] = "references_to_open_invoices" if good else "open_amount_differs"

    def _payer(self, pid: int) -> tuple[int, str]:
        c = int(self.ident[pid])
        if c < 0:
            return c, "payer_not_identified"
        if c != self.p_cust[pid]:
            return -1, "payer_matches_other_customer"
        return c, ""

    def _typo(self, pid: int, day: np.datetime64) -> tuple[bool, str]:
        tk = int(self.typo_key[pid])
        keys = self.keys_sorted
        hit = int(np.searchsorted(keys, tk))
        if hit < len(keys) and keys[hit] == tk and self.issue[self.key_order[hit]] <= day:
            return False, "typo_is_another_invoice_number"
        c, why = self._payer(pid)
        if c < 0:
            return False, why
        near = np.array(_neighbour_keys(tk, self.numbering), dtype=np.int64)
        pos = np.searchsorted(keys, near)
        pos = pos[pos < len(keys)]
        cand = self.key_order[pos[np.isin(keys[pos], near)]]
        cand = cand[(self.inv_cust[cand] == c) & (self.issue[cand] <= day) & (self.mopen[cand] > 0)]
        row = self.ptr[pid]
        true_inv = self.a_inv[row]
        if (
            len(cand) == 1
            and cand[0] == true_inv
            and min(int(self.amount[pid]), int(self.mopen[true_inv])) == self.a_amt[row]
        ):
            return True, "typo_unique_near_number"
        return False, "typo_not_unique"

    def _amount_only(self, pid: int, day: np.datetime64) -> tuple[bool, str]:
        c, why = self._payer(pid)
        if c < 0:
            return False, why
        r0, r1 = int(self.ptr[pid]), int(self.ptr[pid + 1])
        invs = self.a_inv[r0:r1]
        t = int(self.amount[pid])
        paid = self.a_amt[r0:r1]
        if (
            r1 - r0 > 4
            or self.a_fee[r0:r1].any()
            or self.a_over[r0:r1].any()
            or int(paid.sum()) != t
            or not np.array_equal(self.mopen[invs], paid)
        ):
            return False, "amount_not_an_open_combination"
        if self.n_open[c] > MAX_CANDIDATES:
            return False, "too_many_open_invoices"
        vals = self.mopen[self._open_invoices(c, day)]
        vals = vals[vals <= t]
        if count_subsets(vals, t, max_size=4, limit=2) == 1:
            return True, "payer_and_amount_unique"
        return False, "amount_ambiguous"

    def _open_invoices(self, c: int, day: np.datetime64) -> np.ndarray:
        """Customer ``c``'s invoices issued on or before ``day`` and open in the matcher view.

        Kept per customer and compacted on each use, so the cost follows the open invoices,
        not the customer's whole history.
        """
        lo, hi_all = int(self.cust_ptr[c]), int(self.cust_ptr[c + 1])
        hi = lo + int(self.issue_by_cust[lo:hi_all].searchsorted(day, "right"))
        start = lo + int(self.appended[c])
        current = self.candidates.get(c, np.empty(0, np.int64))
        if hi > start:
            new = self.cust_order[start:hi]
            self.in_candidates[new] = True
            current = np.concatenate([current, new])
            self.appended[c] = hi - lo
        keep = self.mopen[current] > 0
        self.in_candidates[current[~keep]] = False
        current = current[keep]
        self.candidates[c] = current
        return current

    def _reopen(self, invoices: np.ndarray) -> None:
        """A reversed payment re-opens invoices that may have left their candidate lists."""
        for i in invoices.tolist():
            c = int(self.inv_cust[i])
            # not yet handed to the list: it arrives with the customer's other invoices
            if self.in_candidates[i] or self.rank_in_customer[i] >= self.appended[c]:
                continue
            self.candidates[c] = np.append(self.candidates.get(c, np.empty(0, np.int64)), i)
            self.in_candidates[i] = True


def _neighbour_keys(key: int, numbering: InvoiceNumbering) -> list[int]:
    """Every key whose printed sequence differs from ``key``'s in exactly one digit."""
    year, seq = divmod(key, 10_000_000) if numbering.has_year else (0, key)
    digits = f"{seq:0{numbering.width}d}"
    out = []
    for pos, current in enumerate(digits):
        for new in "0123456789":
            if new != current:
                s = int(digits[:pos] + new + digits[pos + 1 :])
                out.append(year * 10_000_000 + s if numbering.has_year else s)
    return out
