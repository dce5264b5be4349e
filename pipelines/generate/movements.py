"""A tenant's stock movements, built as whole numpy arrays (no per-movement Python loop).

The story, in the order it is generated:
1. demand: issues to running projects, scrap, tool checkouts (daily counts follow rhythm);
2. what demand causes: partial returns, tool checkins (some late, a few never), van and site
   restocking transfers, monthly counts with small adjustments, and warehouse receipts that
   arrive before stock would run out (see stock.py);
3. everything sorted in time and numbered per tenant.

Quantities are int64 thousandths of the stock unit, money int64 micro-euros, times int64 seconds of
local (Brussels) wall-clock time since 1970; -1 means "empty" in the index columns.
"""
from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import date

import numpy as np

from . import rhythm, schema
from .catalogue import Materials, to_micro
from .people import Users, pick, role_weights
from .places import Locations, Projects
from .stock import max_concurrent, replenish
from .tenants import TenantProfile

TYPES = ("receipt", "issue", "return", "transfer", "checkout", "checkin", "adjustment", "scrap")
RECEIPT, ISSUE, RETURN, TRANSFER, CHECKOUT, CHECKIN, ADJUSTMENT, SCRAP = range(len(TYPES))

# Demand per unit of daily activity. Derived movements (returns, checkins, transfers,
# receipts, counts) add about the missing share, so that a tenant of size 1 logs about
# `movements_per_day` rows on an average weekday.
P_ISSUE, P_CHECKOUT, P_SCRAP = 0.64, 0.085, 0.012


def demand_scale(per_day: float) -> float:
    """Busy tenants order in bigger batches, so derived rows grow slower than demand (measured)."""
    return float(np.clip(1.06 + 0.055 * np.log(max(per_day, 1.0) / 40.0), 0.9, 1.3))
P_RETURN = 0.07
DUE_DAYS = 14


@dataclass
class Movements:
    ts: np.ndarray
    mtype: np.ndarray
    mat: np.ndarray
    qty: np.ndarray
    from_loc: np.ndarray
    to_loc: np.ndarray
    proj: np.ndarray
    user: np.ndarray
    cost: np.ndarray
    note: np.ndarray       # index into the tenant's note pool, -1 for none
    note_ref: np.ndarray   # delivery note number, -1 for none

    def __len__(self) -> int:
        return len(self.ts)

    def take(self, idx: np.ndarray) -> "Movements":
        return Movements(**{f.name: getattr(self, f.name)[idx] for f in fields(self)})


def _block(n: int, **cols) -> dict:
    out = {}
    for f in fields(Movements):
        v = cols.get(f.name, -1)
        out[f.name] = np.broadcast_to(np.asarray(v, dtype=np.int64), (n,)).copy()
    return out


def _concat(blocks: list[dict]) -> Movements:
    return Movements(**{f.name: np.concatenate([b[f.name] for b in blocks]) for f in fields(Movements)})


class NotePool:
    """Free text staff type: mostly nothing, sometimes a remark, sometimes a colleague's name."""

    def __init__(self, sentences: list[str], handed: list[str]):
        self.texts = sentences + handed
        self.n_sentences = len(sentences)
        self.n_handed = len(handed)

    def draw(self, rng: np.random.Generator, n: int, p_sentence: float, p_handed: float = 0.0) -> np.ndarray:
        r = rng.random(n)
        out = np.full(n, -1, dtype=np.int64)
        s = r < p_sentence
        out[s] = rng.integers(0, self.n_sentences, int(s.sum()))
        if self.n_handed:
            h = (r >= p_sentence) & (r < p_sentence + p_handed)
            out[h] = self.n_sentences + rng.integers(0, self.n_handed, int(h.sum()))
        return out


def _round_qty(q: np.ndarray, step: np.ndarray) -> np.ndarray:
    return np.maximum(np.round(q / step) * step, step).astype(np.int64)


