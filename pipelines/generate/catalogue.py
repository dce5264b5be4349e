"""Each tenant's slice of the built-in catalogue (articles.py).

Every template expands into size/colour variants (about 400 articles in all). A tenant draws
80-300 of them, weighted by its sector, so an electrical installer stocks cable and breakers
and a shipyard stocks anodes and antifouling. Prices are standard costs in euro per stock unit:
whole cents for what is bought per piece, box or tool, but up to six decimals for what is bought by
the reel, the bag or the can and stocked per metre, kilogram or litre (an ERP divides the reel's
price by its length: 0.873412 per metre), as real catalogues send them.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import schema
from .articles import _CATS, ARTICLES, CATEGORY_PREFIX, INTEGER_UNITS, SECTOR_WEIGHTS
from .tenants import TenantProfile

@dataclass
class Materials:
    """A tenant's catalogue. Quantities in milli-units (int64), money in micro-euros (int64)."""
    material_id: list[str]
    sku: list[str]
    name: list[str]
    category: list[str]
    kind: np.ndarray           # str array: consumable / tool / material
    unit: np.ndarray           # str array
    unit_cost: np.ndarray      # micro-euros (1e-6): whole cents unless fine_cost
    fine_cost: np.ndarray      # bool: costed to the micro-euro (per metre, kilogram, litre)
    typical_qty: np.ndarray    # milli-units per issue
    step: np.ndarray           # milli-units: the quantity grid of the unit
    popularity: np.ndarray     # relative frequency of use
    van_ok: np.ndarray         # bool: carried in vans
    reorder_qty: np.ndarray    # milli-units; what a receipt brings in
    min_stock: np.ndarray      # milli-units
    lead_time_days: np.ndarray
    show_reorder: np.ndarray   # bool: the master data has min_stock/reorder_qty filled in
    supplier: list[str | None]  # usual supplier; None where the master data leaves it empty

    def __len__(self) -> int:
        return len(self.material_id)

    @property
    def is_tool(self) -> np.ndarray:
        return self.kind == "tool"


# Wholesalers a Belgian contractor buys from, per category (made up, in the trade's style). A
# tenant deals with one or two per category; the purchase proposal groups suggested orders by them.
SUPPLIERS = {
    "fasteners": ("Bevestigingstechniek Claes", "Visserie Lambert"),
    "electrical": ("Elektro Groothandel Maes", "Électricité Dubois & Fils"),
    "cable & wire": ("Elektro Groothandel Maes", "Câblerie Mosane"),
    "plumbing": ("Sanitair Dewulf", "Sanitaire Renard"),
    "sealants & adhesives": ("Bouwchemie Peeters", "Quincaillerie Lambert"),
    "safety & PPE": ("Werkkledij Wouters", "Protection Martin"),
    "power tools": ("Gereedschap Janssens", "Outillage Dumont"),
    "hand tools": ("Gereedschap Janssens", "Outillage Dumont"),
    "measuring": ("Meettechniek Jacobs", "Outillage Dumont"),
    "paint": ("Verfhandel Mertens", "Peintures Leroy"),
    "building materials": ("Bouwmaterialen Verstraete", "Matériaux Dupont"),
    "marine": ("Scheepsbehoeften Vermeulen", "Ship Supply Oostende"),
    "abrasives & drilling": ("Bevestigingstechniek Claes", "Outillage Dumont"),
    "cleaning": ("Hygiëne Willems", "Nettoyage Simon"),
    "road & signage": ("Signalisatie Goossens", "Signalisation Michel"),
}
SUPPLIER_KNOWN = 0.9      # share of articles whose master data names a supplier


# Stock units whose cheap articles are costed by dividing a pack's price (euro per unit below this).
FINE_COST_UNITS = ("m", "kg", "l")
FINE_COST_BELOW = 5.0


def to_micro(euro: np.ndarray, fine: np.ndarray) -> np.ndarray:
    """Euro -> micro-euros: to the micro-euro where `fine`, else to the cent; at least 1 cent (or 1e-6)."""
    micro = np.round(np.asarray(euro, dtype=float) * 1e6)
    cents = np.round(np.asarray(euro, dtype=float) * 100) * 10_000
    return np.where(fine, np.maximum(micro, 1), np.maximum(cents, 10_000)).astype(np.int64)


def _nice(x: np.ndarray, step: np.ndarray) -> np.ndarray:
    """Round order quantities up to numbers a buyer would type (5, 10, 25, 50, 100 ...)."""
    units = x / 1000.0
    grid = np.select(
        [units < 10, units < 50, units < 200, units < 1000],
        [1.0, 5.0, 10.0, 50.0], default=100.0,
    )
    rounded = np.ceil(units / grid) * grid * 1000.0
    return np.maximum(np.ceil(rounded / step) * step, step).astype(np.int64)


