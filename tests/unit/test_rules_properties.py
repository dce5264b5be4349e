"""Property-based tests of the contract checker (hypothesis): any row either loads or is
quarantined with a rule, never both, never neither; a row that loads keeps every value exactly as
written, and a quarantined row breaks the rule it is quarantined under and none before it."""
from __future__ import annotations

import csv
import io
import re
import shutil
import tempfile
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipelines.contracts import ENTITIES, load_contract
from pipelines.ingest.load import _case_rule

_CON = duckdb.connect()
JUNK = ["1,5", "1.234,50", "1e3", "NaN", "Infinity", "-inf", " 3", "3 ", "0x1F", "01/03/2026", "2026-3-1",
        "１２", "++1", ".5", "5.", "—", "null"]


def text(max_size: int = 12) -> st.SearchStrategy[str]:
    return st.text(st.characters(exclude_categories=("Cs",)), max_size=max_size)


def decimal_text() -> st.SearchStrategy[str]:
    """Decimals as exports write them: up to 14 integer digits and 9 decimals, signs, zeros."""
    def fmt(sign, whole, frac):
        return f"{sign}{whole}" + (f".{frac}" if frac else "")
    digits = st.text("0123456789", min_size=1, max_size=14)
    return st.builds(fmt, st.sampled_from(["", "-", "+"]), digits, st.text("0123456789", max_size=9))


def timestamp_text() -> st.SearchStrategy[str]:
    def fmt(moment: datetime, offset_min: int, frac: str, sep: str, with_offset: bool) -> str:
        base = moment.strftime(f"%Y-%m-%d{sep}%H:%M:%S") + (f".{frac}" if frac else "")
        if not with_offset:
            return base
        sign = "+" if offset_min >= 0 else "-"
        return base + f"{sign}{abs(offset_min) // 60:02d}:{abs(offset_min) % 60:02d}"
    return st.builds(fmt, st.datetimes(datetime(1990, 1, 1), datetime(2040, 1, 1)),
                     st.integers(-12 * 60, 14 * 60).map(lambda m: m - m % 15), st.text("0123456789", max_size=9),
                     st.sampled_from(["T", " "]), st.booleans())


def good_value(entity: str, name: str) -> st.SearchStrategy[str]:
    """Values of the field's form (most fit, some break a range, precision or overflow rule)."""
    f = load_contract(entity).field(name)
    if name == "tenant_id":
        good = st.sampled_from(["acme", "acme", "acme", "beta"])
    elif f.allowed:
        good = st.sampled_from(f.allowed)
    elif f.pattern:
        good = st.from_regex(f.pattern, fullmatch=True).filter(lambda s: "\n" not in s)
    elif f.type == "decimal":
        good = decimal_text()
    elif f.type == "integer":
        good = st.integers(-3_000_000_000, 3_000_000_000).map(str)
    elif f.type == "date":
        good = st.dates(date(1990, 1, 1), date(2040, 1, 1)).map(lambda d: d.isoformat())
    elif f.type == "timestamp":
        good = timestamp_text()
    else:
        good = text().filter(bool)
    return good


def bad_value() -> st.SearchStrategy[str | None]:
    return st.one_of(st.none(), st.sampled_from(JUNK), text(), st.just("x" * 1001))


def row(entity: str) -> st.SearchStrategy[dict]:
    """A row of well-formed values with up to two fields spoiled: random rows would almost never
    pass every rule, and the rows that load are the ones whose values must stay exact."""
    names = load_contract(entity).field_names

    def spoil(base: dict, bad: dict) -> dict:
        return {**base, **bad}
    return st.builds(spoil, st.fixed_dictionaries({n: good_value(entity, n) for n in names}),
                     st.dictionaries(st.sampled_from(names), bad_value(), max_size=2))


