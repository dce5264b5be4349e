"""The dashboards' tests share one generated, built and published home (a copy of the `e2e`
fixture's, so adding accounts and serving files here changes nothing for other tests), with one
account per role and a manager for each of two tenants."""
from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import pytest
from google.protobuf.json_format import MessageToDict
from streamlit.testing.v1 import AppTest
from streamlit.testing.v1.element_tree import Block, Dataframe

from tests.conftest import point_at

REPO = Path(__file__).resolve().parents[2]
APP = str(REPO / "dashboards" / "app.py")
PAGES_DIR = REPO / "dashboards" / "app_pages"
PASSWORD = "dashboards-test-password"
TIMEOUT = 120


@dataclass(frozen=True)
class Dash:
    home: Path
    tenant_a: str
    tenant_b: str
    manager_a: str
    manager_b: str
    analyst: str
    ops: str
    privacy_officer: str


@pytest.fixture(scope="session")
def dash(e2e, tmp_path_factory) -> Dash:
    from pipelines.serving import files as serving
    from pipelines.accounts import users as accounts

    source_home = e2e[0]
    mp = pytest.MonkeyPatch()
    home = tmp_path_factory.mktemp("dash") / "mira"
    shutil.copytree(source_home, home, ignore=shutil.ignore_patterns("dagster", "logs", "landing", "tmp", "gx"))
    point_at(mp, home)
    # `mira run` published the tenant and ops files (the dashboards read nothing else)
    assert any((home / "serving" / "tenants").glob("*.duckdb")) and serving.ops_path().exists()
    tenants = sorted(p.stem for p in (home / "serving" / "tenants").glob("*.duckdb"))
    assert len(tenants) >= 2, tenants
    d = Dash(home, tenants[0], tenants[1], "manager.a@example.com", "manager.b@example.com",
             "analyst@example.com", "ops@example.com", "privacy@example.com")
    for email, role, tenant in ((d.manager_a, "manager", d.tenant_a), (d.manager_b, "manager", d.tenant_b),
                                (d.analyst, "analyst", None), (d.ops, "ops", None),
                                (d.privacy_officer, "privacy_officer", None)):
        account_id = accounts.add_user(email, role, tenant, password=PASSWORD)
        # these accounts read English (their own choice, kept with the account); the tenants are
        # Belgian, so without a choice they would open in Dutch (tests/dashboards/test_i18n.py)
        accounts.set_language(account_id, "en")
    yield d
    mp.undo()


def new_app() -> AppTest:
    return AppTest.from_file(APP, default_timeout=TIMEOUT)


def login(email: str, password: str = PASSWORD) -> AppTest:
    at = new_app().run()
    assert not at.exception, at.exception
    at.text_input(key="login_email").input(email)
    at.text_input(key="login_password").input(password)
    at.button[0].click().run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def open_page(at: AppTest, page: str) -> AppTest:
    at.switch_page(f"app_pages/{page}.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def metric(at: AppTest, label: str) -> float:
    """A metric's figure, read back from its English text ("€15,927.09", "1,234")."""
    [m] = [m for m in at.metric if m.label == label]
    return float(re.sub(r"[^0-9.\-]", "", m.value.replace(",", "")))


def dataframes(at: AppTest) -> list[pd.DataFrame]:
    return [d.value for d in at.dataframe]


def page_text(at: AppTest) -> str:
    """Everything the app sent to the browser, as text: every element's content, every table,
    every chart's spec and data (sidebar included)."""
    from streamlit import dataframe_util

    out: list[str] = []

    def walk(node) -> None:
        if isinstance(node, Block):
            if getattr(node, "proto", None) is not None:
                out.append(json.dumps(MessageToDict(node.proto), ensure_ascii=False))
            for child in node.children.values():
                walk(child)
            return
        if isinstance(node, Dataframe):
            out.append(node.value.to_csv(index=False))
            return
        proto = getattr(node, "proto", None)
        if proto is None:
            return
        if getattr(node, "type", "") == "vega_lite_chart":
            out.append(proto.spec)
            for ds in proto.datasets:
                out.append(dataframe_util.convert_arrow_bytes_to_pandas_df(ds.data.data).to_csv(index=False))
            if proto.HasField("data"):
                out.append(dataframe_util.convert_arrow_bytes_to_pandas_df(proto.data.data).to_csv(index=False))
            return
        out.append(json.dumps(MessageToDict(proto), ensure_ascii=False))

    walk(at._tree)
    return "\n".join(out)


def serving_sql(tenant: str | None, sql: str, params: list | None = None) -> pd.DataFrame:
    """Ground truth, straight from a serving file (the tenant's own, or the analyst file)."""
    from pipelines.serving import files as serving

    con = serving.open_tenant(tenant) if tenant else serving.open_analyst()
    try:
        return con.execute(sql, params or []).df()
    finally:
        con.close()


def default_period(tenant: str, analyst: bool = False) -> tuple[date, date]:
    """The consumption page's default: the last 30 days up to the latest consumption day."""
    b = serving_sql(None if analyst else tenant,
                    "SELECT min(usage_date) f, max(usage_date) l FROM marts.fct_material_usage_daily WHERE tenant_id = ?",
                    [tenant]).iloc[0]
    last, first = pd.Timestamp(b.l).date(), pd.Timestamp(b.f).date()
    return max(first, last - timedelta(days=29)), last


@pytest.fixture
def downloads_made(monkeypatch) -> dict:
    """The files behind the page's download buttons: Streamlit makes a file when its button is
    clicked (a deferred callable); recorded here by file id, so a test opens exactly what the
    browser would receive."""
    from streamlit.runtime.media_file_manager import MediaFileManager

    made: dict = {}
    original = MediaFileManager.add_deferred

    def add(self, data_callable, mimetype, coordinates, file_name=None, **kw):
        file_id = original(self, data_callable, mimetype, coordinates, file_name, **kw)
        made[file_id] = (data_callable, file_name)
        return file_id

    monkeypatch.setattr(MediaFileManager, "add_deferred", add)
    return made


def download(at: AppTest, made: dict, key: str) -> tuple[bytes, str]:
    """(bytes, file name) of the download button with this key, as a click would fetch them."""
    [button] = [b for b in at.get("download_button") if b.proto.id.endswith("-" + key)]
    make, name = made[button.proto.deferred_file_id]
    data = make()
    return (data.encode("utf-8") if isinstance(data, str) else bytes(data)), name