def _choose_projects(rng: np.random.Generator, days: np.ndarray, projs: Projects, first: int, last: int) -> np.ndarray:
    """A running project per event, weighted, without looping over events.

    Per day the cumulative weights of the running projects form one row; rows are laid end to
    end with an offset per day, so one searchsorted serves every event at once.
    """
    span = np.arange(first, last + 1)
    active = (projs.started[None, :] <= span[:, None]) & (projs.runs_until[None, :] >= span[:, None])
    w = np.maximum(np.round(projs.weight * 1000), 1).astype(np.int64)   # integers: exact arithmetic
    cw = np.cumsum(active * w[None, :], axis=1)
    total = cw[:, -1]
    big = int(total.max()) + 1
    flat = (cw + (np.arange(len(span), dtype=np.int64) * big)[:, None]).ravel()
    di = days - first
    r = np.floor(rng.random(len(days)) * total[di]).astype(np.int64) + di * big
    # The framework project runs every day of the window, so no day has a zero total.
    return np.minimum(np.searchsorted(flat, r, side="right") - di * len(projs), len(projs) - 1)


def _place_before(rng: np.random.Generator, trig: np.ndarray, first_day: int, same_day_p: float,
                  same_slot: tuple[int, int], earlier_slot: tuple[int, int], max_back: int) -> np.ndarray:
    """Timestamps for deliveries that must precede `trig`: early that morning, or a few working days before."""
    n = len(trig)
    day = trig // 86400
    back = day.copy()
    for _ in range(max_back):
        step = rng.random(n) < 0.5
        back = np.where(step, rhythm.previous_working_day(back), back)
    back = np.where(back == day, rhythm.previous_working_day(day), back)
    same = (rng.random(n) < same_day_p) | (back < first_day)
    d = np.where(same, day, back)
    sec = np.where(same, rhythm.slot_seconds(rng, n, same_slot), rhythm.slot_seconds(rng, n, earlier_slot))
    return d * 86400 + sec


