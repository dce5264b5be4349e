"""Ingestion on hand-written files: quarantine, reconciliation, idempotence, isolation, bad files;
each on a landing folder and on Blob Storage (tests.conftest.landing_on_both)."""
from __future__ import annotations

import gzip
import json
import os
import shutil

import polars as pl
import pytest

from pipelines.warehouse import open_file
from pipelines.ingest.load import ingest
from tests.conftest import key_for, q, write_csv
from tests.factories import MATERIAL_FIELDS, MOVEMENT_FIELDS, USER_FIELDS, material, movement, user


@pytest.fixture
def landing(landing_on_both):
    """Every test here runs on a landing folder and on a Blob Storage container (Azurite)."""
    return landing_on_both


def test_rows_end_in_exactly_one_place_with_rule_and_reason(mira_home, landing):
    write_csv(landing / "acme/movements/m.csv", MOVEMENT_FIELDS, [
        movement("M1"),
        movement("M2", occurred_at="2026-03-02 08:15:00"),           # no offset
        movement("M3", quantity="-2"),                              # negative issue
        movement("M4", movement_type="adjustment", quantity="-2", from_location_id="", project_id="",
                 to_location_id="LOC-1"),                            # signed adjustment is fine
        movement("M5", movement_type="receipt", to_location_id="LOC-1", from_location_id="", project_id=""),
        movement("M1", quantity="9"),                               # duplicate key in the file
        movement("M6", project_id=""),                              # issue needs a project
        movement("M7", quantity="12,5"),
    ])
    report = ingest()
    assert report.quarantined_by_rule == {
        "movements.occurred_at.type": 1, "movements.quantity.range": 1, "movements.unit_cost.required": 1,
        "movements.movement_id.unique": 1, "movements.project_id.required": 1, "movements.quantity.type": 1,
    }
    assert sorted(r[0] for r in q(mira_home, "SELECT movement_id FROM raw.movements")) == ["M1", "M4"]
    rows = q(mira_home, "SELECT row_number, rule_id, reason FROM quarantine.rows ORDER BY row_number")
    assert [r[0] for r in rows] == [2, 3, 5, 6, 7, 8]
    assert all(len(r[2]) > 15 for r in rows)  # a sentence, not a code
    (read, loaded, quarantined), = q(mira_home, "SELECT rows_read, rows_loaded, rows_quarantined FROM audit.files")
    assert (read, loaded, quarantined) == (8, 2, 6)
    # the first M1 is the one kept
    assert q(mira_home, "SELECT quantity FROM raw.movements WHERE movement_id = 'M1'")[0][0] == 3


def test_personal_data_split_notes_dropped_and_login_coarsened(mira_home, landing):
    write_csv(landing / "acme/users/u.csv", USER_FIELDS, [user("u-7f3c2a", first_name="Anneke", last_name="Zwartjes")])
    write_csv(landing / "acme/movements/m.csv", MOVEMENT_FIELDS, [movement("M1", note="Handed to Anneke")])
    write_csv(landing / "beta/users/u.csv", USER_FIELDS, [user("u-7f3c2a", tenant="beta")])
    ingest()
    (pseudo_user, login_day), = q(mira_home, "SELECT user_pseudonym, last_login_date FROM raw.users "
                                  "WHERE tenant_id = 'acme'")
    (pseudo_mv,), = q(mira_home, "SELECT user_pseudonym FROM raw.movements")
    (pseudo_beta,), = q(mira_home, "SELECT user_pseudonym FROM raw.users WHERE tenant_id = 'beta'")
    assert pseudo_user == pseudo_mv and len(pseudo_user) == 64
    assert pseudo_beta != pseudo_user  # same id, other tenant: unrelated pseudonym
    assert str(login_day) == "2026-03-01"
    cols = {r[0] for r in q(mira_home, "SELECT column_name FROM duckdb_columns() WHERE schema_name = 'raw'")}
    assert not cols & {"user_id", "first_name", "last_name", "email", "note", "last_login_at"}
    vault = open_file(mira_home / "vault.duckdb", read_only=True, key=key_for(mira_home / "vault.duckdb"))
    assert vault.execute("SELECT first_name, user_pseudonym FROM identities WHERE tenant_id='acme'").fetchall() == [
        ("Anneke", pseudo_user)]
    vault.close()
    blob = (mira_home / "warehouse.duckdb").read_bytes()
    for needle in (b"Anneke", b"Zwartjes", b"u-7f3c2a", b"example.test"):
        assert needle not in blob


