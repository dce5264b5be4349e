"""The demo data generator: layout, contracts, defects, determinism, realism.

The contract checks below are an independent, deliberately plain reading of
data_contracts/*.yaml (not the ingestion's code), so a generator bug and an ingestion bug
cannot cancel each other out.
"""
from __future__ import annotations

import hashlib
import re
from datetime import date, datetime
from pathlib import Path

import polars as pl
import pytest
import yaml

from pipelines.generate import RULES, GenerationReport, generate
from pipelines.settings import CONTRACTS_DIR

END = date(2026, 3, 31)
SMALL = dict(tenants=3, days=60, movements_per_day=40, end_date=END)
RATE = 0.05
ENTITIES = ("tenants", "users", "materials", "locations", "projects", "movements")
CONTRACTS = {e: yaml.safe_load((CONTRACTS_DIR / f"{e}.yaml").read_text(encoding="utf-8")) for e in ENTITIES}
FIELDS = {e: CONTRACTS[e]["fields"] for e in ENTITIES}

DECIMAL = r"^-?\d+(\.\d+)?$"
INTEGER = r"^-?\d+$"
DATE = r"^\d{4}-\d{2}-\d{2}$"
TIMESTAMP = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$"


# --------------------------------------------------------------------------- helpers

def read(out: Path, entity: str, fmt: str = "csv") -> pl.DataFrame:
    """All tenants' files of an entity, all columns as strings, plus _tenant (folder) and _file."""
    frames = []
    for path in sorted(out.glob(f"*/{entity}/*.{fmt}")):
        if fmt == "csv":
            df = pl.read_csv(path, infer_schema=False)
        elif fmt == "jsonl":
            df = pl.read_ndjson(path, schema={c: pl.Utf8 for c in FIELDS[entity]})
        else:
            df = pl.read_parquet(path)
        frames.append(df.with_columns(_tenant=pl.lit(path.parent.parent.name), _file=pl.lit(path.name)))
    return pl.concat(frames)


def missing(col: str) -> pl.Expr:
    return pl.col(col).is_null() | (pl.col(col) == "")


def _valid_date(s: str) -> bool:
    try:
        date.fromisoformat(s)
        return True
    except ValueError:
        return False


def _valid_ts(s: str) -> bool:
    try:
        return datetime.fromisoformat(s).utcoffset() is not None
    except ValueError:
        return False


def type_ok(col: str, typ: str) -> pl.Expr:
    c = pl.col(col)
    if typ == "decimal":
        return c.str.contains(DECIMAL)
    if typ == "integer":
        return c.str.contains(INTEGER)
    if typ == "date":
        return c.str.contains(DATE) & c.map_elements(_valid_date, return_dtype=pl.Boolean)
    if typ == "timestamp":
        return c.str.contains(TIMESTAMP) & c.map_elements(_valid_ts, return_dtype=pl.Boolean)
    return pl.lit(True)


def violations(entity: str, df: pl.DataFrame) -> pl.DataFrame:
    """One boolean column per rule id (True = row breaks it), in the order of the rows."""
    checks: dict[str, pl.Expr] = {}
    for name, spec in FIELDS[entity].items():
        rid = f"{entity}.{name}"
        present = ~missing(name)
        req = pl.lit(bool(spec.get("required", False)))
        for other, values in (spec.get("required_when") or {}).items():
            req = req | pl.col(other).is_in(values)
        checks[f"{rid}.required"] = req & ~present
        typ = spec.get("type", "string")
        ok_type = present & type_ok(name, typ).fill_null(False)
        checks[f"{rid}.type"] = present & ~ok_type
        if "allowed" in spec:
            checks[f"{rid}.allowed"] = present & ~pl.col(name).is_in(spec["allowed"])
        if "pattern" in spec:
            checks[f"{rid}.pattern"] = present & ~pl.col(name).str.contains(spec["pattern"])
        if typ in ("decimal", "integer"):
            num = pl.when(ok_type).then(pl.col(name).cast(pl.Float64, strict=False))
            bad = pl.lit(False)
            if "min" in spec:
                bad = bad | (num < spec["min"])
            if "max" in spec:
                bad = bad | (num > spec["max"])
            if spec.get("nonzero"):
                bad = bad | (num == 0)
            if "min_exclusive" in spec:
                exempt = pl.lit(False)
                for other, values in (spec.get("min_exclusive_unless") or {}).items():
                    exempt = exempt | pl.col(other).is_in(values)
                bad = bad | ((num <= spec["min_exclusive"]) & ~exempt)
            checks[f"{rid}.range"] = ok_type & bad.fill_null(False)
        if spec.get("unique"):
            key = ["_tenant", name]
            checks[f"{rid}.unique"] = present & (pl.int_range(pl.len()).over(key) > 0)
        if name == "tenant_id":
            checks[f"{rid}.folder"] = present & (pl.col(name) != pl.col("_tenant"))
    return df.with_row_index("_row").select([expr.fill_null(False).alias(rule) for rule, expr in checks.items()])


