"""A tenant's staff: names, work emails, roles, account dates, and who works from which van.

The names are the personal data the platform must keep out of its warehouse, so they are
realistic on purpose (Flemish and Walloon names, accents included), as are the emails built
from them. User ids are UUIDs drawn from the seeded generator, never uuid4(), so a rerun
produces the same ids.
"""
from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field

import numpy as np
from faker import Faker

from . import schema
from .rhythm import RECEIPT_SLOT
from .tenants import TenantProfile, ascii_fold

FIELD_ROLES = ("technician", "foreman")


@dataclass
class Users:
    user_id: list[str]
    first_name: list[str]
    last_name: list[str]
    email: list[str]
    role: np.ndarray            # str array
    created_day: np.ndarray     # day numbers
    created_sec: np.ndarray     # seconds since midnight
    activity: np.ndarray        # relative share of the scanning a person does
    van: np.ndarray = field(default=None)        # location index of their van, -1 if none
    home: np.ndarray = field(default=None)       # location index of their home warehouse
    last_login: np.ndarray = field(default=None)  # local epoch seconds, -1 if never

    def __len__(self) -> int:
        return len(self.user_id)


def _email_part(name: str) -> str:
    return re.sub(r"[^a-z0-9-]", "", ascii_fold(name).lower()) or "x"


def _uuid(rng: np.random.Generator) -> str:
    return str(uuid.UUID(bytes=rng.bytes(16), version=4))


def make_users(t: TenantProfile, rng: np.random.Generator, fake: Faker) -> Users:
    n = int(np.clip(round(30 * t.size * rng.uniform(0.8, 1.25)), 15, 60))
    roles = ["admin"] * int(rng.integers(1, 3))
    roles += ["manager"] * int(np.clip(round(n / 20 + rng.random()), 1, 3))
    roles += ["storekeeper"] * int(np.clip(round(n / 15 + rng.random()), 1, 4))
    roles += ["foreman"] * int(np.clip(round(n / 8 + rng.random()), 2, 6))
    roles += ["driver"] * int(rng.integers(0, 4) if n >= 25 else rng.integers(0, 2))
    roles += ["technician"] * max(n - len(roles), 5)
    schema.require_allowed("users", "role", set(roles))
    n = len(roles)

    own = "nl_BE" if t.language == "nl" else "fr_BE"
    other = "fr_BE" if own == "nl_BE" else "nl_BE"
    firsts, lasts, emails = [], [], []
    seen: dict[str, int] = {}
    for role in roles:
        gen = fake[own if rng.random() < 0.8 else other]
        female_p = 0.1 if role in ("technician", "foreman", "driver") else 0.5
        first = gen.first_name_female() if rng.random() < female_p else gen.first_name_male()
        last = gen.last_name()
        local = f"{_email_part(first)}.{_email_part(last)}"
        k = seen.get(local, 0) + 1
        seen[local] = k
        firsts.append(first)
        lasts.append(last)
        emails.append(f"{local}{k if k > 1 else ''}@{t.domain}")
    user_ids = [_uuid(rng) for _ in range(n)]

    # Most accounts were opened when the tenant was onboarded; later hires trickle in.
    role_arr = np.array(roles)
    onboard = rng.random(n) < 0.7
    _, first_of_role = np.unique(role_arr, return_index=True)
    onboard[first_of_role] = True
    onboard_day = t.subscribed_at + rng.integers(0, 3, n)
    hire_lo, hire_hi = t.subscribed_at + 3, t.last_day - 14
    if hire_hi > hire_lo:
        hire_day = rng.integers(hire_lo, hire_hi + 1, n)
    else:
        hire_day = onboard_day
    created_day = np.where(onboard, onboard_day, hire_day)
    created_sec = rng.integers(8 * 3600, 17 * 3600, n)

    base = {"technician": 1.0, "foreman": 0.6, "driver": 0.3, "storekeeper": 1.0, "manager": 0.15, "admin": 0.05}
    activity = np.array([base[r] for r in roles]) * rng.lognormal(0.0, 0.4, n)
    return Users(user_ids, firsts, lasts, emails, role_arr, created_day.astype(np.int64),
                 created_sec.astype(np.int64), activity)


def assign_places(users: Users, rng: np.random.Generator, warehouses: np.ndarray, vans: np.ndarray,
                  van_home: np.ndarray) -> None:
    """Give technicians and foremen a van (one to three per van) and everyone a home warehouse."""
    n = len(users)
    users.van = np.full(n, -1, dtype=np.int64)
    field_idx = np.flatnonzero(np.isin(users.role, FIELD_ROLES))
    field_idx = rng.permutation(field_idx)
    with_van = field_idx[: min(len(field_idx), 2 * len(vans))]
    users.van[with_van] = vans[np.arange(len(with_van)) % len(vans)]
    wh_p = np.linspace(2.0, 1.0, len(warehouses))
    users.home = rng.choice(warehouses, size=n, p=wh_p / wh_p.sum())
    has_van = users.van >= 0
    users.home[has_van] = van_home[users.van[has_van]]


def pick(users: Users, weights: np.ndarray, days: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Draw a user per event, weighted, among those whose account existed before that day.

    Vectorised: users sorted by creation day, cumulative weights, and a per-event cut-off at the
    number of accounts already created. Onboarding accounts exist before any movement, so the
    cut-off is never zero in practice; if it is, the oldest account is used.
    """
    cand = np.flatnonzero(weights > 0)
    order = cand[np.lexsort((cand, users.created_day[cand]))]
    created = users.created_day[order]
    cw = np.cumsum(weights[order])
    n_avail = np.searchsorted(created, days, side="left")
    n_avail = np.maximum(n_avail, 1)
    r = rng.random(len(days)) * cw[n_avail - 1]
    pos = np.minimum(np.searchsorted(cw, r, side="right"), n_avail - 1)
    return order[pos]


def role_weights(users: Users, **per_role: float) -> np.ndarray:
    w = np.array([per_role.get(r, 0.0) for r in users.role])
    return w * users.activity


def set_last_login(users: Users, rng: np.random.Generator, mv_user: np.ndarray, mv_ts: np.ndarray,
                   last_day: int) -> None:
    """Last login on or after a person's last scan; people who never scanned log in now and then."""
    n = len(users)
    last_scan = np.full(n, -1, dtype=np.int64)
    if len(mv_user):
        np.maximum.at(last_scan, mv_user, mv_ts)
    cap = last_day * 86400 + 20 * 3600
    created = users.created_day * 86400 + users.created_sec
    lo = np.where(last_scan >= 0, last_scan, created)
    lo = np.minimum(lo, cap)
    span = np.maximum(np.minimum(cap - lo, 3 * 86400), 0)
    idle = last_scan < 0
    # People who do not scan (admins, managers) mostly logged in recently; some long ago.
    recent = rng.random(n) < 0.75
    lo = np.where(idle & recent, np.maximum(lo, cap - 30 * 86400), lo)
    span = np.where(idle, np.maximum(cap - lo, 0), span)
    login = lo + (rng.random(n) * span).astype(np.int64)
    never = idle & (rng.random(n) < 0.1)
    login[never] = -1
    # Nobody logs in at 03:00: pull night-time logins into the early morning.
    sec = login % 86400
    night = (login >= 0) & (sec < RECEIPT_SLOT[0])
    login[night] += RECEIPT_SLOT[0] - sec[night]
    users.last_login = login
