"""Replenishment that keeps stock from going negative, computed without a per-movement loop.

For each stock group (an article at a location) the outflows are sorted in time and summed.
A delivery of `batch` is due before the first outflow that would take the running total past
`j * batch - floor` (j = 0, 1, ...): the group then never drops below `floor` at any outflow.
All groups are searched at once by packing (group, cumulative quantity) into one sorted key.
"""
from __future__ import annotations

import numpy as np

_SHIFT = 42  # cumulative quantities (milli-units) stay far below 2**42


def replenish(group: np.ndarray, ts: np.ndarray, qty: np.ndarray, batch: np.ndarray,
              floor: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Deliveries needed for outflows `qty` (>0) of `group` at `ts`.

    `batch` and `floor` are indexed by group id. Returns (group, ts of the outflow each delivery
    must precede); one delivery of batch[group] per returned row.
    """
    if len(group) == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    order = np.lexsort((ts, group))
    g, t, q = group[order], ts[order], qty[order]
    cum = np.cumsum(q)
    starts = np.flatnonzero(np.r_[True, g[1:] != g[:-1]])
    before = np.r_[0, cum[starts[1:] - 1]]
    sizes = np.diff(np.r_[starts, len(g)])
    cum = cum - np.repeat(before, sizes)
    ug = g[starts]
    total = cum[np.r_[starts[1:] - 1, len(g) - 1]]
    b = batch[ug].astype(np.int64)
    f = np.minimum(floor[ug].astype(np.int64), b // 2)
    n_rec = -((-(total + f)) // b)                     # ceil((total + floor) / batch)
    rg = np.repeat(ug, n_rec)
    j = np.arange(n_rec.sum()) - np.repeat(np.cumsum(n_rec) - n_rec, n_rec)
    thr = np.maximum(j * np.repeat(b, n_rec) - np.repeat(f, n_rec), 0)
    keys = (g.astype(np.int64) << _SHIFT) | cum
    idx = np.searchsorted(keys, (rg.astype(np.int64) << _SHIFT) | thr, side="right")
    return rg, t[idx]


def max_concurrent(group: np.ndarray, out_ts: np.ndarray, in_ts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Tools: the most units of a group out at the same time (in_ts < 0: never returned).

    Returns (groups, peak units out, first checkout ts).
    """
    back = in_ts >= 0
    g = np.concatenate([group, group[back]])
    t = np.concatenate([out_ts, in_ts[back]])
    d = np.concatenate([np.ones(len(group), np.int64), -np.ones(int(back.sum()), np.int64)])
    order = np.lexsort((d, t, g))  # at equal times, returns (-1) before checkouts
    g, t, d = g[order], t[order], d[order]
    level = np.cumsum(d)
    starts = np.flatnonzero(np.r_[True, g[1:] != g[:-1]])
    before = np.r_[0, level[starts[1:] - 1]]
    level = level - np.repeat(before, np.diff(np.r_[starts, len(g)]))
    peak = np.maximum.reduceat(level, starts)
    first = np.minimum.reduceat(np.where(d > 0, t, np.iinfo(np.int64).max), starts)
    return g[starts], peak, first