def broken_rules(entity: str, df: pl.DataFrame) -> pl.DataFrame:
    """df with `_rules`: the list of rule ids each row breaks."""
    v = violations(entity, df)
    rules = v.columns
    listed = v.select(pl.concat_list([pl.when(pl.col(r)).then(pl.lit(r)) for r in rules])
                      .list.drop_nulls().alias("_rules"))
    return pl.concat([df, listed], how="horizontal")


def digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def qty_milli(col: str = "quantity") -> pl.Expr:
    return (pl.col(col).cast(pl.Float64) * 1000).round(0).cast(pl.Int64)


# --------------------------------------------------------------------------- fixtures

@pytest.fixture(scope="module")
def run(tmp_path_factory) -> tuple[Path, GenerationReport]:
    out = tmp_path_factory.mktemp("landing")
    return out, generate(out, seed=7, defect_rate=RATE, **SMALL)


@pytest.fixture(scope="module")
def clean(tmp_path_factory) -> tuple[Path, GenerationReport]:
    out = tmp_path_factory.mktemp("clean")
    return out, generate(out, seed=11, **SMALL)


@pytest.fixture(scope="module")
def checked(run) -> pl.DataFrame:
    out, _ = run
    return broken_rules("movements", read(out, "movements"))


# --------------------------------------------------------------------------- layout

def test_layout_and_headers_follow_the_contracts(run):
    out, report = run
    assert sorted(p.name for p in out.iterdir()) == sorted(report.tenants)
    assert len(report.tenants) == 3
    for tid in report.tenants:
        assert re.match(r"^[a-z0-9][a-z0-9-]{1,39}$", tid)
        for entity in ENTITIES:
            files = sorted((out / tid / entity).glob("*.csv"))
            assert files, (tid, entity)
            if entity != "movements":
                assert [f.name for f in files] == [f"{entity}.csv"]
            for f in files:
                header = f.read_text(encoding="utf-8").splitlines()[0]
                assert header == ",".join(FIELDS[entity]), f
        months = sorted(f.name for f in (out / tid / "movements").glob("*.csv"))
        assert all(re.match(r"^movements_\d{4}-\d{2}\.csv$", m) for m in months)
        own = pl.read_csv(out / tid / "tenants" / "tenants.csv", infer_schema=False)
        assert own["tenant_id"].to_list() == [tid]
    assert set(report.files) == set(out.rglob("*.csv"))
    for entity in ENTITIES:
        assert read(out, entity).height == report.rows[entity]


def test_reference_entities_satisfy_every_rule(run):
    out, _ = run
    for entity in ("tenants", "users", "materials", "locations", "projects"):
        df = broken_rules(entity, read(out, entity))
        bad = df.filter(pl.col("_rules").list.len() > 0)
        assert bad.is_empty(), (entity, bad.head(5).to_dicts())


# --------------------------------------------------------------------------- defects

def test_defects_add_up_and_each_breaks_exactly_its_rule(run, checked):
    out, report = run
    n = checked.height
    assert sum(report.defects.values()) == round(RATE * n)
    assert set(report.defects) == set(RULES)
    counts = max(report.defects.values()) - min(report.defects.values())
    assert counts <= 1  # the rules take turns
    assert all(len(r) <= 1 for r in checked["_rules"].to_list())
    found = checked.explode("_rules").drop_nulls("_rules").group_by("_rules").len()
    assert dict(found.iter_rows()) == {r: c for r, c in report.defects.items() if c}


