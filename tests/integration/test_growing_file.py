"""A landing file written to while ingestion reads it is loaded whole or not at all, and read
again, whole, once it has settled.

The platform's exporters land files under a hidden name and rename them (README, Ingestion), but
a file can still be appended to or rewritten in place while a run reads it. Such a file must not
be recorded as it was halfway through a write: nothing of it is loaded, nothing is recorded in
the manifest, and the next run reads it again. Two ways: a writer that strikes exactly while the
reader is at work (the real reader, with the write made right after it returns), and a real
writer process that appends line after line while ingestion runs.
"""
from __future__ import annotations

import csv
import subprocess
import sys
import textwrap

import pytest

from pipelines.ingest import load
from pipelines.ingest.load import ingest
from pipelines.warehouse import connect
from tests.conftest import write_csv
from tests.factories import MATERIAL_FIELDS, MOVEMENT_FIELDS, material, movement

GROWING = "acme/movements/growing.csv"


def _rows(n: int, start: int = 0) -> list[list[str]]:
    return [movement(f"G{i:05d}", quantity=str(1 + i % 7)) for i in range(start, start + n)]


def _state(rel: str) -> dict:
    with connect(read_only=True) as con:
        return {
            "records": con.execute("SELECT status, rows_read, rows_loaded, rows_quarantined FROM audit.files "
                                   "WHERE file_path = ?", [rel]).fetchall(),
            "raw": con.execute("SELECT count(*) FROM raw.movements WHERE _source_file = ?", [rel]).fetchone()[0],
            "quarantined": con.execute("SELECT count(*) FROM quarantine.rows WHERE file_path = ?", [rel]).fetchone()[0],
        }


def _other_files_load(landing) -> None:
    write_csv(landing / "acme/materials/m.csv", MATERIAL_FIELDS, [material("MAT-1")])
    write_csv(landing / "acme/movements/steady.csv", MOVEMENT_FIELDS, [movement("S1"), movement("S2")])


@pytest.mark.parametrize("write", ["append", "rewrite", "truncate"])
def test_a_file_written_while_it_is_read_is_not_recorded_then_loaded_whole(mira_home, landing, monkeypatch, write):
    _other_files_load(landing)
    path = write_csv(landing / GROWING, MOVEMENT_FIELDS, _rows(40))
    real = load.read_csv_files

    def reader_then_writer(con, stage, files, contract, rule_sql="NULL"):
        out = real(con, stage, files, contract, rule_sql)
        if any(f.rel == GROWING for _, f in files):     # the writer strikes while the run reads
            if write == "append":
                with open(path, "a", newline="", encoding="utf-8") as fh:
                    csv.writer(fh).writerows(_rows(25, start=40))
            elif write == "rewrite":                      # same size, other content
                text = path.read_text(encoding="utf-8")
                path.write_text(text.replace("G00001,", "G00099,"), encoding="utf-8")
            else:
                path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
        return out

    monkeypatch.setattr(load, "read_csv_files", reader_then_writer)
    warnings: list[str] = []
    report = ingest(warn=warnings.append)
    assert [f.rel for f in report.files] == ["acme/materials/m.csv", "acme/movements/steady.csv"]
    assert _state(GROWING) == {"records": [], "raw": 0, "quarantined": 0}, "a file read mid-write left a trace"
    assert any(w.startswith(f"CHANGED {GROWING}") for w in warnings), warnings
    assert _state("acme/movements/steady.csv")["raw"] == 2, "the other files of the batch still load"

    monkeypatch.setattr(load, "read_csv_files", real)
    if write == "truncate":                                # the writer finishes its file
        write_csv(path, MOVEMENT_FIELDS, _rows(40))
    report = ingest()
    expected = {"append": 65, "rewrite": 40, "truncate": 40}[write]
    assert [f.rel for f in report.files] == [GROWING]
    assert _state(GROWING) == {"records": [("loaded", expected, expected, 0)], "raw": expected, "quarantined": 0}
    assert ingest().files == [], "once loaded whole, it is not read again"


WRITER = textwrap.dedent("""
    import csv, sys, time
    path, header, row, stop = sys.argv[1], sys.argv[2].split(","), sys.argv[3].split(","), sys.argv[4]
    n = 0
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        fh.flush()
        print("started", flush=True)
        while True:
            w.writerow([f"W{n:06d}"] + row[1:])
            fh.flush()
            n += 1
            try:
                open(stop).close()
                break
            except FileNotFoundError:
                time.sleep(0.0005)
    print(n, flush=True)
""")


def test_a_file_appended_to_by_another_process_waits_until_it_settles(mira_home, landing):
    _other_files_load(landing)
    path = landing / GROWING
    stop = mira_home / "stop-writing"
    template = movement("W", quantity="2")
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(path), ",".join(MOVEMENT_FIELDS), ",".join(template),
                               str(stop)], stdout=subprocess.PIPE, text=True)
    try:
        assert writer.stdout.readline().strip() == "started"
        warnings: list[str] = []
        for _ in range(2):                                 # while it grows: never recorded
            ingest(warn=warnings.append)
            assert _state(GROWING) == {"records": [], "raw": 0, "quarantined": 0}
        assert sum(w.startswith(f"CHANGED {GROWING}") for w in warnings) == 2, warnings
    finally:
        stop.touch()
        written = int(writer.communicate(timeout=30)[0].split()[-1])
    report = ingest()                                      # settled: read again, whole
    assert [f.rel for f in report.files] == [GROWING]
    assert _state(GROWING) == {"records": [("loaded", written, written, 0)], "raw": written, "quarantined": 0}
