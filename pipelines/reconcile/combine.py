"""Which open invoices does an amount pay? The small combinatorial part of the matcher.

Bounded subset search over one customer's open invoices: every combination of up to
``max_size`` invoices (among the ``max_candidates`` oldest) whose open amounts sum to the
payment. The caller applies only a unique answer; several answers are ambiguity for a
person. Amounts are integer cents, so sums are exact.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from itertools import combinations


def subsets_summing_to(amounts: Sequence[int], target: int, max_size: int = 4,
                       limit: int = 2) -> list[tuple[int, ...]]:
    """The combinations of the smallest size (1..max_size) whose amounts sum to ``target``.

    One invoice of exactly the amount beats any combination; among combinations, fewer
    invoices beat more. Returns at most ``limit`` answers of that size (two are enough to
    know it is ambiguous), or none. Size 1 and the last member of larger sizes are hash
    lookups, so the cost is O(n^(k-1)) for the bounded n the caller passes.
    """
    positions: dict[int, list[int]] = defaultdict(list)
    for i, a in enumerate(amounts):
        positions[a].append(i)
    for size in range(1, max_size + 1):
        found: list[tuple[int, ...]] = []
        if size == 1:
            found = [(i,) for i in positions.get(target, [])][:limit]
        else:
            for head in combinations(range(len(amounts)), size - 1):
                rest = target - sum(amounts[i] for i in head)
                found.extend((*head, j) for j in positions.get(rest, ()) if j > head[-1])
                if len(found) >= limit:
                    break
        if found:
            return found[:limit]
    return []