def test_defects_are_visible_in_the_files(run, checked):
    _, report = run
    d, df = report.defects, checked
    assert df.filter(pl.col("movement_type") == "borrow").height == d["movements.movement_type.allowed"]
    assert df.filter(pl.col("material_id").is_null()).height == d["movements.material_id.required"]
    assert df.filter(pl.col("quantity").str.contains(",")).height == d["movements.quantity.type"]
    assert df.filter((pl.col("movement_type") == "issue") & pl.col("quantity").str.starts_with("-")).height \
        == d["movements.quantity.range"]
    assert df.filter(~pl.col("occurred_at").str.contains(r"[+-]\d{2}:\d{2}$")).height == d["movements.occurred_at.type"]
    assert df.filter(pl.col("tenant_id") != pl.col("_tenant")).height == d["movements.tenant_id.folder"]
    assert df.filter((pl.col("movement_type") == "receipt") & pl.col("unit_cost").is_null()).height \
        == d["movements.unit_cost.required"]
    assert df.filter(pl.col("unit") == "stuks").height == d["movements.unit.allowed"]
    dups = df.group_by("_tenant", "_file", "movement_id").len().filter(pl.col("len") > 1)
    assert dups["len"].max() == 2
    assert dups.height == d["movements.movement_id.unique"]
    # the copy comes later in the same file than the original, which is untouched
    rows = df.with_row_index("i").join(dups.select("_tenant", "_file", "movement_id"), on=["_tenant", "_file", "movement_id"])
    firsts = rows.sort("i").group_by("_tenant", "_file", "movement_id").agg(pl.col("_rules").first())
    assert all(len(r) == 0 for r in firsts["_rules"].to_list())


def test_no_defects_without_a_rate(clean):
    out, report = clean
    assert report.defects == {}
    df = broken_rules("movements", read(out, "movements"))
    assert df.filter(pl.col("_rules").list.len() > 0).is_empty()


# --------------------------------------------------------------------------- consistency

def test_valid_movements_reference_the_tenants_own_records(run, checked):
    out, _ = run
    ok = checked.filter(pl.col("_rules").list.len() == 0)
    mats = read(out, "materials").select("_tenant", "material_id", pl.col("unit").alias("m_unit"),
                                          pl.col("kind").alias("m_kind"))
    users = read(out, "users").select("_tenant", "user_id")
    locs = read(out, "locations").select("_tenant", "location_id", pl.col("kind").alias("l_kind"))
    projs = read(out, "projects").select("_tenant", "project_id", "started_at", "ended_at")
    j = ok.join(mats, on=["_tenant", "material_id"], how="left")
    assert j["m_unit"].null_count() == 0
    assert (j["unit"] == j["m_unit"]).all()
    assert ok.join(users, on=["_tenant", "user_id"], how="anti").is_empty()
    for col in ("from_location_id", "to_location_id"):
        has = ok.filter(pl.col(col).is_not_null())
        assert has.join(locs, left_on=["_tenant", col], right_on=["_tenant", "location_id"], how="anti").is_empty()
    has = ok.filter(pl.col("project_id").is_not_null())
    assert has.join(projs, on=["_tenant", "project_id"], how="anti").is_empty()
    # tools are checked out and in; consumables and materials are issued
    kinds = j.group_by("movement_type").agg(pl.col("m_kind").unique())
    kinds = {r[0]: set(r[1]) for r in kinds.iter_rows()}
    assert kinds["checkout"] == {"tool"} and kinds["checkin"] == {"tool"}
    assert "tool" not in kinds["issue"] | kinds["transfer"] | kinds["return"]
    # checkouts leave a warehouse, counts are of a warehouse, transfers go warehouse -> van/site
    lk = dict(locs.select(pl.concat_str("_tenant", "location_id"), "l_kind").iter_rows())
    def kinds_of(t, col):
        s = ok.filter(pl.col("movement_type") == t).select(pl.concat_str("_tenant", col))
        return {lk[x] for x in s.to_series().to_list()}
    assert kinds_of("checkout", "from_location_id") == {"warehouse"}
    assert kinds_of("adjustment", "to_location_id") == {"warehouse"}
    assert kinds_of("receipt", "to_location_id") == {"warehouse"}
    assert kinds_of("transfer", "from_location_id") == {"warehouse"}
    assert kinds_of("transfer", "to_location_id") <= {"van", "site"}
    # issues fall within their project's dates
    ip = ok.filter(pl.col("movement_type") == "issue").join(projs, on=["_tenant", "project_id"])
    day = pl.col("occurred_at").str.slice(0, 10)
    assert ip.filter(day < pl.col("started_at")).is_empty()
    assert ip.filter(pl.col("ended_at").is_not_null() & (day > pl.col("ended_at"))).is_empty()


