"""Every column a table or a download can carry: its header in words and what kind of value it
holds, which decides how it is written on screen, in CSV and in Excel (an amount carries the
tenant's currency, a date reads dd/mm/yyyy, a share is a percentage).

Why one registry instead of labels beside each table: the same column (value, previous period,
on hand...) appears on several pages and in every download; named once, it reads the same
everywhere, and a test can check that no query's column reaches a user under its raw name.
"""
from __future__ import annotations

from dataclasses import dataclass

from dashboards.i18n import N_

MONEY, QUANTITY, RATE, INTEGER, DAYS, PERCENT, DATE, DATETIME, TEXT, FLAG = (
    "money", "quantity", "rate", "integer", "days", "percent", "date", "datetime", "text", "flag")


@dataclass(frozen=True)
class Column:
    label: str            # English, marked for the catalogues; translated where it is shown
    kind: str


C = Column
COLUMNS: dict[str, Column] = {
    # consumption
    "period_start": C(N_("Period"), DATE),
    "quantity": C(N_("Quantity"), QUANTITY),
    "value": C(N_("Value"), MONEY),
    "movements": C(N_("Movements"), INTEGER),
    "previous_quantity": C(N_("Quantity, previous period"), QUANTITY),
    "previous_value": C(N_("Value, previous period"), MONEY),
    "change_value": C(N_("Change in value"), MONEY),
    "last_year_quantity": C(N_("Quantity, same period last year"), QUANTITY),
    "last_year_value": C(N_("Value, same period last year"), MONEY),
    "unit": C(N_("Unit"), TEXT),
    "material_id": C(N_("Article number"), TEXT),
    "category": C(N_("Category"), TEXT),
    "material": C(N_("Material"), TEXT),
    "project": C(N_("Project"), TEXT),
    "location": C(N_("Location"), TEXT),
    "person": C(N_("Person"), TEXT),
    # stock
    "kind": C(N_("Kind"), TEXT),
    "materials_in_stock": C(N_("Materials in stock"), INTEGER),
    "materials_out_of_stock": C(N_("Materials at zero"), INTEGER),
    "value_on_hand": C(N_("Value on hand"), MONEY),
    "quantity_on_hand": C(N_("On hand"), QUANTITY),
    "last_movement_date": C(N_("Last movement"), DATE),
    "sku": C(N_("SKU"), TEXT),
    "warehouse": C(N_("Warehouse"), TEXT),
    "min_stock": C(N_("Minimum stock"), QUANTITY),
    "reorder_level": C(N_("Reorder level"), QUANTITY),
    "avg_daily_use": C(N_("Average use per day"), RATE),
    "lead_time_days": C(N_("Lead time (days)"), INTEGER),
    "is_below_minimum": C(N_("Below minimum"), FLAG),
    "is_below_reorder_level": C(N_("Below reorder level"), FLAG),
    "reorder_qty": C(N_("Usual order quantity"), QUANTITY),
    "suggested_order_qty": C(N_("Suggested order"), QUANTITY),
    "is_capped": C(N_("Capped to 180 days of use"), FLAG),
    "order_value": C(N_("Order value"), MONEY),
    "supplier": C(N_("Supplier"), TEXT),
    "unit_cost": C(N_("Unit cost"), MONEY),
    "order_lines": C(N_("Order lines"), INTEGER),
    "last_issue_date": C(N_("Last issue"), DATE),
    "days_without_issue": C(N_("Days without an issue"), INTEGER),
    "locations": C(N_("Locations"), INTEGER),
    "where_it_lies": C(N_("Where it lies"), TEXT),
    "days_of_cover": C(N_("Days of cover"), DAYS),
    "predicted_stockout_date": C(N_("Runs out on"), DATE),
    "as_of_date": C(N_("As of"), DATE),
    "average_age_days": C(N_("Average age (days)"), DAYS),
    "value_age_0_30": C(N_("Value 0-30 days"), MONEY),
    "value_age_31_60": C(N_("Value 31-60 days"), MONEY),
    "value_age_61_90": C(N_("Value 61-90 days"), MONEY),
    "value_age_91_180": C(N_("Value 91-180 days"), MONEY),
    "value_age_181_365": C(N_("Value 181-365 days"), MONEY),
    "value_age_over_365": C(N_("Value over 365 days"), MONEY),
    "month": C(N_("Month"), DATE),
    "counts_with_difference": C(N_("Counts with a difference"), INTEGER),
    "count_accuracy": C(N_("Count accuracy"), PERCENT),
    "counted_value": C(N_("Value counted"), MONEY),
    "found_value": C(N_("Value found"), MONEY),
    "missing_value": C(N_("Value missing"), MONEY),
    "scrap_value": C(N_("Value scrapped"), MONEY),
    "shrinkage_value": C(N_("Shrinkage"), MONEY),
    # tools
    "tool": C(N_("Tool"), TEXT),
    "holder": C(N_("Holder"), TEXT),
    "store": C(N_("Store"), TEXT),
    "since": C(N_("Out since"), DATE),
    "days_out": C(N_("Days out"), INTEGER),
    "overdue": C(N_("Overdue"), FLAG),
    "lost": C(N_("Lost"), FLAG),
    "units_checked_out": C(N_("Units out"), QUANTITY),
    "units_in_store": C(N_("Units in store"), QUANTITY),
    "utilisation_share": C(N_("Utilisation"), PERCENT),
    "window_start_date": C(N_("From"), DATE),
    # insights
    "abc_class": C(N_("ABC"), TEXT),
    "xyz_class": C(N_("XYZ"), TEXT),
    "abc_xyz_class": C(N_("Class"), TEXT),
    "consumed_value": C(N_("Value consumed"), MONEY),
    "consumed_quantity": C(N_("Quantity consumed"), QUANTITY),
    "value_rank": C(N_("Rank by value"), INTEGER),
    "cumulative_value_share": C(N_("Cumulative share of value"), PERCENT),
    "weekly_demand_mean": C(N_("Average use per week"), RATE),
    "demand_cv": C(N_("Variability (CV)"), RATE),
    "recent_quantity": C(N_("Last 7 days"), QUANTITY),
    "history_mean": C(N_("Weekly average before"), RATE),
    "history_stddev": C(N_("Weekly standard deviation"), RATE),
    "weeks": C(N_("Weeks of history"), INTEGER),
    "z_score": C(N_("z-score"), RATE),
    "recent_people": C(N_("People (last 7 days)"), INTEGER),
    "flag": C(N_("Signal"), TEXT),
    # operations
    "tenant_id": C(N_("Tenant"), TEXT),
    "last_ingest_at": C(N_("Last ingest"), DATETIME),
    "last_movement_at": C(N_("Last movement"), DATETIME),
    "files_loaded": C(N_("Files loaded"), INTEGER),
    "files_rejected": C(N_("Files rejected"), INTEGER),
    "rows_loaded": C(N_("Rows loaded"), INTEGER),
    "rows_quarantined": C(N_("Rows quarantined"), INTEGER),
    "hours_since_ingest": C(N_("Hours since ingest"), RATE),
    "stale": C(N_("Stale"), FLAG),
    "entity": C(N_("Entity"), TEXT),
    "rule_id": C(N_("Rule"), TEXT),
    "reason": C(N_("Reason"), TEXT),
    "rows": C(N_("Rows"), INTEGER),
    "run_id": C(N_("Run"), TEXT),
    "job": C(N_("Job"), TEXT),
    "status": C(N_("Status"), TEXT),
    "started_at": C(N_("Started"), DATETIME),
    "finished_at": C(N_("Finished"), DATETIME),
    "files_ingested": C(N_("Files ingested"), INTEGER),
    "failed_at": C(N_("Failed at"), DATETIME),
    "failed_step": C(N_("Step"), TEXT),
    "error_class": C(N_("Error class"), TEXT),
    "link": C(N_("Dagster"), TEXT),
}

# Words the data itself holds (roles, location kinds, flags): shown translated, stored in English.
VALUES = {
    "admin": N_("admin"), "manager": N_("manager"), "storekeeper": N_("storekeeper"),
    "technician": N_("technician"), "foreman": N_("foreman"), "driver": N_("driver"),
    "warehouse": N_("warehouse"), "van": N_("van"), "site": N_("site"),
    "spike": N_("spike"), "drop": N_("drop"),
}


def column(name: str) -> Column:
    """The column's entry; a name missing here is a bug the tests catch (a raw name on screen)."""
    return COLUMNS.get(name, Column(name, TEXT))