def _evaluate(entity: str, r: dict) -> tuple[str | None, list[bool | None], dict]:
    """The row's rule (as ingestion computes it), each rule's violation alone, and the typed values."""
    c = load_contract(entity)
    con = _CON.cursor()
    cols = ", ".join(f"NULLIF(CAST(? AS VARCHAR), '') AS \"{n}\"" for n in c.field_names)
    con.execute(f"CREATE OR REPLACE TEMP TABLE t AS SELECT {cols}, 'acme' AS _folder_tenant",
                [r[n] for n in c.field_names])
    checks = ", ".join(f"({rule.violation})" for rule in c.rules())
    typed = ", ".join(f"CAST({expr} AS {sql_type})" for _, sql_type, expr in c.warehouse_columns
                      if not expr.startswith("_pseudo_"))
    got = con.execute(f"SELECT {_case_rule(c)}, [{checks}], {typed} FROM t").fetchone()
    names = [n for n, _, expr in c.warehouse_columns if not expr.startswith("_pseudo_")]
    return got[0], got[1], dict(zip(names, got[2:]))


def _same(field_type: str, sent: str, kept: object) -> bool:
    """Whether the warehouse value is exactly the value sent."""
    if field_type == "decimal":
        return Decimal(sent) == kept
    if field_type == "integer":
        return int(sent) == kept
    if field_type == "date":
        return date.fromisoformat(sent) == kept
    if field_type == "timestamp":
        stamp = sent.replace(" ", "T")
        head, _, rest = stamp.partition(".")
        if rest:   # Python takes at most 6 fractional digits; extra ones must be zeros to load
            frac = re.match(r"\d*", rest).group()
            stamp = head + "." + frac[:6].ljust(6, "0") + rest[len(frac):]
        return datetime.fromisoformat(stamp.replace("Z", "+00:00")) == kept
    return sent == kept


@pytest.mark.parametrize("entity", ENTITIES)
@settings(max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_every_row_loads_exactly_or_is_quarantined_under_its_first_broken_rule(entity, data):
    r = data.draw(row(entity))
    c = load_contract(entity)
    rule, broken, typed = _evaluate(entity, r)
    ids = [x.id for x in c.rules()]
    if rule is None:                                   # loads: no rule broken, every value kept exactly
        assert not any(broken)
        for f in c.fields:
            sent = r[f.name] or None
            name = c.warehouse_name(f.name)
            if sent is None or name not in typed or f.coarsen:
                continue
            assert typed[name] is not None and _same(f.type, sent, typed[name]), (f.name, sent, typed[name])
    else:                                              # quarantined: under the first rule it breaks
        assert rule in ids
        first = ids.index(rule)
        assert broken[first] is True
        assert not any(b is True for b in broken[:first])


# -- through ingestion: one file of generated rows, every row in exactly one place ------------------

@settings(max_examples=25, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=st.lists(row("movements"), min_size=1, max_size=12))
def test_every_row_of_a_file_ends_in_exactly_one_place(rows, monkeypatch_session):
    from pipelines.ingest.load import ingest
    from pipelines.warehouse import open_file
    from tests.conftest import point_at

    c = load_contract("movements")
    home = Path(tempfile.mkdtemp(prefix="mira-prop-"))
    try:
        point_at(monkeypatch_session, home)
        path = home / "landing/acme/movements/m.csv"
        path.parent.mkdir(parents=True)
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(c.field_names)
        w.writerows([[("" if v is None else v.replace("\x00", "")) for v in (r[n] for n in c.field_names)]
                     for r in rows])
        path.write_text(buf.getvalue(), encoding="utf-8")
        report = ingest()
        con = open_file(home / "warehouse.duckdb", read_only=True)
        try:
            loaded = [n for (n,) in con.execute("SELECT _source_row FROM raw.movements").fetchall()]
            quarantined = con.execute("SELECT row_number, rule_id, reason FROM quarantine.rows").fetchall()
        finally:
            con.close()
        (f,) = report.files
        if f.status == "rejected":                    # the file as a whole (e.g. a row that is all empty)
            assert loaded == [] and len(quarantined) == 1 and quarantined[0][0] is None
            assert quarantined[0][1].startswith("file.") and quarantined[0][2]
            return
        numbers = [n for n, _, _ in quarantined]
        assert all(rule and reason for _, rule, reason in quarantined)
        assert sorted(loaded + numbers) == list(range(1, len(rows) + 1))     # never both, never neither
        assert f.rows_read == len(rows) == f.rows_loaded + f.rows_quarantined
    finally:
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="module")
def monkeypatch_session():
    mp = pytest.MonkeyPatch()
    yield mp
    mp.undo()