def test_stock_never_goes_negative(clean):
    out, _ = clean
    mv = read(out, "movements").with_columns(q=qty_milli()).with_row_index("seq")
    t = pl.col("movement_type")
    outs = mv.filter(t.is_in(["issue", "transfer", "checkout", "scrap"])).select(
        "seq", "_tenant", "material_id", loc=pl.col("from_location_id"), d=-pl.col("q"))
    ins = mv.filter(t.is_in(["receipt", "return", "transfer", "checkin", "adjustment"])).select(
        "seq", "_tenant", "material_id", loc=pl.col("to_location_id"), d=pl.col("q"))
    ledger = pl.concat([ins, outs]).sort("seq", "d", descending=[False, True])
    level = ledger.with_columns(stock=pl.col("d").cum_sum().over("_tenant", "material_id", "loc"))
    assert level["stock"].min() >= 0


def test_tenants_one_terminated_and_its_data_stops(run):
    out, _ = run
    tenants = read(out, "tenants")
    term = tenants.filter(pl.col("subscription_status") == "terminated")
    assert term.height == 1
    stop = term["terminated_at"][0]
    assert stop < END.isoformat()
    tid = term["tenant_id"][0]
    mv = read(out, "movements").filter(pl.col("_tenant") == tid)
    assert mv["occurred_at"].str.slice(0, 10).max() <= stop
    assert set(tenants["subscription_status"]) <= {"active", "trial", "terminated"}


