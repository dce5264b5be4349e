"""The bad-input corpus: landing files as real exports get them wrong, made here byte for byte.

Each case is a few files under one landing root and what ingestion must make of them: the rows
that load (by id), the rows quarantined (by rule) and the files rejected whole (by rule). The
values are made up like tests/factories.py's (no real names or emails). Files are built in code
rather than committed so that every odd byte (a BOM, a lone carriage return, an escape
character) is visible in review.
"""
from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.parquet as pq

from tests.factories import MATERIAL_FIELDS, MOVEMENT_FIELDS, material, movement

PROJECT_FIELDS = ["project_id", "tenant_id", "name", "cost_centre", "status", "started_at", "ended_at"]
ONE_MB = 1 << 20


@dataclass
class Case:
    name: str
    entity: str                                 # the entity good files join in the grouped variant
    header: list[str]                           # the header those good files share with the case's CSV
    files: dict[str, bytes]                     # path under the landing root -> content
    loaded: set[str]                            # ids (the entity key) that must reach raw.<entity>
    rules: dict[str, int] = field(default_factory=dict)       # row rule -> rows quarantined
    rejected: dict[str, str] = field(default_factory=dict)    # file -> file rule


def csv_bytes(header: list[str], rows: list[list[str]], newline: str = "\n", bom: bool = False) -> bytes:
    buf = io.StringIO()
    csv.writer(buf, lineterminator=newline).writerows([header, *rows])
    return (b"\xef\xbb\xbf" if bom else b"") + buf.getvalue().encode("utf-8")


def reorder(header: list[str], row: list[str], base: list[str]) -> list[str]:
    values = dict(zip(base, row))
    return [values[c] for c in header]


def project(pid: str, **over) -> list[str]:
    row = dict(project_id=pid, tenant_id="acme", name="Renovation school wing", cost_centre="CC-10",
               status="active", started_at="2026-02-01", ended_at="")
    row.update(over)
    return [row[f] for f in PROJECT_FIELDS]


def receipt(mid: str, **over) -> list[str]:
    return movement(mid, **{**dict(movement_type="receipt", from_location_id="", project_id="",
                                   to_location_id="LOC-1", unit_cost="2.5"), **over})


def jsonl(rows: list[dict | str]) -> bytes:
    return "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows).encode()


def parquet_bytes(table: pa.Table) -> bytes:
    buf = io.BytesIO()
    pq.write_table(table, buf)
    return buf.getvalue()


def _movement_table(ids: list[str], **types: pa.Array) -> pa.Table:
    cols = {f: pa.array([dict(zip(MOVEMENT_FIELDS, movement(i)))[f] or None for i in ids], pa.string())
            for f in MOVEMENT_FIELDS}
    cols.update(types)
    return pa.table(cols)


