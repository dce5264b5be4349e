"""Every query the dashboards run: plain functions (tenant, filters) -> pandas DataFrame.

What lives where:
- pool.py: where the data comes from: one shared connection per serving file (reopened when the
  pipeline swaps the file), `query`, through which every function below runs its SQL, and
  `Cached`, the Streamlit cache keyed by tenant and source.
- consumption.py, stock.py, tools.py, insights.py, operations.py: each page's queries, for the
  page of the same name in dashboards/views/; each tenant page's module also has `cached`, the
  same functions behind the cache, which its page reads.
- common.py: what the app shell and several pages share: the tenants (the analyst's tenant
  picker, a tenant's name) and the non-identifying labels for people.
- pages.py: `page_data`, everything a page loads when it opens, uncached: what
  benchmarks/dashboards.py times.

Rules every module keeps:
- Isolation in two layers: the serving file a query opens (pool.py: a manager's, only their
  tenant's; an analyst's, the pseudonymised cross-tenant file) and `tenant_id = ?` in every tenant
  query, so a mistake in one layer is caught by the other.
- Parameters only: values always travel as `?`; the few identifiers that vary (grain, breakdown
  dimension) are looked up in fixed dictionaries, never formatted from user input.
- No Streamlit at import, so the benchmark times exactly what a page asks for.

This file holds no code: import the module that owns a function.
"""
