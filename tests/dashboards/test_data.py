"""dashboards/data without Streamlit: what the benchmark times, and the connection pool that
must follow the pipeline's atomic swaps of the serving files."""
from __future__ import annotations

import pytest

from dashboards.data import common, pages, stock
from pipelines.serving import files as serving
from pipelines.serving.files import ServingUnavailable
from pipelines.serving.publish import publish_tenants


def test_page_data_loads_every_page(dash):
    for page in pages.PAGES:
        tenant = None if page == "operations" else dash.tenant_a
        out = pages.page_data(page, tenant)
        assert out and all(hasattr(df, "columns") for df in out.values())
    consumption = pages.page_data("consumption", dash.tenant_a)
    assert consumption["consumption_totals"].iloc[0]["movements"] > 0
    analyst = pages.page_data("consumption", dash.tenant_a, source="analyst")
    assert analyst["consumption_totals"].equals(consumption["consumption_totals"])


def test_pool_follows_a_republished_and_a_removed_file(dash):
    t = dash.tenant_a
    before = stock.stock_by_location(t)
    path = serving.tenant_path(t)
    inode = path.stat().st_ino
    publish_tenants()                          # swapped in with a rename: a new file
    assert path.stat().st_ino != inode
    assert stock.stock_by_location(t).equals(before)   # reopened, same figures
    path.unlink()
    try:
        with pytest.raises(ServingUnavailable):
            stock.stock_by_location(t)
    finally:
        publish_tenants()
    assert stock.stock_by_location(t).equals(before)


def test_user_labels_are_role_and_pseudonym_prefix_and_never_collide():
    import pandas as pd

    df = pd.DataFrame({"user_pseudonym": ["4f2a" + "0" * 60, "4f2a" + "1" * 60, "abcd" + "2" * 60],
                       "role": ["technician", "technician", None]})
    labels = list(common.add_user_labels(df, label_col="person")["person"])
    assert labels == ["Technician 4F2A0000", "Technician 4F2A1111", "User ABCD"]
