"""How many sets of 1 to 4 open invoices sum exactly to a payment amount (integer cents).

Used by the truth to decide whether an amount-only payment has one correct answer. Counting is
exact and vectorised (meet in the middle over pair sums), so a customer with a few hundred open
invoices costs milliseconds, not the C(n, 4) of a naive search. Counting stops early once
``limit`` sets are found, since the truth only needs to know "exactly one".
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np


def _count_equal(sorted_values: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """For each target, how many elements of ``sorted_values`` equal it."""
    return sorted_values.searchsorted(targets, "right") - sorted_values.searchsorted(
        targets, "left"
    )


def count_subsets(values: np.ndarray, target: int, max_size: int = 4, limit: int = 2) -> int:
    """Number of index sets of size 1..``max_size`` (≤ 4) whose values sum to ``target``.

    ``values`` are positive integers (cents). Sets are of positions, so two equal values are two
    different sets. Returns the exact count when it is below ``limit``, otherwise some number
    ≥ ``limit``.
    """
    if not 1 <= max_size <= 4:
        raise ValueError(f"max_size must be 1..4, found {max_size}")
    t = int(target)
    v = np.asarray(values, dtype=np.int64)
    v = np.sort(v[(v > 0) & (v <= t)])
    n = v.size
    if n == 0:
        return 0

    # size 1 (every value is ≤ t, so the equal ones are at the end)
    total = n - int(v.searchsorted(t, "left"))
    if total >= limit or max_size == 1 or n < 2:
        return total

    # size 2: ordered pairs i != j with v_i + v_j = t, halved
    total += (int(_count_equal(v, t - v).sum()) - int(np.count_nonzero(2 * v == t))) // 2
    if total >= limit or max_size == 2 or n < 3:
        return total

    # sizes 3 and 4 on the values that can still take part (the others are at least v_min each)
    v_min = v[0]
    v3 = v[v <= t - 2 * v_min]
    if len(v3) >= 3:
        iu, ju = _pairs(len(v3))
        pair_sums = v3[iu] + v3[ju]
        # A = sum over pairs {i<j} of #{l: v_l = t - s_ij}: each triple counted 3 times, plus
        # the degenerate l in {i, j}: D = #{ordered (a, b), a != b: 2 v_a + v_b = t}
        a3 = int(_count_equal(v3, t - pair_sums[pair_sums <= t - v_min]).sum())
        d3 = int(_count_equal(v3, t - 2 * v3).sum()) - int(np.count_nonzero(3 * v3 == t))
        total += (a3 - d3) // 3
    if total >= limit or max_size == 3:
        return total

    # size 4: B = sum over pairs p of #{pairs q: s_q = t - s_p} (ordered, q = p allowed);
    # each 4-set counted 6 times; remove q = p (E0) and pairs sharing one index (E1).
    v4 = v[v <= t - 3 * v_min]
    if len(v4) < 4:
        return total
    iu, ju = _pairs(len(v4))
    s = v4[iu] + v4[ju]
    s = np.sort(s[s <= t - 2 * v_min])
    b4 = int(_count_equal(s, t - s).sum())
    e0 = int(np.count_nonzero(2 * s == t))
    pair_count = _count_equal(s, t - 2 * v4)  # #{pairs {b, c}: v_b + v_c = t - 2 v_a} per a
    with_a = _count_equal(v4, t - 3 * v4) - (4 * v4 == t)  # of those, pairs containing a
    e1 = 2 * int((pair_count - with_a).sum())
    total += (b4 - e0 - e1) // 6
    return total


@lru_cache(maxsize=512)
def _pairs(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Index pairs i < j of n elements (cached: the truth asks for the same sizes often)."""
    iu, ju = np.triu_indices(n, 1)
    return iu.astype(np.int32), ju.astype(np.int32)
