"""Small hand-written landing rows for tests that need exact control (the generator makes bulk)."""
from __future__ import annotations

from pipelines.contracts import load_contract

MOVEMENT_FIELDS = load_contract("movements").field_names
USER_FIELDS = load_contract("users").field_names
MATERIAL_FIELDS = load_contract("materials").field_names


def movement(mid: str, tenant: str = "acme", **over) -> list[str]:
    row = dict(movement_id=mid, tenant_id=tenant, occurred_at="2026-03-02T08:15:00+01:00", movement_type="issue",
               material_id="MAT-1", quantity="3", unit="pcs", from_location_id="LOC-1", to_location_id="",
               project_id="PRJ-1", user_id="u-7f3c2a", unit_cost="", note="")
    row.update(over)
    return [row[f] for f in MOVEMENT_FIELDS]


def user(uid: str, tenant: str = "acme", **over) -> list[str]:
    row = dict(user_id=uid, tenant_id=tenant, first_name="Testfirst", last_name="Testlast",
               email=f"{uid}@example.test", role="technician", created_at="2025-01-01T08:00:00+01:00",
               last_login_at="2026-03-01T09:13:27+01:00")
    row.update(over)
    return [row[f] for f in USER_FIELDS]


def material(mid: str, tenant: str = "acme", **over) -> list[str]:
    row = dict(material_id=mid, tenant_id=tenant, sku=f"SKU-{mid}", name="Wall plug 8x40 mm", category="fasteners",
               kind="consumable", unit="pcs", unit_cost="0.25", min_stock="10", reorder_qty="100",
               lead_time_days="5", supplier="")
    row.update(over)
    return [row[f] for f in MATERIAL_FIELDS]
