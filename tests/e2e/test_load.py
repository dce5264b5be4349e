"""Many customer managers at once against one real dashboards server: each session sees its own
tenant's pages, figures and names, and nothing of another tenant's.

The bounded version of benchmarks/load.py (which has the full size, 50 sessions, and the timing
target): the e2e home's tenants, SESSIONS_PER_TENANT managers each, all connected at once, each
logging in (Consumption renders) and opening Stock over the app's own websocket protocol
(benchmarks/streamlit_client.py). Correctness is asserted strictly: every session completes,
no error is shown, every figure is its own tenant's (recomputed from that tenant's serving file)
and no name of another tenant arrives anywhere, table and chart cells included. Time is only
printed: the machine is shared, and timing targets belong to the benchmark.
"""
from __future__ import annotations

import asyncio

import pytest

from benchmarks.load import crowd, dashboards_server, expectations, interleaved, managers, summary
from tests.conftest import free_port, published_copy

SESSIONS_PER_TENANT = 4
RAMP_S = 2.0
PAGE_TIMEOUT_S = 180.0


@pytest.fixture(scope="module")
def load_home(transform, e2e, tmp_path_factory):
    """A published copy of the e2e home with SESSIONS_PER_TENANT manager accounts per tenant."""
    mp = pytest.MonkeyPatch()
    try:
        home = tmp_path_factory.mktemp("load") / "mira"
        tenants = published_copy(e2e[0], home, mp)
        yield home, tenants, managers(tenants, SESSIONS_PER_TENANT)
    finally:
        mp.undo()


def test_many_managers_at_once_each_see_only_their_own_tenant(load_home, artifacts):
    home, tenants, accounts = load_home
    expected = expectations(tenants)
    assert len({e.movements for e in expected.values()}) == len(tenants), \
        "the tenants' figures must differ, or a session shown another tenant's would go unnoticed"
    visits = interleaved(accounts, len(accounts))
    with dashboards_server(home, artifacts / "load-streamlit-server.log", free_port()) as url:
        asyncio.run(crowd(url, visits, expected, ramp=RAMP_S, timeout=PAGE_TIMEOUT_S))
    result = summary(visits)
    print(f"\n{result['completed']}/{result['sessions']} sessions of {len(tenants)} tenants at once: "
          f"median {result['median_s']} s, p95 {result['p95_s']} s, max {result['max_s']} s to a rendered page")
    assert result["errors"] == 0, result["error_samples"]
    assert result["cross_tenant"] == 0, [(v.tenant, v.foreign[:5]) for v in visits if v.foreign]
    assert result["completed"] == len(visits) == len(tenants) * SESSIONS_PER_TENANT
    assert all(len(v.seconds) == 2 for v in visits)
    # The name check is not vacuous: every session did receive its own tenant's names (the
    # tenant id in the sidebar, location names in the Stock page's tables and charts).
    assert all(v.own_names >= 2 for v in visits), [(v.tenant, v.own_names) for v in visits]