def test_users_emails_and_ids(run):
    out, _ = run
    users = read(out, "users")
    assert users["user_id"].str.contains(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$").all()
    assert users["email"].str.contains(r"^[a-z0-9-]+\.[a-z0-9-]+\d*@[a-z0-9.-]+\.[a-z]{2}$").all()
    assert users.group_by("_tenant").agg(pl.col("email").n_unique() == pl.len())["email"].all()
    per = users.group_by("_tenant").len()["len"]
    assert per.min() >= 15 and per.max() <= 60
    assert users.filter(pl.col("role") == "technician").height > users.height / 3
    # nobody scans before their account exists, and the last login is not before the last scan
    mv = read(out, "movements").filter(pl.col("occurred_at").str.contains(r"[+-]\d{2}:\d{2}$"))
    span = mv.group_by("_tenant", "user_id").agg(first=pl.col("occurred_at").min(), last=pl.col("occurred_at").max())
    j = span.join(users, on=["_tenant", "user_id"])
    assert (j["created_at"].str.slice(0, 10) < j["first"].str.slice(0, 10)).all()
    assert (j["last_login_at"] >= j["last"]).all()


def test_materials_and_projects_look_real(run):
    out, _ = run
    mats = read(out, "materials")
    per = mats.group_by("_tenant").len()["len"]
    assert per.min() >= 80 and per.max() <= 300
    assert mats["sku"].str.contains(r"^[A-Z]{3}-\d{5}$").all()
    assert mats.group_by("_tenant").agg(pl.col("kind").n_unique())["kind"].min() == 3
    # most articles name their usual supplier (the purchase proposal groups by it), a few none;
    # a tenant buys a category from one or two wholesalers
    known = mats.group_by("_tenant").agg(pl.col("supplier").is_not_null().mean().alias("share"))["share"]
    assert known.min() > 0.8 and known.max() < 1.0
    per_category = mats.drop_nulls("supplier").group_by("_tenant", "category").agg(pl.col("supplier").n_unique())
    assert per_category["supplier"].max() <= 2 and mats["supplier"].drop_nulls().n_unique() > 5
    projs = read(out, "projects")
    assert projs["project_id"].str.contains(r"^PRJ-\d{4}$").all()
    done = projs.filter(pl.col("status").is_in(["completed", "cancelled"]))
    assert (done["ended_at"] >= done["started_at"]).all()
    assert projs.filter(pl.col("status").is_in(["planned", "active"]))["ended_at"].null_count() == \
        projs.filter(pl.col("status").is_in(["planned", "active"])).height
    assert set(projs["status"]) >= {"active", "completed"}
    locs = read(out, "locations")
    assert set(locs["kind"]) == {"warehouse", "van", "site"}
    vans = locs.filter(pl.col("kind") == "van")
    assert vans["name"].str.starts_with("Van ").all()


# --------------------------------------------------------------------------- realism

def test_rhythm_receipts_and_tools(run):
    out, report = run
    mv = read(out, "movements").with_columns(
        day=pl.col("occurred_at").str.slice(0, 10).str.to_date())
    wd = mv.with_columns(weekend=pl.col("day").dt.weekday() >= 6)
    weekend = wd.filter(pl.col("weekend")).height
    assert wd.height - weekend > 10 * weekend
    hours = mv["occurred_at"].str.slice(11, 2).cast(pl.Int32)
    assert hours.min() >= 6 and hours.max() <= 19
    types = mv.group_by("_tenant", "movement_type").len()
    for tid in report.tenants:
        got = dict(types.filter(pl.col("_tenant") == tid).select("movement_type", "len").iter_rows())
        assert got.get("receipt", 0) > 0 and got.get("checkout", 0) > 0 and got.get("issue", 0) > got["checkout"], tid
    assert set(mv["movement_type"]) >= {"receipt", "issue", "return", "transfer", "checkout", "checkin",
                                         "adjustment", "scrap"}
    notes = mv["note"].drop_nulls()
    assert 0 < notes.len() < mv.height / 4
    assert notes.str.contains("Handed to ").any()


def test_weekday_volume_matches_movements_per_day(clean):
    out, report = clean
    mv = read(out, "movements").with_columns(day=pl.col("occurred_at").str.slice(0, 10).str.to_date())
    per_day = mv.filter(pl.col("day").dt.weekday() <= 5).group_by("_tenant", "day").len()["len"].mean()
    assert 25 <= per_day <= 55


# --------------------------------------------------------------------------- determinism & formats

def test_same_seed_same_bytes_other_seed_other_data(run, tmp_path):
    out, _ = run
    again = generate(tmp_path / "again", seed=7, defect_rate=RATE, **SMALL)
    assert digest(out) == digest(tmp_path / "again")
    other = generate(tmp_path / "other", seed=8, defect_rate=RATE, **SMALL)
    assert other.tenants != again.tenants or digest(tmp_path / "other") != digest(out)
    mv_a = read(out, "movements")
    mv_b = read(tmp_path / "other", "movements")
    assert mv_a.height != mv_b.height or mv_a["quantity"].to_list() != mv_b["quantity"].to_list()


@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_other_formats_hold_the_same_rows(clean, tmp_path, fmt):
    out, report = clean
    rep = generate(tmp_path, seed=11, fmt=fmt, **SMALL)
    assert rep.rows == report.rows
    for entity in ENTITIES:
        files = sorted(tmp_path.glob(f"*/{entity}/*.{fmt}"))
        assert files
        df = pl.read_parquet(files[0]) if fmt == "parquet" else pl.read_ndjson(files[0])
        assert df.columns == list(FIELDS[entity])
        assert all(dt in (pl.Utf8, pl.Null) for dt in df.dtypes)
        assert read(tmp_path, entity, fmt).drop("_file").equals(read(out, entity).drop("_file"))
    if fmt == "jsonl":
        line = next(tmp_path.glob("*/movements/*.jsonl")).read_text(encoding="utf-8").splitlines()[0]
        assert '"from_location_id":null' in line or '"to_location_id":null' in line


def test_progress_and_arguments(tmp_path):
    calls = []
    generate(tmp_path / "p", tenants=1, days=10, movements_per_day=5, end_date=END,
             progress=lambda d, t: calls.append((d, t)))
    assert calls[0][0] == 0 and calls[-1][0] == calls[-1][1]
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)
    with pytest.raises(ValueError):
        generate(tmp_path / "x", fmt="xlsx", end_date=END)
    with pytest.raises(ValueError):
        generate(tmp_path / "x", defect_rate=0.9, end_date=END)


def test_single_tenant_and_many_tenants(tmp_path):
    one = generate(tmp_path / "one", tenants=1, days=30, movements_per_day=10, defect_rate=0.1, end_date=END)
    df = read(tmp_path / "one", "movements")
    assert read(tmp_path / "one", "tenants")["subscription_status"].to_list() != ["terminated"]
    assert df.filter(pl.col("tenant_id") != pl.col("_tenant"))["tenant_id"].unique().to_list() in ([], ["other-tenant"])
    assert sum(one.defects.values()) == round(0.1 * df.height)
    many = generate(tmp_path / "many", tenants=40, days=20, movements_per_day=5, end_date=END)
    assert len(set(many.tenants)) == 40
    assert all(re.match(r"^[a-z0-9][a-z0-9-]{1,39}$", t) for t in many.tenants)
    assert read(tmp_path / "many", "tenants").filter(pl.col("subscription_status") == "terminated").height == 1
