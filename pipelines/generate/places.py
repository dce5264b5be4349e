"""Where stock lives (warehouses, vans, site containers) and what it is used on (projects).

Project dates drive everything else: stock is only issued to a project while it runs, a
cancelled project stops early, and the status in the export is the status on the tenant's
last day (its termination date for a terminated tenant).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from faker import Faker

from . import schema
from .rhythm import to_date
from .tenants import TenantProfile

NL_STREETS = ["Kerkstraat", "Stationsstraat", "Dorpsstraat", "Molenstraat", "Nieuwstraat", "Schoolstraat",
              "Kapelstraat", "Veldstraat", "Grote Markt", "Industrieweg", "Kouter", "Steenweg", "Brugstraat",
              "Lindelaan", "Beekstraat", "Hoogstraat", "Zandstraat", "Nijverheidsstraat", "Kasteelstraat",
              "Boomgaardstraat"]
FR_STREETS = ["Rue de la Station", "Rue de l'Église", "Grand-Place", "Rue du Moulin", "Chaussée de Bruxelles",
              "Rue Haute", "Place communale", "Rue de la Gare", "Avenue des Tilleuls", "Rue du Centre",
              "Rue de Namur", "Rue des Écoles", "Rue du Château", "Chaussée de Liège", "Rue Neuve",
              "Rue du Parc"]
LU_CITIES = ["Esch-sur-Alzette", "Differdange", "Dudelange", "Ettelbruck", "Diekirch", "Wiltz",
             "Echternach", "Remich", "Mersch", "Grevenmacher", "Luxembourg", "Bertrange"]
PORTS = ["Antwerpen", "Zeebrugge", "Oostende", "Gent", "Nieuwpoort", "Terneuzen", "Vlissingen"]
SHIPS = ["Scaldis", "Zeemeeuw", "Stella Maris", "Noordster", "Westhinder", "Belle Île", "Mercator",
         "Vlaanderen", "Wandelaar", "Zeeleeuw", "Amandine", "Jan Breydel", "Marie-José", "Brabo",
         "Westdiep", "Artevelde", "Princesse Élisabeth", "Zuiderkruis", "Manta", "Sirius"]

PROJECT_TEMPLATES = {
    "construction": ["Renovation {addr}", "New build {addr}", "Extension {addr}", "Facade restoration {addr}",
                     "Apartment block {addr}", "Roof renovation {addr}", "Office fit-out {addr}"],
    "installation": ["Electrical installation {addr}", "HVAC installation {addr}", "Heat pump installation {addr}",
                     "Solar panels {addr}", "Bathroom renovation {addr}", "Rewiring {addr}",
                     "Boiler replacement {addr}"],
    "maritime": ["Dry dock overhaul MV {ship}", "Hull repair MV {ship}", "Engine room refit MV {ship}",
                 "Deck maintenance MV {ship}", "Quay wall repair {port}", "Pontoon maintenance {port}"],
    "public sector": ["Road maintenance {street}, {city}", "School renovation {addr}", "Street lighting {street}, {city}",
                      "Park maintenance {city}", "Sewer works {street}, {city}", "Sports hall {addr}",
                      "Town hall maintenance {city}"],
    "facility services": ["Maintenance contract {client}", "Office fit-out {addr}", "Preventive maintenance {addr}",
                          "Relocation {addr}", "Lighting retrofit {addr}", "HVAC service {client}"],
}
FRAMEWORK = {
    "construction": "Service calls & small works {year}", "installation": "Service calls & small works {year}",
    "maritime": "Harbour maintenance {port} {year}", "public sector": "Maintenance public buildings {year}",
    "facility services": "Maintenance contract {client} {year}",
}
OPEN_END = 1 << 40  # "still running"


@dataclass
class Locations:
    location_id: list[str]
    name: list[str]
    kind: np.ndarray        # warehouse / van / site
    home: np.ndarray        # the warehouse that restocks it (itself for a warehouse)

    def __len__(self) -> int:
        return len(self.location_id)

    def of_kind(self, kind: str) -> np.ndarray:
        return np.flatnonzero(self.kind == kind)


@dataclass
class Projects:
    project_id: list[str]
    name: list[str]
    cost_centre: list[str | None]
    status: np.ndarray
    started: np.ndarray     # day numbers
    ended: np.ndarray       # day number, -1 if not ended
    runs_until: np.ndarray  # last day stock can be issued to it
    weight: np.ndarray
    site: np.ndarray        # location index of its site container, -1 if none

    def __len__(self) -> int:
        return len(self.project_id)


class Addresses:
    def __init__(self, t: TenantProfile, fake: Faker, rng: np.random.Generator):
        self.t, self.fake, self.rng = t, fake, rng

    def street(self) -> str:
        if self.t.country == "NL":
            return self.fake["nl_NL"].street_name()
        fr = self.t.language == "fr"
        if self.rng.random() < 0.5:
            pool = FR_STREETS if fr else NL_STREETS
            return pool[self.rng.integers(len(pool))]
        s = self.fake["fr_FR"].street_name() if fr else self.fake["nl_BE"].street_name()
        return s[:1].upper() + s[1:]

    def city(self) -> str:
        if self.t.city is not None and self.rng.random() < 0.8:
            return self.t.city  # a municipality works in its own town
        if self.t.country == "NL":
            return self.fake["nl_NL"].city()
        if self.t.country == "LU":
            return LU_CITIES[self.rng.integers(len(LU_CITIES))]
        return self.fake["nl_BE"].city()

    def address(self) -> tuple[str, str, str]:
        street, city = self.street(), self.city()
        return f"{street} {int(self.rng.integers(1, 181))}, {city}", street, city


def _plate(t: TenantProfile, rng: np.random.Generator, fake: Faker) -> str:
    letters = "ABCDEFGHJKLMNPRSTUVWXYZ"
    abc = "".join(letters[i] for i in rng.integers(0, len(letters), 3))
    if t.country == "NL":
        return fake["nl_NL"].license_plate()
    if t.country == "LU":
        return f"{abc[:2]} {int(rng.integers(1000, 10000))}"
    return f"{int(rng.integers(1, 3))}-{abc}-{int(rng.integers(0, 1000)):03d}"


def make_base_locations(t: TenantProfile, rng: np.random.Generator, fake: Faker, n_field: int) -> Locations:
    addr = Addresses(t, fake, rng)
    n_wh = int(np.clip(1 + (t.size * rng.uniform(0.85, 1.15) > 0.85) + (t.size * rng.uniform(0.85, 1.15) > 1.3), 1, 3))
    n_van = int(np.clip(round(n_field / 2.5 * rng.uniform(0.8, 1.2)), 3, 15))
    names, kinds = [], []
    cities = []
    for i in range(n_wh):
        if t.sector == "maritime":
            city = PORTS[rng.integers(len(PORTS))]
            name = f"Harbour store {city}"
        elif t.city is not None:
            city = t.city if i == 0 else addr.city()
            name = f"Municipal depot {city}"
        else:
            city = addr.city()
            name = f"{'Central warehouse' if i == 0 else 'Warehouse'} {city}"
        while name in names:
            name += " II"
        names.append(name)
        kinds.append("warehouse")
        cities.append(city)
    plates = set()
    while len(plates) < n_van:
        plates.add(_plate(t, rng, fake))
    for p in sorted(plates):
        names.append(f"Van {p}")
        kinds.append("van")
    kind = np.array(kinds)
    home = np.arange(len(kind))
    vans = np.flatnonzero(kind == "van")
    home[vans] = rng.integers(0, n_wh, len(vans))
    return Locations([], names, kind, home)


def make_projects(t: TenantProfile, rng: np.random.Generator, fake: Faker, n_field: int,
                  locations: Locations) -> Projects:
    """Projects started in the months before the window up to a few weeks past its end."""
    addr = Addresses(t, fake, rng)
    concurrency = int(np.clip(round(n_field / 3 * rng.uniform(0.8, 1.2)), 3, 25))
    lo, hi = t.first_day - 150, t.last_day + 45
    mean_dur = 55.0
    n = max(int(np.ceil(concurrency * (hi - lo) / mean_dur)), 3)
    started = np.sort(rng.integers(lo, hi + 1, n))
    duration = np.clip(np.round(rng.lognormal(np.log(40), 0.8, n)), 5, 300).astype(np.int64)
    planned_end = started + duration
    # The framework contract: small jobs booked all year long, so there is always a project to book on.
    fw_start = t.first_day - int(rng.integers(30, 300))
    started = np.concatenate([[fw_start], started])
    planned_end = np.concatenate([[OPEN_END], planned_end])
    n += 1

    as_of = t.last_day
    status = np.where(started > as_of, "planned", np.where(planned_end <= as_of, "completed", "active"))
    cancelled = (status == "completed") & (rng.random(n) < 0.06)
    cancelled[0] = False
    status = np.where(cancelled, "cancelled", status)
    span = np.maximum(planned_end - started, 1)
    cancel_day = started + np.floor(span * rng.uniform(0.1, 0.7, n)).astype(np.int64)
    ended = np.where(status == "completed", planned_end, np.where(cancelled, cancel_day, -1))
    schema.require_allowed("projects", "status", set(status))
    runs_until = np.where(ended >= 0, ended, OPEN_END)

    order = np.lexsort((np.arange(n), started))
    started, ended, status, runs_until = started[order], ended[order], status[order], runs_until[order]
    is_fw = order == 0

    centres = sorted({f"CC-{int(c)}" for c in rng.integers(100, 999, int(rng.integers(3, 9)))})
    names, wheres, ccs = [], [], []
    tpls = PROJECT_TEMPLATES[t.sector]
    for i in range(n):
        a, street, city = addr.address()
        client = fake["nl_BE"].company() if t.language == "nl" else f"{fake['fr_BE'].last_name()} SA"
        fields = dict(addr=a, street=street, city=city, ship=SHIPS[rng.integers(len(SHIPS))],
                      port=PORTS[rng.integers(len(PORTS))], client=client,
                      year=to_date(max(t.first_day, int(started[i]))).year)
        tpl = FRAMEWORK[t.sector] if is_fw[i] else tpls[rng.integers(len(tpls))]
        names.append(tpl.format(**fields))
        where_by_key = (("{addr}", a), ("{street}", f"{street}, {city}"), ("{ship}", f"MV {fields['ship']}"),
                        ("{port}", fields["port"]), ("{city}", city), ("{client}", client))
        wheres.append(next((w for key, w in where_by_key if key in tpl), city))
        ccs.append(None if rng.random() < 0.05 else centres[rng.integers(len(centres))])

    weight = rng.lognormal(0.0, 0.8, n)
    weight[is_fw] = max(weight.max(), 1.0) * 0.8
    site = np.full(n, -1, dtype=np.int64)

    # Big projects running in the window get a site container that holds their materials.
    overlaps = (started <= t.last_day) & (runs_until >= t.first_day) & ~is_fw
    big = np.flatnonzero(overlaps & (np.minimum(runs_until, t.last_day) - np.maximum(started, t.first_day) >= 45))
    n_sites = min(len(big), int(rng.integers(2, 7)))
    if n_sites:
        chosen = big[np.argsort(-weight[big], kind="stable")[:n_sites]]
        warehouses = locations.of_kind("warehouse")
        new_names = list(locations.name)
        kinds = list(locations.kind)
        homes = list(locations.home)
        for p in sorted(chosen):
            site[p] = len(new_names)
            new_names.append(f"Site {wheres[p]}")
            kinds.append("site")
            homes.append(int(warehouses[0]))  # restocked from the central warehouse
        locations.name = new_names
        locations.kind = np.array(kinds)
        locations.home = np.array(homes, dtype=np.int64)
        weight[chosen] *= 2.0
    return Projects(
        project_id=[f"PRJ-{i + 1:04d}" for i in range(n)], name=names, cost_centre=ccs, status=status,
        started=started.astype(np.int64), ended=ended.astype(np.int64), runs_until=runs_until.astype(np.int64),
        weight=weight, site=site,
    )


def finish_locations(locations: Locations) -> None:
    schema.require_allowed("locations", "kind", set(locations.kind))
    locations.location_id = [f"LOC-{i + 1:04d}" for i in range(len(locations.kind))]