def test_quarantined_payload_has_no_names_emails_or_user_ids(mira_home, landing):
    write_csv(landing / "acme/users/u.csv", USER_FIELDS, [user("u-55aa", first_name="Griet", role="astronaut")])
    write_csv(landing / "acme/movements/m.csv", MOVEMENT_FIELDS,
              [movement("M1", user_id="u-55aa", quantity="oops", note="call Griet")])
    ingest()
    payloads = [json.loads(p) for (p,) in q(mira_home, "SELECT payload FROM quarantine.rows")]
    assert len(payloads) == 2
    text = json.dumps(payloads)
    assert "Griet" not in text and "u-55aa" not in text and "example.test" not in text
    assert {p.get("quantity") for p in payloads} == {None, "oops"}
    assert {p.get("first_name") for p in payloads} == {None, "[redacted]"}


def test_same_file_twice_renamed_copy_and_corrected_row(mira_home, landing):
    f = write_csv(landing / "acme/movements/a.csv", MOVEMENT_FIELDS, [movement("M1"), movement("M2")])
    first = ingest()
    assert first.rows_loaded == 2
    again = ingest()
    assert again.files == []  # nothing new
    shutil.copy(f, landing / "acme/movements/a_copy.csv")
    copy = ingest()
    assert [r.status for r in copy.files] == ["duplicate"]
    assert q(mira_home, "SELECT count(*) FROM raw.movements")[0][0] == 2
    write_csv(landing / "acme/movements/b.csv", MOVEMENT_FIELDS, [movement("M2", quantity="7"), movement("M1")])
    ingest()
    assert q(mira_home, "SELECT movement_id, quantity FROM raw.movements ORDER BY 1") == [("M1", 3), ("M2", 7)]
    # the unchanged M1 was not rewritten: it still points at its first file
    assert q(mira_home, "SELECT _source_file FROM raw.movements WHERE movement_id='M1'")[0][0] == "acme/movements/a.csv"


def test_other_tenants_rows_never_written(mira_home, landing):
    write_csv(landing / "acme/movements/m.csv", MOVEMENT_FIELDS, [movement("M1"), movement("M2", tenant="beta")])
    write_csv(landing / "acme/materials/x.csv", MATERIAL_FIELDS, [material("MAT-1", tenant="beta")])
    report = ingest()
    assert report.quarantined_by_rule == {"movements.tenant_id.folder": 1, "materials.tenant_id.folder": 1}
    assert q(mira_home, "SELECT DISTINCT tenant_id FROM raw.movements") == [("acme",)]
    assert q(mira_home, "SELECT count(*) FROM raw.materials") == [(0,)]


def test_late_material_is_kept_and_resolves(mira_home, landing):
    write_csv(landing / "acme/movements/m.csv", MOVEMENT_FIELDS, [movement("M1", material_id="MAT-LATE")])
    ingest()
    assert q(mira_home, "SELECT material_id FROM raw.movements") == [("MAT-LATE",)]
    write_csv(landing / "acme/materials/c.csv", MATERIAL_FIELDS, [material("MAT-LATE")])
    ingest()
    assert q(mira_home, "SELECT m.name FROM raw.movements mv JOIN raw.materials m USING (tenant_id, material_id)") == [
        ("Wall plug 8x40 mm",)]