def make_movements(t: TenantProfile, rng: np.random.Generator, per_day: float, mats: Materials, users: Users,
                   locs: Locations, projs: Projects, notes: NotePool) -> Movements:
    schema.require_allowed("movements", "movement_type", TYPES)
    first, last = t.first_day, t.last_day
    days = np.arange(first, last + 1)
    n_days = len(days)
    L = len(locs)
    level = per_day * t.size * demand_scale(per_day) * rhythm.day_factors(first, last) * np.linspace(0.95, 1.05, n_days)
    level = level * rng.gamma(25.0, 1 / 25.0, n_days)
    is_wh = locs.kind == "warehouse"
    stocked = np.flatnonzero(mats.kind != "tool")
    tools = np.flatnonzero(mats.kind == "tool")
    field_w = role_weights(users, technician=1.0, foreman=1.0)
    store_w = role_weights(users, storekeeper=1.0, manager=0.5, admin=0.3)
    truck_w = role_weights(users, storekeeper=1.0, driver=2.0, technician=0.15)
    std_cost = mats.unit_cost
    blocks: list[dict] = []

    def cost_of(m: np.ndarray) -> np.ndarray:
        return std_cost[m] if t.costs_on_all else np.full(len(m), -1, dtype=np.int64)

    # 1. Issues to running projects, from the crew's van, the site container or the warehouse.
    day_i = np.repeat(days, rng.poisson(level * P_ISSUE))
    n = len(day_i)
    u = pick(users, field_w, day_i, rng)
    p = _choose_projects(rng, day_i, projs, first, last)
    pop = mats.popularity[stocked]
    m = rng.choice(stocked, size=n, p=pop / pop.sum())
    q = _round_qty(mats.typical_qty[m] * rng.lognormal(0.0, 0.5, n), mats.step[m])
    stock_at = _assortment(rng, mats, locs)
    central = int(np.flatnonzero(is_wh)[0])
    site = projs.site[p]
    use_site = (site >= 0) & (mats.kind[m] == "material") & (rng.random(n) < 0.6)
    van = users.van[u]
    use_van = ~use_site & (van >= 0) & stock_at[np.maximum(van, 0), m] & (rng.random(n) < 0.75)
    home = np.where(stock_at[users.home[u], m], users.home[u], central)
    loc = np.where(use_site, site, np.where(use_van, van, home))
    ts_i = day_i * 86400 + rhythm.work_seconds(rng, day_i)
    issues = _block(n, ts=ts_i, mtype=ISSUE, mat=m, qty=q, from_loc=loc, proj=p, user=u, cost=cost_of(m),
                    note=notes.draw(rng, n, 0.05, 0.02))
    blocks.append(issues)

    # 2. Part of an issue comes back a few days later (to where it was taken from).
    ret = (rng.random(n) < P_RETURN) & (q > mats.step[m])
    ri = np.flatnonzero(ret)
    rq = np.floor(q[ri] * rng.uniform(0.1, 0.6, len(ri)) / mats.step[m[ri]]) * mats.step[m[ri]]
    rq = np.clip(rq, mats.step[m[ri]], q[ri] - mats.step[m[ri]]).astype(np.int64)
    rday = rhythm.next_working_day_if_weekend(day_i[ri] + rng.integers(1, 11, len(ri)))
    keep = (rday <= last) & (rday <= projs.runs_until[p[ri]])
    ri, rq, rday = ri[keep], rq[keep], rday[keep]
    blocks.append(_block(len(ri), ts=rday * 86400 + rhythm.work_seconds(rng, rday), mtype=RETURN, mat=m[ri],
                         qty=rq, to_loc=loc[ri], proj=p[ri], user=u[ri], cost=cost_of(m[ri]),
                         note=notes.draw(rng, len(ri), 0.08)))

    # 3. Scrap: damaged or expired stock written off at a warehouse or from a van.
    day_s = np.repeat(days, rng.poisson(level * P_SCRAP))
    ns = len(day_s)
    us = pick(users, field_w, day_s, rng)
    ms = rng.choice(stocked, size=ns, p=pop / pop.sum())
    qs = _round_qty(mats.typical_qty[ms] * rng.uniform(0.1, 0.8, ns), mats.step[ms])
    vs = users.van[us]
    home_s = np.where(stock_at[users.home[us], ms], users.home[us], central)
    loc_s = np.where((vs >= 0) & stock_at[np.maximum(vs, 0), ms] & (rng.random(ns) < 0.4), vs, home_s)
    ts_s = day_s * 86400 + rhythm.work_seconds(rng, day_s)
    blocks.append(_block(ns, ts=ts_s, mtype=SCRAP, mat=ms, qty=qs,
                         from_loc=loc_s, user=us, cost=cost_of(ms), note=notes.draw(rng, ns, 0.4)))

    # 4. Tool checkouts from the home warehouse, and their checkins.
    day_c = np.repeat(days, rng.poisson(level * P_CHECKOUT)) if len(tools) else np.zeros(0, np.int64)
    nc = len(day_c)
    uc = pick(users, field_w, day_c, rng)
    tpop = mats.popularity[tools]
    mc = rng.choice(tools, size=nc, p=tpop / tpop.sum()) if nc else np.zeros(0, np.int64)
    wh_c = np.where(stock_at[users.home[uc], mc], users.home[uc], central)
    pc = np.where(rng.random(nc) < 0.6, _choose_projects(rng, day_c, projs, first, last), -1)
    sec_c = rhythm.work_seconds(rng, day_c)
    ts_c = day_c * 86400 + sec_c
    r = rng.random(nc)
    lost = r < 0.01
    overdue = (r >= 0.01) & (r < 0.06)
    dur = np.clip(np.floor(rng.lognormal(np.log(2.0), 0.9, nc)), 0, DUE_DAYS).astype(np.int64)
    dur = np.where(overdue, rng.integers(DUE_DAYS + 1, 76, nc), dur)
    in_day = rhythm.next_working_day_if_weekend(day_c + dur)
    same = in_day == day_c
    in_sec = np.where(same, sec_c + rng.integers(3600, 6 * 3600, nc), rhythm.work_seconds(rng, in_day))
    late = same & (in_sec > 19 * 3600)
    in_day = np.where(late, rhythm.next_working_day_if_weekend(day_c + 1), in_day)
    in_sec = np.where(late, rhythm.work_seconds(rng, in_day), in_sec)
    back = ~lost & (in_day <= last)
    ts_in = np.where(back, in_day * 86400 + in_sec, -1)
    blocks.append(_block(nc, ts=ts_c, mtype=CHECKOUT, mat=mc, qty=1000, from_loc=wh_c, proj=pc, user=uc,
                         note=notes.draw(rng, nc, 0.01, 0.03)))
    bi = np.flatnonzero(back)
    u_in = np.where(rng.random(len(bi)) < 0.85, uc[bi], pick(users, store_w, in_day[bi], rng))
    blocks.append(_block(len(bi), ts=ts_in[bi], mtype=CHECKIN, mat=mc[bi], qty=1000, to_loc=wh_c[bi],
                         user=u_in, note=notes.draw(rng, len(bi), 0.03)))

    # 5. Vans and site containers are restocked from their warehouse before they run empty.
    sub_i = np.flatnonzero(~is_wh[loc])
    sub_s = np.flatnonzero(~is_wh[loc_s])
    g = np.concatenate([m[sub_i] * L + loc[sub_i], ms[sub_s] * L + loc_s[sub_s]])
    g_ts = np.concatenate([ts_i[sub_i], ts_s[sub_s]])
    g_q = np.concatenate([q[sub_i], qs[sub_s]])
    van_batch = _round_qty(np.repeat(mats.typical_qty, L) * rng.uniform(3, 8, len(mats) * L), np.repeat(mats.step, L))
    rg, trig = replenish(g, g_ts, g_q, van_batch, np.zeros(len(van_batch), np.int64))
    ts_t = _place_before(rng, trig, first, 0.55, rhythm.TRANSFER_SLOT, (15 * 3600, 17 * 3600 + 30 * 60), 1)
    mt, to_t = rg // L, rg % L
    from_t = locs.home[to_t]
    ut = pick(users, truck_w, ts_t // 86400, rng)
    blocks.append(_block(len(rg), ts=ts_t, mtype=TRANSFER, mat=mt, qty=van_batch[rg], from_loc=from_t, to_loc=to_t,
                         user=ut, note=notes.draw(rng, len(rg), 0.02)))

    # 6. Monthly counts per warehouse: a sample of what is stocked there, small differences.
    wi = np.flatnonzero(is_wh[loc])
    wsc = np.flatnonzero(is_wh[loc_s])
    wg = np.concatenate([m[wi] * L + loc[wi], ms[wsc] * L + loc_s[wsc], mt * L + from_t])
    wts = np.concatenate([ts_i[wi], ts_s[wsc], ts_t])
    wq = np.concatenate([q[wi], qs[wsc], van_batch[rg]])
    first_out = np.full(len(mats) * L, np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(first_out, wg, wts)
    adj_blocks = []
    count_days = _count_days(first, last)
    for wh in np.flatnonzero(is_wh):
        for cd in count_days:
            elig = stocked[first_out[stocked * L + wh] < cd * 86400]
            if not len(elig):
                continue
            k = int(np.clip(round(len(elig) * rng.uniform(0.1, 0.3)), 1, 60))
            counted = rng.choice(elig, size=min(k, len(elig)), replace=False)
            differs = counted[rng.random(len(counted)) < 0.45]
            if not len(differs):
                continue
            step = mats.step[differs]
            is_int = step == 1000
            mag = np.where(is_int, rng.integers(1, 4, len(differs)) * 1000,
                           _round_qty(mats.typical_qty[differs] * rng.uniform(0.05, 0.4, len(differs)), step))
            sign = np.where(rng.random(len(differs)) < 0.7, -1, 1)
            adj_blocks.append((cd, wh, differs, sign * mag))
    if adj_blocks:
        ad_day = np.concatenate([np.full(len(x[2]), x[0]) for x in adj_blocks]).astype(np.int64)
        ad_wh = np.concatenate([np.full(len(x[2]), x[1]) for x in adj_blocks]).astype(np.int64)
        ad_m = np.concatenate([x[2] for x in adj_blocks]).astype(np.int64)
        ad_q = np.concatenate([x[3] for x in adj_blocks]).astype(np.int64)
    else:
        ad_day = ad_wh = ad_m = ad_q = np.zeros(0, np.int64)
    ad_ts = ad_day * 86400 + rng.integers(15 * 3600 + 30 * 60, 17 * 3600 + 30 * 60, len(ad_day))
    blocks.append(_block(len(ad_day), ts=ad_ts, mtype=ADJUSTMENT, mat=ad_m, qty=ad_q, to_loc=ad_wh,
                         user=pick(users, store_w, ad_day, rng), cost=cost_of(ad_m),
                         note=notes.draw(rng, len(ad_day), 0.1)))

    # 7. Receipts into warehouses: reorder quantity, delivered before stock would drop below
    #    the minimum; tools: one delivery covering the most ever out at once.
    neg = ad_q < 0
    rg2, trig2 = replenish(
        np.concatenate([wg, ad_m[neg] * L + ad_wh[neg]]), np.concatenate([wts, ad_ts[neg]]),
        np.concatenate([wq, -ad_q[neg]]), np.repeat(mats.reorder_qty, L), np.repeat(mats.min_stock, L))
    rec_m, rec_wh, rec_q = rg2 // L, rg2 % L, mats.reorder_qty[rg2 // L]
    if nc:
        tg, peak, first_co = max_concurrent(mc * L + wh_c, ts_c, ts_in)
        rec_m = np.concatenate([rec_m, tg // L])
        rec_wh = np.concatenate([rec_wh, tg % L])
        rec_q = np.concatenate([rec_q, (peak + rng.integers(0, 2, len(tg))) * 1000])
        trig2 = np.concatenate([trig2, first_co])
    ts_r = _place_before(rng, trig2, first, 0.4, rhythm.RECEIPT_SLOT, (8 * 3600, 16 * 3600), 3)
    nr = len(ts_r)
    years = (ts_r // 86400 - first) / 365.0
    price = to_micro(std_cost[rec_m] / 1e6 * (1 + 0.03 * years) * rng.uniform(0.97, 1.05, nr), mats.fine_cost[rec_m])
    note_ref = np.where(rng.random(nr) < 0.2, rng.integers(10000, 99999, nr), -1)
    blocks.append(_block(nr, ts=ts_r, mtype=RECEIPT, mat=rec_m, qty=rec_q, to_loc=rec_wh,
                         user=pick(users, store_w, ts_r // 86400, rng), cost=np.maximum(price, 0),
                         note=np.where(note_ref >= 0, -1, notes.draw(rng, nr, 0.03)), note_ref=note_ref))

    mv = _concat(blocks)
    order = np.lexsort((mv.mtype, mv.ts))
    return mv.take(order)


def _assortment(rng: np.random.Generator, mats: Materials, locs: Locations) -> np.ndarray:
    """Which articles each location carries ([location, material] bool).

    The central warehouse carries everything; other warehouses the more popular half or so;
    a van a kit of small articles its warehouse carries; a site container whatever its
    project needs.
    """
    n, L = len(mats), len(locs)
    out = np.zeros((L, n), dtype=bool)
    warehouses = np.flatnonzero(locs.kind == "warehouse")
    out[warehouses[0]] = True
    w = mats.popularity / mats.popularity.sum()
    for wh in warehouses[1:]:
        k = int(round(n * rng.uniform(0.45, 0.7)))
        out[wh, rng.choice(n, size=k, replace=False, p=w)] = True
    small = np.flatnonzero(mats.van_ok & (mats.kind != "tool"))
    for v in np.flatnonzero(locs.kind == "van"):
        pool = small[out[locs.home[v], small]]
        if not len(pool):
            continue
        k = int(np.clip(round(len(pool) * rng.uniform(0.25, 0.4)), min(10, len(pool)), 60))
        pw = mats.popularity[pool] / mats.popularity[pool].sum()
        out[v, rng.choice(pool, size=min(k, len(pool)), replace=False, p=pw)] = True
    out[locs.kind == "site"] = True
    return out


def _count_days(first: int, last: int) -> list[int]:
    """The last working day of every month in the window (stocktaking day)."""
    out = []
    d0, d1 = rhythm.to_date(first), rhythm.to_date(last)
    y, mo = d0.year, d0.month
    while (y, mo) <= (d1.year, d1.month):
        ny, nm = y + (mo == 12), mo % 12 + 1
        end = rhythm.day_number(date(ny, nm, 1)) - 1
        while rhythm.weekday(np.array([end]))[0] >= 5:
            end -= 1
        if first < end <= last:
            out.append(end)
        y, mo = ny, nm
    return out