def make_materials(t: TenantProfile, rng: np.random.Generator, issues_per_day: float) -> Materials:
    """Pick the tenant's articles and give them prices, usage and reorder parameters.

    `issues_per_day` (expected issues on an average weekday) sizes the reorder quantities, so a
    busy tenant orders cable by the kilometre and a small one by the reel.
    """
    n = int(np.clip(round(170 * t.size * rng.uniform(0.8, 1.2)), 80, 300))
    cat_w = dict(zip(_CATS, SECTOR_WEIGHTS[t.sector]))
    per_cat = {c: sum(1 for a in ARTICLES if a.category == c) for c in _CATS}
    weight = np.array([cat_w[a.category] / per_cat[a.category] for a in ARTICLES]) * rng.uniform(0.5, 1.5, len(ARTICLES))
    is_tool = np.array([a.kind == "tool" for a in ARTICLES])
    n_tools = int(round(n * rng.uniform(0.15, 0.25)))
    chosen = []
    for mask, k in ((is_tool, n_tools), (~is_tool, n - n_tools)):
        idx = np.flatnonzero(mask & (weight > 0))
        if len(idx) < k:  # sector weights leave too few: fall back to the whole pool
            idx = np.flatnonzero(mask)
        w = np.where(weight[idx] > 0, weight[idx], 1e-3)
        chosen.extend(rng.choice(idx, size=min(k, len(idx)), replace=False, p=w / w.sum()).tolist())
    chosen.sort(key=lambda i: (ARTICLES[i].category, ARTICLES[i].name))
    arts = [ARTICLES[i] for i in chosen]
    n = len(arts)

    kind = np.array([a.kind for a in arts])
    unit = np.array([a.unit for a in arts])
    schema.require_allowed("materials", "kind", set(kind))
    schema.require_allowed("materials", "unit", set(unit))
    # Decimal units get three significant digits at their typical size: 250 kg of mortar is
    # weighed to the kilogram, 1.5 kg of caulking cotton to 10 grams, 25 m of cable to 10 cm.
    base_qty = np.array([a.qty for a in arts])
    fine = np.clip(10.0 ** (np.floor(np.log10(base_qty)) - 2) * 1000, 1, 1000).astype(np.int64)
    step = np.where(np.isin(unit, list(INTEGER_UNITS)), 1000, fine).astype(np.int64)

    price_level = rng.uniform(0.92, 1.10)
    unit_cost = np.array([a.cost for a in arts]) * price_level * rng.uniform(0.95, 1.05, n)
    fine_cost = np.isin(unit, list(FINE_COST_UNITS)) & (unit_cost < FINE_COST_BELOW)
    unit_cost = to_micro(unit_cost, fine_cost)

    typical = np.array([a.qty for a in arts]) * rng.uniform(0.7, 1.4, n) * 1000
    typical = np.maximum(np.round(typical / step) * step, step).astype(np.int64)

    popularity = rng.lognormal(0.0, 1.0, n)
    popularity[kind == "consumable"] *= 1.6

    # Reorder parameters from the expected consumption of each stocked article.
    stocked = kind != "tool"
    share = np.where(stocked, popularity, 0.0)
    share = share / share.sum() if share.sum() > 0 else share
    daily = issues_per_day * share * typical                        # milli-units per weekday
    lead = np.where(kind == "consumable", rng.integers(1, 6, n),
                    np.where(kind == "material", rng.integers(2, 16, n), rng.integers(3, 21, n)))
    batches = rng.uniform(6, 20, n) * typical
    cover = daily * rng.uniform(10, 30, n)
    reorder = _nice(np.maximum(batches, cover), step)
    min_stock = np.minimum(np.maximum(np.round(daily * lead / step) * step, step), reorder // 2)
    min_stock = (np.round(min_stock / step) * step).astype(np.int64)
    show = stocked & (rng.random(n) < 0.9)

    prefix = [CATEGORY_PREFIX[a.category] for a in arts]
    numbers = rng.choice(np.arange(100, 99999), size=n, replace=False)
    # last draws of this stream, so the rest of the catalogue is what it was before suppliers
    main = {c: SUPPLIERS[c][int(rng.integers(len(SUPPLIERS[c])))] for c in sorted(SUPPLIERS)}
    second = {c: SUPPLIERS[c][(SUPPLIERS[c].index(main[c]) + 1) % len(SUPPLIERS[c])] for c in main}
    pick = rng.random(n)
    supplier = [None if p >= SUPPLIER_KNOWN else (main[a.category] if p < 0.75 else second[a.category])
                for a, p in zip(arts, pick)]
    return Materials(
        material_id=[f"MAT-{i + 1:05d}" for i in range(n)],
        sku=[f"{p}-{num:05d}" for p, num in zip(prefix, numbers)],
        name=[a.name for a in arts],
        category=[a.category for a in arts],
        kind=kind, unit=unit, unit_cost=unit_cost, fine_cost=fine_cost, typical_qty=typical, step=step,
        popularity=popularity, van_ok=np.array([not a.bulky for a in arts]),
        reorder_qty=reorder, min_stock=min_stock, lead_time_days=lead.astype(np.int64),
        show_reorder=show, supplier=supplier,
    )