def test_jsonl_and_parquet_read_like_csv(mira_home, landing):
    rows = [dict(zip(MOVEMENT_FIELDS, movement(f"J{i}"))) for i in range(3)]
    (landing / "acme/movements").mkdir(parents=True)
    (landing / "acme/movements/m.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    pl.DataFrame([dict(zip(MOVEMENT_FIELDS, movement(f"P{i}", quantity="x" if i == 0 else "2"))) for i in range(3)]
                 ).write_parquet(landing / "acme/movements/m.parquet")
    report = ingest()
    assert report.rows_loaded == 5 and report.quarantined_by_rule == {"movements.quantity.type": 1}


GOOD = ",".join(MOVEMENT_FIELDS) + "\n" + ",".join(movement("M1")) + "\n"
BAD_FILES = {
    "empty.csv": (b"", "file.empty"),
    "header_only.csv": ((",".join(MOVEMENT_FIELDS) + "\n").encode(), "file.no_rows"),
    "truncated.csv": ((GOOD + ",".join(movement("M2"))[:40]).encode(), "file.malformed"),
    "latin1.csv": ((GOOD + ",".join(movement("M3", note="caf\xe9 b\xe9ton"))).encode("latin-1"), "file.encoding"),
    "semicolon.csv": (GOOD.replace(",", ";").encode(), "file.delimiter"),
    "missing_column.csv": (GOOD.replace(",note", "").rsplit(",", 1)[0].encode() + b"\n", "file.missing_column"),
    "unknown_column.csv": (GOOD.replace("note\n", "note,colour\n").replace(",\n", ",,red\n", 1).encode(),
                           "file.unknown_column"),
    "garbage.csv": (gzip.compress(b"not a csv at all" * 50), "file.encoding"),
    "garbage.parquet": (b"PAR1 this is not parquet", "file.malformed"),
    "broken.jsonl": (b'{"movement_id": "M1", "tenant_id": "acme"}\n{"movement_id": ', "file.malformed"),
    "notes.txt": (b"hello", "file.format"),
}


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_bad_file_is_quarantined_whole_and_the_run_goes_on(mira_home, landing, name):
    content, rule = BAD_FILES[name]
    (landing / "acme/movements").mkdir(parents=True)
    (landing / "acme/movements" / name).write_bytes(content)
    write_csv(landing / "acme/movements/zz_good.csv", MOVEMENT_FIELDS, [movement("G1")])
    messages: list[str] = []
    report = ingest(log=messages.append)
    status = {f.rel.rsplit("/", 1)[1]: f for f in report.files}
    assert status[name].status == "rejected" and status[name].rows_loaded == 0
    assert status["zz_good.csv"].status == "loaded"
    assert q(mira_home, "SELECT rule_id FROM quarantine.rows WHERE file_path LIKE ?", [f"%/{name}"]) == [(rule,)]
    assert q(mira_home, "SELECT movement_id FROM raw.movements") == [("G1",)]
    assert any(name in m and "REJECTED" in m for m in messages)
    # the reason is words, and never quotes the file's content
    (reason,), = q(mira_home, "SELECT reason FROM quarantine.rows WHERE file_path LIKE ?", [f"%/{name}"])
    assert "béton" not in reason and "M2" not in reason and len(reason) > 10


def test_wrong_folder_is_rejected(mira_home, landing):
    write_csv(landing / "acme/stock/m.csv", MOVEMENT_FIELDS, [movement("M1")])
    write_csv(landing / "Not A Tenant/movements/m.csv", MOVEMENT_FIELDS, [movement("M1")])
    report = ingest()
    assert sorted(f.status for f in report.files) == ["rejected", "rejected"]
    assert report.quarantined_by_rule == {"file.location": 2}


def test_hidden_files_wait_until_renamed(mira_home, landing):
    write_csv(landing / "acme/movements/.upload.csv", MOVEMENT_FIELDS, [movement("M1")])
    assert ingest().files == []
    os.rename(landing / "acme/movements/.upload.csv", landing / "acme/movements/upload.csv")
    assert ingest().rows_loaded == 1


