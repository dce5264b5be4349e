"""Demo landing data: tenants, their people, catalogue, places, projects and a year of movements.

`generate()` writes `<out>/<tenant_id>/<entity>/<file>.<csv|jsonl|parquet>` the way the
operational platform exports it, realistic enough to exercise the whole platform (privacy
split, quarantine, stock and consumption marts, dashboards) and reproducible byte for byte
from its arguments. See the module docstrings for the story each part tells.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Callable

import numpy as np
import polars as pl
from faker import Faker

from . import defects, rhythm, writer
from .catalogue import Materials, make_materials
from .movements import P_ISSUE, Movements, NotePool, demand_scale, make_movements
from .people import FIELD_ROLES, Users, assign_places, make_users, set_last_login
from .places import Locations, Projects, finish_locations, make_base_locations, make_projects
from .schema import ENTITIES
from .tenants import TenantProfile, make_tenants

__all__ = ["GenerationReport", "generate", "RULES", "FORMATS"]

RULES = defects.RULES
FORMATS = writer.FORMATS
LOCALES = ["nl_BE", "fr_BE", "fr_FR", "nl_NL"]


@dataclass
class GenerationReport:
    files: list[Path]
    rows: dict[str, int]                 # entity -> rows written (all tenants), defective rows included
    defects: dict[str, int]              # rule_id -> number of rows made to break that rule
    tenants: list[str]                   # tenant ids
    movements_by_tenant: dict[str, int] = field(default_factory=dict)


@dataclass
class _Tenant:
    profile: TenantProfile
    users: Users
    materials: Materials
    locations: Locations
    projects: Projects
    notes: NotePool
    movements: Movements


def _notes(t: TenantProfile, fake: Faker, rng: np.random.Generator, users: Users) -> NotePool:
    gen = fake["nl_BE"] if t.language == "nl" else fake["fr_FR"]
    sentences = [gen.sentence(nb_words=int(rng.integers(3, 8))) for _ in range(40)]
    local = "Meegegeven aan {}" if t.language == "nl" else "Remis à {}"
    handed = []
    for _ in range(25):
        i = int(rng.integers(len(users)))
        who = users.first_name[i] if rng.random() < 0.7 else f"{users.first_name[i]} {users.last_name[i]}"
        handed.append(("Handed to {}" if rng.random() < 0.6 else local).format(who))
    return NotePool(sentences, handed)


def _build(t: TenantProfile, fake: Faker, per_day: float) -> _Tenant:
    fake.seed_instance(f"mira-{t.seed}-{t.index}")
    users = make_users(t, t.rng(1), fake)
    n_field = int(np.isin(users.role, FIELD_ROLES).sum())
    locs = make_base_locations(t, t.rng(2), fake, n_field)
    assign_places(users, t.rng(3), locs.of_kind("warehouse"), locs.of_kind("van"), locs.home)
    projs = make_projects(t, t.rng(4), fake, n_field, locs)
    finish_locations(locs)
    mats = make_materials(t, t.rng(5), per_day * t.size * demand_scale(per_day) * P_ISSUE)
    notes = _notes(t, fake, t.rng(6), users)
    mv = make_movements(t, t.rng(7), per_day, mats, users, locs, projs, notes)
    set_last_login(users, t.rng(8), mv.user, mv.ts, t.last_day)
    return _Tenant(t, users, mats, locs, projs, notes, mv)


def _month_keys(ts: np.ndarray) -> np.ndarray:
    return (ts // 86400).astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)


def _months_between(first: int, last: int) -> int:
    a, b = (np.array([first, last]).astype("datetime64[D]").astype("datetime64[M]").astype(np.int64))
    return int(b - a + 1)


def _reference_frames(b: _Tenant) -> dict[str, object]:
    t, u, m, loc, p = b.profile, b.users, b.materials, b.locations, b.projects
    tid = t.tenant_id
    return {
        "tenants": writer.frame("tenants", {
            "tenant_id": [tid], "name": [t.name], "country": [t.country], "subscription_status": [t.status],
            "subscribed_at": writer.day_strings(np.array([t.subscribed_at])),
            "terminated_at": writer.day_strings(np.array([-1 if t.terminated_at is None else t.terminated_at])),
        }),
        "users": writer.frame("users", {
            "user_id": u.user_id, "tenant_id": tid, "first_name": u.first_name, "last_name": u.last_name,
            "email": u.email, "role": list(u.role),
            "created_at": writer.ts_strings(u.created_day * 86400 + u.created_sec),
            "last_login_at": writer.ts_strings(u.last_login),
        }),
        "materials": writer.frame("materials", {
            "material_id": m.material_id, "tenant_id": tid, "sku": m.sku, "name": m.name, "category": m.category,
            "kind": list(m.kind), "unit": list(m.unit), "unit_cost": writer.micro_strings(m.unit_cost),
            "min_stock": _masked(writer.qty_strings(m.min_stock), m.show_reorder),
            "reorder_qty": _masked(writer.qty_strings(m.reorder_qty), m.show_reorder),
            "lead_time_days": [str(int(x)) for x in m.lead_time_days],
            "supplier": pl.Series(m.supplier, dtype=pl.Utf8),
        }),
        "locations": writer.frame("locations", {
            "location_id": loc.location_id, "tenant_id": tid, "name": loc.name, "kind": list(loc.kind),
        }),
        "projects": writer.frame("projects", {
            "project_id": p.project_id, "tenant_id": tid, "name": p.name, "cost_centre": p.cost_centre,
            "status": list(p.status), "started_at": writer.day_strings(p.started),
            "ended_at": writer.day_strings(p.ended),
        }),
    }


def _masked(s: pl.Series, keep: np.ndarray) -> pl.Series:
    return pl.DataFrame({"v": s, "k": keep}).select(pl.when(pl.col("k")).then(pl.col("v")).alias("v"))["v"]


def generate(out: Path, tenants: int = 5, days: int = 365, seed: int = 42, movements_per_day: int = 40,
             defect_rate: float = 0.0, fmt: str = "csv", end_date: date | None = None,
             progress: Callable[[int, int], None] | None = None) -> GenerationReport:
    """Write demo landing files under `out` and say what was written.

    Same arguments (with an explicit `end_date`) give byte-identical files. Existing files
    with the same names are overwritten; other files under `out` are left alone.
    """
    if tenants < 1:
        raise ValueError("tenants must be at least 1")
    if days < 1:
        raise ValueError("days must be at least 1")
    if movements_per_day < 0:
        raise ValueError("movements_per_day must be 0 or more")
    if not 0.0 <= defect_rate <= defects.MAX_RATE:
        raise ValueError(f"defect_rate must be between 0 and {defects.MAX_RATE}")
    if fmt not in FORMATS:
        raise ValueError(f"fmt must be one of {FORMATS}, not {fmt!r}")
    out = Path(out)
    end_date = end_date or (date.today() - timedelta(days=1))
    end_day = rhythm.day_number(end_date)
    window_first = end_day - days + 1

    fake = Faker(LOCALES)
    profiles = make_tenants(tenants, seed, window_first, end_day, days, fake)
    total = len(profiles) + sum(1 + _months_between(p.first_day, p.last_day) for p in profiles)
    done = 0

    def tick(k: int = 1) -> None:
        nonlocal done
        done += k
        if progress is not None:
            progress(min(done, total), total)

    if progress is not None:
        progress(0, total)
    built = []
    for p in profiles:
        built.append(_build(p, fake, float(movements_per_day)))
        tick()

    months = [_month_keys(b.movements.ts) for b in built]
    dplan = defects.plan([b.movements.mtype for b in built], months, defect_rate, seed)

    files: list[Path] = []
    rows = {e: 0 for e in ENTITIES}
    ids = [p.tenant_id for p in profiles]
    for i, b in enumerate(built):
        tid = b.profile.tenant_id
        base = out / tid
        for entity, df in _reference_frames(b).items():
            files.append(writer.write(df, base / entity / entity, fmt))
            rows[entity] += df.height
        tick()
        other = ids[(i + 1) % len(ids)] if len(ids) > 1 else "other-tenant"
        mv = b.movements
        df = writer.movements_frame(
            tid, other, mv, b.materials.material_id, b.materials.unit, b.locations.location_id,
            b.projects.project_id, b.users.user_id, b.notes.texts, dplan.codes[i], dplan.dup_src[i])
        expected_files = _months_between(b.profile.first_day, b.profile.last_day)
        written = 0
        for (month,), part in df.partition_by("_month", maintain_order=True, as_dict=True).items():
            files.append(writer.write(part.drop("_month"), base / "movements" / f"movements_{month}", fmt))
            rows["movements"] += part.height
            written += 1
            tick()
        tick(max(expected_files - written, 0))
    return GenerationReport(
        files=files, rows=rows, defects=dict(dplan.counts), tenants=ids,
        movements_by_tenant={b.profile.tenant_id: len(b.movements) for b in built},
    )
