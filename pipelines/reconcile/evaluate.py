"""Precision and recall of the matcher against a generator's truth (`arw generate`).

precision = correct automatically applied amount / automatically applied amount
recall    = correct automatically applied amount on matchable payments / matchable amount

An allocation is correct up to the amount the truth allocates to that invoice from that
payment (fees included). Payments are joined on the bank's reference (truth ``payment_ref``).
"""

from __future__ import annotations

import csv
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path

from pipelines.warehouse import open_read_only

ZERO = Decimal(0)


@dataclass
class Score:
    applied: Decimal = ZERO
    correct: Decimal = ZERO
    matchable: Decimal = ZERO
    matchable_correct: Decimal = ZERO
    by_rule: dict[str, list[Decimal]] = field(default_factory=lambda: defaultdict(lambda: [ZERO, ZERO]))

    @property
    def precision(self) -> float | None:
        return float(self.correct / self.applied) if self.applied else None

    @property
    def recall(self) -> float | None:
        return float(self.matchable_correct / self.matchable) if self.matchable else None


def _read(path: Path) -> list[dict]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def evaluate(published_db: Path, truth_dir: Path, as_of: date) -> Score:
    truth_alloc: dict[str, dict[str, Decimal]] = defaultdict(dict)
    for a in _read(truth_dir / "allocations.csv"):
        truth_alloc[a["payment_ref"]][a["invoice_id"]] = (
            Decimal(a["amount"]) + Decimal(a.get("fee_amount") or 0))
    matchable = {}
    for p in _read(truth_dir / "payments.csv"):
        day = date.fromisoformat(p["value_date"] or p["booking_date"])
        if p["matchable"] == "true" and Decimal(p["amount"]) > 0 and day <= as_of:
            matchable[p["payment_ref"]] = sum(truth_alloc[p["payment_ref"]].values(), ZERO)
    con = open_read_only(published_db)
    try:
        rows = con.execute(
            "SELECT bank_reference, invoice_id, allocated_amount, match_rule FROM marts.fct_payment_allocations "
            "WHERE decided_by = 'matcher'").fetchall()
    finally:
        con.close()
    score = Score()
    for ref, invoice_id, amount, rule in rows:
        correct = min(amount, truth_alloc.get(ref, {}).get(invoice_id, ZERO))
        score.applied += amount
        score.correct += correct
        score.by_rule[rule][0] += amount
        score.by_rule[rule][1] += correct
        if ref in matchable:
            score.matchable_correct += correct
    score.matchable = sum(matchable.values(), ZERO)
    return score