def test_failed_batch_leaves_nothing_half_written(mira_home, landing, monkeypatch):
    write_csv(landing / "acme/movements/m.csv", MOVEMENT_FIELDS, [movement("M1"), movement("M2", quantity="x")])
    write_csv(landing / "acme/users/u.csv", USER_FIELDS, [user("u-7f3c2a")])
    import pipelines.ingest.load as load

    def boom(*a, **k):
        raise RuntimeError("disk full")

    with monkeypatch.context() as m:
        m.setattr(load, "_record_file", boom)  # fails after the MERGE, inside the transaction
        with pytest.raises(RuntimeError):
            ingest()
    assert q(mira_home, "SELECT count(*) FROM raw.movements") == [(0,)]
    assert q(mira_home, "SELECT count(*) FROM raw.users") == [(0,)]
    assert q(mira_home, "SELECT count(*) FROM quarantine.rows") == [(0,)]
    # identities are written before the warehouse, so a failure never strands a pseudonym
    vault = open_file(mira_home / "vault.duckdb", read_only=True, key=key_for(mira_home / "vault.duckdb"))
    assert vault.execute("SELECT count(*) FROM identities").fetchone()[0] == 1
    vault.close()
    report = ingest()
    assert report.rows_loaded == 2 and report.rows_quarantined == 1


def test_row_numbers_count_within_each_file_of_a_batch(mira_home, landing):
    write_csv(landing / "acme/movements/a.csv", MOVEMENT_FIELDS, [movement(f"A{i}") for i in range(5)]
              + [movement("A-bad", quantity="x")])
    write_csv(landing / "acme/movements/b.csv", MOVEMENT_FIELDS, [movement("B0"), movement("B-bad", unit="stuks")]
              + [movement(f"B{i}") for i in range(1, 4)] + [movement("B0")])
    ingest()
    assert q(mira_home, "SELECT file_path, row_number, rule_id FROM quarantine.rows ORDER BY 1, 2") == [
        ("acme/movements/a.csv", 6, "movements.quantity.type"),
        ("acme/movements/b.csv", 2, "movements.unit.allowed"),
        ("acme/movements/b.csv", 6, "movements.movement_id.unique"),
    ]
    assert q(mira_home, "SELECT _source_file, _source_row FROM raw.movements WHERE movement_id = 'B3'") == [
        ("acme/movements/b.csv", 5)]


def test_within_one_run_the_later_file_wins(mira_home, landing):
    write_csv(landing / "acme/movements/2026-03.csv", MOVEMENT_FIELDS, [movement("M1", quantity="3")])
    write_csv(landing / "acme/movements/2026-03_fix.csv", MOVEMENT_FIELDS, [movement("M1", quantity="5")])
    report = ingest()
    assert [f.rows_loaded for f in report.files] == [1, 1]  # both accepted, reconciled per file
    assert q(mira_home, "SELECT quantity, _source_file FROM raw.movements") == [
        (5, "acme/movements/2026-03_fix.csv")]


def test_csv_with_a_utf8_bom_and_columns_in_another_order(mira_home, landing):
    order = list(reversed(MOVEMENT_FIELDS))
    row = dict(zip(MOVEMENT_FIELDS, movement("M1", note="café")))
    write_csv(landing / "acme/movements/m.csv", order, [[row[c] for c in order]], encoding="utf-8-sig")
    report = ingest()
    assert report.rows_loaded == 1 and not report.quarantined_by_rule
    assert q(mira_home, "SELECT movement_id, quantity FROM raw.movements") == [("M1", 3)]