def _cases() -> list[Case]:
    mv, mat = MOVEMENT_FIELDS, MATERIAL_FIELDS
    cost_last = [c for c in mv if c != "unit_cost"] + ["unit_cost"]       # a number ends every line
    out = [
        Case("utf8_bom", "movements", mv,
             {"acme/movements/bom.csv": csv_bytes(mv, [movement("M1"), movement("M2")], bom=True)}, {"M1", "M2"}),
        Case("crlf", "movements", cost_last,
             {"acme/movements/crlf.csv": csv_bytes(cost_last, [reorder(cost_last, receipt("M1"), mv),
                                                               reorder(cost_last, receipt("M2"), mv)], "\r\n")},
             {"M1", "M2"}),
        Case("mixed_line_endings", "movements", cost_last,
             {"acme/movements/mixed.csv": (",".join(cost_last) + "\r\n"
                                           + ",".join(reorder(cost_last, receipt("M1"), mv)) + "\n"
                                           + ",".join(reorder(cost_last, receipt("M2"), mv)) + "\r\n"
                                           + ",".join(reorder(cost_last, receipt("M3"), mv)) + "\n").encode()},
             {"M1", "M2", "M3"}),
        Case("embedded_newlines", "movements", mv,
             {"acme/movements/multiline.csv": csv_bytes(mv, [
                 movement("M1", note="first line\nsecond line"), movement("M2", note="a\r\nb"),
                 movement("M3", quantity="x")])},
             {"M1", "M2"}, {"movements.quantity.type": 1}),
        Case("locale_and_scientific_numbers", "movements", mv,
             {"acme/movements/locale.csv": csv_bytes(mv, [
                 movement("M1"), movement("M2", quantity="1,5"), movement("M3", quantity="1.234,50"),
                 movement("M4", quantity="1 234"), movement("M5", quantity="1e3"), movement("M6", quantity="1.5E-2"),
                 receipt("M7", unit_cost="0,25")])},
             {"M1"}, {"movements.quantity.type": 5, "movements.unit_cost.type": 1}),
        Case("dates_without_iso_or_offset", "movements", mv,
             {"acme/movements/dates.csv": csv_bytes(mv, [
                 movement("M1"), movement("M2", occurred_at="2026-03-01T08:15:00"),
                 movement("M3", occurred_at="01/03/2026 08:15"), movement("M4", occurred_at="01/03/2026"),
                 movement("M5", occurred_at="2026-03-01T08:15:00.1234567+01:00"),
                 movement("M6", occurred_at="2026-03-01T08:15:00.1234560+01:00")])},
             {"M1", "M6"}, {"movements.occurred_at.type": 4}),
        Case("project_dates_dd_mm_yyyy", "projects", PROJECT_FIELDS,
             {"acme/projects/p.csv": csv_bytes(PROJECT_FIELDS, [
                 project("P1"), project("P2", started_at="01/02/2026"), project("P3", started_at="2026-2-1"),
                 project("P4", status="completed", ended_at="31.03.2026")])},
             {"P1"}, {"projects.started_at.type": 2, "projects.ended_at.type": 1}),
        Case("nan_and_infinity", "movements", mv,
             {"acme/movements/nan.csv": csv_bytes(mv, [
                 movement("M1"), movement("M2", quantity="NaN"), movement("M3", quantity="Infinity"),
                 movement("M4", quantity="-Infinity"), movement("M5", quantity="inf"),
                 receipt("M6", unit_cost="nan")])},
             {"M1"}, {"movements.quantity.type": 4, "movements.unit_cost.type": 1}),
        Case("negative_where_forbidden", "movements", mv,
             {"acme/movements/neg.csv": csv_bytes(mv, [
                 movement("M1", quantity="-3"), receipt("M2", quantity="-1"), receipt("M3", unit_cost="-0.5"),
                 movement("M4", movement_type="adjustment", quantity="-3", from_location_id="", project_id="",
                          to_location_id="LOC-1")]),
              "acme/materials/neg.csv": csv_bytes(mat, [material("MAT-1", min_stock="-1"), material("MAT-2")])},
             {"M4", "MAT-2"}, {"movements.quantity.range": 2, "movements.unit_cost.range": 1,
                               "materials.min_stock.range": 1}),
        Case("one_megabyte_field", "materials", mat,
             {"acme/materials/huge.csv": csv_bytes(mat, [material("MAT-1"), material("MAT-2", name="x" * ONE_MB),
                                                         material("MAT-3")]),
              "acme/movements/huge_note.csv": csv_bytes(mv, [movement("M1", note="y" * ONE_MB)])},
             {"MAT-1", "MAT-3", "M1"}, {"materials.name.length": 1}),
        Case("control_characters", "materials", mat,
             {"acme/materials/ctrl.csv": csv_bytes(mat, [
                 material("MAT-1", name="Cable tie\tblack"), material("MAT-2", name="Wall plug \x1b[31m8 mm"),
                 material("MAT-3", name="Screw\x07"), material("MAT-4", sku="SKU\x0b4"),
                 material("MAT-5", category="fasteners\x85")])},
             {"MAT-1"}, {"materials.name.type": 2, "materials.sku.type": 1, "materials.category.type": 1}),
        Case("formula_cells", "materials", mat,
             {"acme/materials/formula.csv": csv_bytes(mat, [
                 material("MAT-1", name='=HYPERLINK("http://example.test","x")'), material("MAT-2", name="+SUM(1)"),
                 material("MAT-3", name="-2+3"), material("MAT-4", name="@cmd")])},
             {"MAT-1", "MAT-2", "MAT-3", "MAT-4"}),
        Case("duplicate_key_in_one_file", "movements", mv,
             {"acme/movements/dup.csv": csv_bytes(mv, [movement("M1", quantity="3"), movement("M2"),
                                                       movement("M1", quantity="4")])},
             {"M1", "M2"}, {"movements.movement_id.unique": 1}),
        Case("duplicate_key_across_files", "movements", mv,
             {"acme/movements/a.csv": csv_bytes(mv, [movement("M1", quantity="3")]),
              "acme/movements/b.csv": csv_bytes(mv, [movement("M1", quantity="5")])},
             {"M1"}),
        Case("jsonl_nested_objects", "movements", mv,
             {"acme/movements/nested.jsonl": jsonl([
                 dict(zip(mv, movement("J1"))),
                 {**dict(zip(mv, movement("J2"))), "material_id": {"id": "MAT-1"}},
                 {**dict(zip(mv, movement("J3"))), "quantity": {"value": 3}},
                 {**dict(zip(mv, movement("J4"))), "user_id": ["u-7f3c2a"]},
                 {**dict(zip(mv, movement("J5"))), "quantity": 2.5},
                 '{"movement_id": "J6", "tenant_id": "acme", "occurred_at": "2026-03-02T08:15:00+01:00", '
                 '"movement_type": "issue", "material_id": "MAT-1", "quantity": 123456789012.123456, "unit": "pcs", '
                 '"from_location_id": "LOC-1", "project_id": "PRJ-1", "user_id": "u-7f3c2a"}'])},
             {"J1", "J5"}, {"movements.material_id.type": 1, "movements.quantity.type": 1,
                            "movements.user_id.type": 1, "movements.quantity.precision": 1}),
        Case("jsonl_trailing_partial_line", "movements", mv,
             {"acme/movements/partial.jsonl": jsonl([dict(zip(mv, movement("J1")))])
              + b'{"movement_id": "J2", "tenant_id": "ac'},
             set(), rejected={"acme/movements/partial.jsonl": "file.malformed"}),
        Case("parquet_wrong_column_types", "movements", mv,
             {"acme/movements/double.parquet": parquet_bytes(_movement_table(["Q1"], quantity=pa.array([3.0]))),
              "acme/movements/naive.parquet": parquet_bytes(_movement_table(
                  ["Q2"], occurred_at=pa.array([0], pa.timestamp("us")))),
              "acme/movements/nested.parquet": parquet_bytes(_movement_table(
                  ["Q3"], unit=pa.array([["pcs"]], pa.list_(pa.string())))),
              "acme/movements/typed.parquet": parquet_bytes(_movement_table(
                  ["Q4"], quantity=pa.array([3], pa.int64()),
                  occurred_at=pa.array([1772349300000000], pa.timestamp("us", tz="UTC"))))},
             {"Q4"}, rejected={"acme/movements/double.parquet": "file.column_type",
                               "acme/movements/naive.parquet": "file.column_type",
                               "acme/movements/nested.parquet": "file.column_type"}),
        Case("csv_named_parquet", "movements", mv,
             {"acme/movements/export.parquet": csv_bytes(mv, [movement("M1")])},
             set(), rejected={"acme/movements/export.parquet": "file.format"}),
        Case("deeper_subfolder", "movements", mv,
             {"acme/movements/2026/03/m.csv": csv_bytes(mv, [movement("M1")])},
             set(), rejected={"acme/movements/2026/03/m.csv": "file.location"}),
        Case("tenant_folder_names", "movements", mv,
             {"acme corp/movements/m.csv": csv_bytes(mv, [movement("M1", tenant="acme corp")]),
              "..acme/movements/m.csv": csv_bytes(mv, [movement("M2", tenant="..acme")])},
             set(), rejected={"acme corp/movements/m.csv": "file.location", "..acme/movements/m.csv": "file.location"}),
    ]
    return out


CASES = {c.name: c for c in _cases()}
