"""Every bad-input case: the run goes on, bad rows or files land in quarantine with a rule and a
reason, each file reconciles (rows read = loaded + quarantined) and no good row is lost. Each
case runs alone and again among good files of its entity, so the CSV group read
(readers.read_csv_files, one statement for files sharing a header) meets every bad file too."""
from __future__ import annotations

import os
from collections import Counter

import pytest

from pipelines.contracts import load_contracts
from pipelines.ingest.load import ingest
from tests.conftest import q
from tests.corpus.cases import CASES, PROJECT_FIELDS, csv_bytes, project
from tests.factories import MATERIAL_FIELDS, MOVEMENT_FIELDS, material, movement

KEYS = {"movements": "movement_id", "materials": "material_id", "projects": "project_id"}
# What any file of the corpus may hold that a reason must never repeat.
CONTENT_MARKERS = ("u-7f3c2a", "Wall plug", "LOC-1", "PRJ-1", "Renovation", "MAT-1")


def good_files(entity: str, header: list[str]) -> tuple[dict[str, bytes], set[str]]:
    """Two good files of `entity` with `header`: they share the bad CSV's header, so they are
    read in one statement with it."""
    make, base = {"movements": (movement, MOVEMENT_FIELDS), "materials": (material, MATERIAL_FIELDS),
                  "projects": (project, PROJECT_FIELDS)}[entity]
    files, ids = {}, set()
    for n in (1, 2):
        rows = []
        for k in (1, 2):
            gid = f"G{n}{k}" if entity != "materials" else f"MAT-G{n}{k}"
            ids.add(gid)
            values = dict(zip(base, make(gid)))
            rows.append([values[c] for c in header])
        files[f"acme/{entity}/good-{n}.csv"] = csv_bytes(header, rows)
    return files, ids


def check_run(home, report, files: dict[str, bytes], loaded: set[str], rules: dict[str, int],
              rejected: dict[str, str]) -> None:
    # the run went on: every file has its record, the rejected ones whole, the others loaded
    status = {f.rel: f.status for f in report.files}
    assert status == {rel: ("rejected" if rel in rejected else "loaded") for rel in files}
    assert report.quarantined_by_rule == Counter(rules) + Counter(rejected.values())
    # no good row lost, no bad row loaded
    ids = set()
    for entity, key in KEYS.items():
        ids |= {r[0] for r in q(home, f"SELECT {key} FROM raw.{entity}")}
    assert ids == loaded
    # each file reconciles, in the manifest as in the report
    for rel, read, ok, bad, st in q(home, "SELECT file_path, rows_read, rows_loaded, rows_quarantined, status "
                                          "FROM audit.files"):
        assert st == status[rel] and read == ok + bad, rel
    # quarantined rows carry the contract's reason (fixed words, so no row content); files a reason
    # that repeats nothing of the file
    reasons = {r.id: r.reason for c in load_contracts().values() for r in c.rules() + [c.unique_rule]}
    rows = q(home, "SELECT file_path, row_number, rule_id, reason FROM quarantine.rows")
    assert Counter(r[2] for r in rows if r[1] is not None) == Counter(rules)
    assert {r[0]: r[2] for r in rows if r[1] is None} == rejected
    for path, number, rule, reason in rows:
        if number is None:
            assert len(reason) > 20 and not any(m in reason for m in CONTENT_MARKERS), (path, reason)
        else:
            assert reason == reasons[rule]


def write(landing, files: dict[str, bytes]) -> None:
    for rel, content in files.items():
        path = landing / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)


@pytest.mark.parametrize("grouped", [False, True], ids=["alone", "among_good_files"])
@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_input_is_named_kept_and_reconciled(mira_home, landing, name, grouped):
    case = CASES[name]
    files, loaded = dict(case.files), set(case.loaded)
    if grouped:
        good, ids = good_files(case.entity, case.header)
        files.update(good)
        loaded |= ids
    write(landing, files)
    report = ingest()
    check_run(mira_home, report, files, loaded, case.rules, case.rejected)


def test_a_symlinked_tenant_folder_is_not_followed(mira_home, landing, tmp_path):
    """A link in the landing zone could read any file the pipeline can (or another tenant's
    folder under this tenant's name): it is rejected, never followed."""
    outside = tmp_path / "elsewhere" / "movements"
    outside.mkdir(parents=True)
    (outside / "m.csv").write_bytes(csv_bytes(MOVEMENT_FIELDS, [movement("M1", tenant="beta")]))
    os.symlink(outside.parent, landing / "beta")
    (landing / "acme/movements").mkdir(parents=True)
    os.symlink(outside / "m.csv", landing / "acme/movements/linked.csv")
    good = {"acme/movements/good.csv": csv_bytes(MOVEMENT_FIELDS, [movement("G1")])}
    write(landing, good)
    report = ingest()
    files = {**good, "beta": b"", "acme/movements/linked.csv": b""}
    check_run(mira_home, report, files, {"G1"}, {}, {"beta": "file.location", "acme/movements/linked.csv": "file.location"})
    assert outside.joinpath("m.csv").read_bytes().count(b"M1") == 1   # the target is left as it was