def test_many_small_files_are_read_in_one_pass_with_per_file_numbers(mira_home, landing, monkeypatch):
    """Files of one entity sharing a header are read by one statement, yet every row keeps its
    own file and line, each file its own manifest record and reconciliation; a broken file in
    the group is found by reading the group again file by file, and only it is rejected."""
    from pipelines.ingest import readers

    groups = []
    real_group = readers._read_group
    monkeypatch.setattr(readers, "_read_group",
                        lambda con, stage, cols, members, *a: groups.append(len(members)) or real_group(
                            con, stage, cols, members, *a))
    for i in range(12):   # a bad row at line i % 4 + 1 of every file
        rows = [movement(f"F{i}-{j}") for j in range(4)]
        rows[i % 4] = movement(f"F{i}-{i % 4}", quantity="many")
        write_csv(landing / f"acme/movements/day-{i:02d}.csv", MOVEMENT_FIELDS, rows)
    report = ingest()
    assert groups == [12]                         # one statement for the twelve files
    assert report.quarantined_by_rule == {"movements.quantity.type": 12}
    numbers = q(mira_home, "SELECT file_path, row_number FROM quarantine.rows ORDER BY file_path")
    assert numbers == [(f"acme/movements/day-{i:02d}.csv", i % 4 + 1) for i in range(12)]
    lines = q(mira_home, "SELECT _source_file, _source_row, movement_id FROM raw.movements")
    assert all(mid == f"F{int(f[-6:-4])}-{row - 1}" for f, row, mid in lines) and len(lines) == 36
    assert q(mira_home, "SELECT count(*), sum(rows_read), sum(rows_loaded), sum(rows_quarantined) FROM audit.files "
                        "WHERE status = 'loaded'") == [(12, 48, 36, 12)]

    # a truncated file among good ones: the group is read again file by file
    groups.clear()
    for i in range(3):
        write_csv(landing / f"acme/movements/next-{i}.csv", MOVEMENT_FIELDS, [movement(f"N{i}")])
    (landing / "acme/movements/next-1.csv").write_text(
        ",".join(MOVEMENT_FIELDS) + "\n" + "N1,acme,2026-03-01T08:00:00+01:00,\"unclosed\n", encoding="utf-8")
    report = ingest()
    assert groups == [3]
    assert {f.rel: f.status for f in report.files} == {
        "acme/movements/next-0.csv": "loaded", "acme/movements/next-1.csv": "rejected",
        "acme/movements/next-2.csv": "loaded"}
    assert q(mira_home, "SELECT count(*) FROM raw.movements WHERE movement_id IN ('N0', 'N2')") == [(2,)]


def test_a_field_the_contract_gained_is_added_to_a_warehouse_from_before(mira_home, landing):
    """materials.supplier arrived after warehouses existed: the raw table gets the column (in the
    contract's order, so the positional load still fits), rows already loaded keep their values
    with no supplier, and a file that sends the field loads it."""
    from pipelines.contracts import load_contract
    from pipelines.ingest.schema import ensure_schema

    write_csv(landing / "acme/materials/old.csv", MATERIAL_FIELDS, [material("MAT-1", name="Old plug")])
    ingest()
    con = open_file(mira_home / "warehouse.duckdb")
    try:   # the table as it was before the contract had the field
        con.execute("CREATE OR REPLACE TABLE raw.materials AS SELECT * EXCLUDE (supplier) FROM raw.materials")
        ensure_schema(con)
        names = [r[0] for r in con.execute("SELECT column_name FROM duckdb_columns() WHERE schema_name = 'raw' "
                                           "AND table_name = 'materials' ORDER BY column_index").fetchall()]
    finally:
        con.close()
    contract = [n for n, _, _ in load_contract("materials").warehouse_columns]
    assert names[:len(contract)] == contract and names[len(contract):][0] == "_source_file"
    write_csv(landing / "acme/materials/new.csv", MATERIAL_FIELDS,
              [material("MAT-2", supplier="Sanitair Dewulf"), material("MAT-1", name="Old plug", supplier="")])
    report = ingest()
    assert report.rows_loaded == 2 and not report.quarantined_by_rule
    assert q(mira_home, "SELECT material_id, name, supplier FROM raw.materials ORDER BY 1") == [
        ("MAT-1", "Old plug", None), ("MAT-2", "Wall plug 8x40 mm", "Sanitair Dewulf")]
