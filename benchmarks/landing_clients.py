"""Which client reads landing blobs: azure-storage-blob or DuckDB's `azure` extension.

Against a local Azurite (tests/azurite.py), each client lists 200 small CSV blobs under a prefix
and reads every one of them, then reads one ~50 MB CSV blob; medians of --repeat runs. "Read"
means what ingestion needs: every byte in hand and its SHA-256 (azure-storage-blob: streamed to
a file under a temporary folder, which the readers then use unchanged, hashed on the way;
DuckDB: `sha256(content)` over `read_blob`, the bytes in the engine). Then pipelines.ingest.load.ingest() of 200 small movement files, from a folder and
from Azurite (the chosen client), each on a fresh home. Run from the repository root: `.venv/bin/python -m benchmarks.landing_clients` (DuckDB's extension: `pip install -c constraints.txt -e '.[bench]'`).
"""
from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import tempfile
import time
from pathlib import Path

from tests.azurite import azurite

CONTAINER = "landing"
HEADER = "movement_id,tenant_id,occurred_at,quantity,note\n"


def _csv(rows: int, start: int = 0) -> bytes:
    return (HEADER + "".join(f"M{i},acme,2026-03-01T08:{i % 60:02d}:00+01:00,{i % 7 + 1},some text here\n"
                             for i in range(start, start + rows))).encode()


def upload(container, small: int) -> int:
    for i in range(small):
        container.upload_blob(f"bench/acme/movements/day-{i:03d}.csv", _csv(20, i * 20), overwrite=True)
    big = b""
    n = 0
    while len(big) < 50 * 1024 * 1024:
        big += _csv(100_000, n)
        n += 100_000
    container.upload_blob("big/acme/movements/year.csv", big, overwrite=True, max_concurrency=2)
    return len(big)


def sdk_small(container, folder: Path) -> tuple[float, float]:
    t0 = time.perf_counter()
    blobs = [b for b in container.list_blobs(name_starts_with="bench/")]
    t1 = time.perf_counter()
    for b in blobs:
        target = folder / b.name
        target.parent.mkdir(parents=True, exist_ok=True)
        _download(container.download_blob(b.name, etag=b.etag, match_condition=_unmodified()), target)
    return t1 - t0, time.perf_counter() - t1


def _download(stream, target: Path) -> str:
    """Write the blob to target and hash it on the way (what ingestion does)."""
    h = hashlib.sha256()
    with open(target, "wb") as fh:
        for chunk in stream.chunks():
            h.update(chunk)
            fh.write(chunk)
    return h.hexdigest()


def sdk_big(container, folder: Path) -> float:
    t0 = time.perf_counter()
    _download(container.download_blob("big/acme/movements/year.csv"), folder / "year.csv")
    return time.perf_counter() - t0


def _unmodified():
    from azure.core import MatchConditions

    return MatchConditions.IfNotModified


def duck(conn_str: str):
    import duckdb

    from pipelines.warehouse import extension_directory

    con = duckdb.connect()
    con.execute(f"SET extension_directory = '{extension_directory()}'")
    con.execute("SET autoinstall_known_extensions = false")
    con.execute("LOAD azure")
    con.execute("CREATE SECRET landing (TYPE AZURE, CONNECTION_STRING ?)".replace("?", "'" + conn_str + "'"))
    return con


def duck_small(con) -> tuple[float, float]:
    t0 = time.perf_counter()
    names = [r[0] for r in con.execute(f"SELECT file FROM glob('az://{CONTAINER}/bench/**')").fetchall()]
    t1 = time.perf_counter()
    got = con.execute("SELECT count(sha256(content)) FROM read_blob(?)", [names]).fetchone()[0]
    assert got == len(names)
    return t1 - t0, time.perf_counter() - t1


def duck_big(con) -> float:
    t0 = time.perf_counter()
    con.execute(f"SELECT sha256(content) FROM read_blob('az://{CONTAINER}/big/acme/movements/year.csv')").fetchone()
    return time.perf_counter() - t0


def ingest_both(server, small: int, repeat: int) -> dict[str, list[float]]:
    """pipelines.ingest.load.ingest() of the same `small` movement files on a fresh home, from a
    folder and from a container: what the choice costs a whole ingest."""
    import csv
    import io

    from pipelines.ingest.load import ingest
    from tests.factories import MOVEMENT_FIELDS, movement

    out: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "landing"
        container = server.container("ingest")
        for i in range(small):
            buf = io.StringIO()
            w = csv.writer(buf)
            w.writerow(MOVEMENT_FIELDS)
            w.writerows(movement(f"M{i}-{j}") for j in range(20))
            (folder / "acme/movements").mkdir(parents=True, exist_ok=True)
            (folder / f"acme/movements/day-{i:03d}.csv").write_text(buf.getvalue())
            container.upload_blob(f"landing/acme/movements/day-{i:03d}.csv", buf.getvalue().encode(), overwrite=True)
        os.environ.setdefault("MIRA_MASTER_KEY", "benchmark-only-master-key-" + "0" * 40)
        os.environ["MIRA_AZURE_CONNECTION_STRING"] = server.connection_string
        for r in range(repeat):
            for kind, landing in (("folder", str(folder)), ("azurite", "az://ingest/landing")):
                os.environ["MIRA_HOME"] = f"{tmp}/home-{kind}-{r}"
                t0 = time.perf_counter()
                report = ingest(landing)
                out.setdefault(f"ingest() from a {kind}", []).append(time.perf_counter() - t0)
                assert report.rows_loaded == small * 20
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--small", type=int, default=200)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    with azurite() as server:
        container = server.container(CONTAINER)
        size = upload(container, args.small)
        con = duck(server.connection_string)
        results: dict[str, list[float]] = {}
        for _ in range(args.repeat):
            with tempfile.TemporaryDirectory() as tmp:
                lst, read = sdk_small(container, Path(tmp))
                results.setdefault("azure-storage-blob list", []).append(lst)
                results.setdefault("azure-storage-blob read small", []).append(read)
                results.setdefault("azure-storage-blob read 50 MB", []).append(sdk_big(container, Path(tmp)))
            lst, read = duck_small(con)
            results.setdefault("duckdb azure list", []).append(lst)
            results.setdefault("duckdb azure read small", []).append(read)
            results.setdefault("duckdb azure read 50 MB", []).append(duck_big(con))
        results.update(ingest_both(server, args.small, args.repeat))
    print(f"{args.small} small blobs, one of {size / 1e6:.1f} MB; medians of {args.repeat}; load {os.getloadavg()}")
    for name, values in results.items():
        print(f"{name:32s} {statistics.median(values):7.3f} s")


if __name__ == "__main__":
    main()
