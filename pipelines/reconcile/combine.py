"""Which open invoices does an amount pay? The small combinatorial part of the matcher.

Bounded subset search over one customer's open invoices: every combination of up to
``max_size`` invoices (among the ``max_candidates`` oldest) whose open amounts sum to the
payment. The caller applies only a unique answer; several answers are ambiguity for a
person. Amounts are integer cents, so sums are exact.
"""

from __future__ import annotations

import heapq
from collections import defaultdict
from collections.abc import Sequence
from itertools import combinations


def subsets_summing_to(amounts: Sequence[int], target: int, max_size: int = 4,
                       limit: int = 2) -> list[tuple[int, ...]]:
    """The combinations of the smallest size (1..max_size) whose amounts sum to ``target``.

    One invoice of exactly the amount beats any combination; among combinations, fewer
    invoices beat more. Returns the first ``limit`` answers of that size in lexicographic
    order of their positions (two are enough to know it is ambiguous), or none. The last two
    members of a combination come from a table of pair sums, so the cost is O(n^(k-2)) for
    the bounded n the caller passes (k = 4: one pass over the pairs).
    """
    n = len(amounts)
    singles = [(i,) for i, a in enumerate(amounts) if a == target]
    if singles:
        return singles[:limit]
    if max_size < 2:
        return []
    pairs: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for i in range(n):
        for j in range(i + 1, n):
            pairs[amounts[i] + amounts[j]].append((i, j))
    for size in range(2, max_size + 1):
        found: list[tuple[int, ...]] = []
        for head in combinations(range(n), size - 2):
            last = head[-1] if head else -1
            for j, k in pairs.get(target - sum(amounts[i] for i in head), ()):
                if j > last:
                    found.append((*head, j, k))
        if found:
            return heapq.nsmallest(limit, found)
    return []
