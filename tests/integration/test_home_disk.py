"""MIRA_HOME read-only, then full: `mira run` says so in one line; once space is back, the next
run completes and the home equals a clean one.

The home lives on a small tmpfs mounted here (the tests run as root, in CI too), a copy of the
crash reference after its first run with the rest of the files landed: remounted read-only, a
run must refuse at once; writable again but filled up by a ballast file to a few megabytes, a
run must fail in one line wherever the space runs out, and so must the next one while it stays
full; with the ballast gone, the next run must recover what the failed one left and complete,
and the home must equal the reference (tests.homes.fingerprint). The dashboards' data layer
keeps answering from the published files throughout.
"""
from __future__ import annotations

import shutil
import subprocess

import pytest

from tests.homes import dashboards_answer, files_whole, fingerprint, mira, pointed, release

FREE_WHEN_FULL_MB = 10         # what the ballast leaves: the run gets going, then runs out (publishing, say)


def _mount(target, *options: str) -> None:
    subprocess.run(["mount", *options, str(target)], check=True, capture_output=True, text=True)


@pytest.fixture
def tmpfs(tmp_path):
    point = tmp_path / "tmpfs"
    point.mkdir()
    _mount(point, "-t", "tmpfs", "-o", "size=256m", "tmpfs")
    try:
        yield point
    finally:
        from dashboards.data import pool

        pool.clear()                       # the dashboards' pooled connections to files on it
        subprocess.run(["mount", "-o", "remount,rw", str(point)], capture_output=True)
        if subprocess.run(["umount", str(point)], capture_output=True).returncode:
            subprocess.run(["umount", "-l", str(point)], check=True)


def _one_error_line(done: subprocess.CompletedProcess) -> str:
    assert done.returncode == 1, done.stdout[-2000:] + done.stderr[-2000:]
    assert "Traceback" not in done.stderr and "Stack Trace" not in done.stderr, done.stderr[-3000:]
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, done.stderr[-3000:]
    return errors[0]


def _last_phase(stdout: str) -> str:
    """What a failed run's summary says it got through, or where it stopped before any summary."""
    lines = [ln.strip() for ln in stdout.splitlines() if ln.strip().startswith(("time:", "files:"))]
    return "; ".join(lines) or "no summary: the Dagster instance itself could not be written"


def _fill(point, leave_mb: int):
    free = shutil.disk_usage(point).free
    ballast = point / "ballast"
    with open(ballast, "wb") as fh:
        fh.truncate(0)
        chunk = b"\0" * (1 << 20)
        for _ in range(max(0, (free - leave_mb * (1 << 20)) >> 20)):
            fh.write(chunk)
    return ballast


def test_a_read_only_then_full_home_fails_in_one_line_and_the_next_run_completes(crash_reference, tmpfs):
    from pipelines import recovery
    from pipelines.settings import get_settings

    ref = crash_reference
    home = tmpfs / "mira"
    shutil.copytree(ref.start, home)
    release(ref.source, ref.rest, home / "landing")
    tenant = sorted(p.stem for p in (home / "serving" / "tenants").glob("*.duckdb"))[0]

    _mount(tmpfs, "-o", "remount,ro")
    line = _one_error_line(mira(home, "run"))
    assert line.startswith(f"error: MIRA_HOME {home} is read-only"), line
    dashboards_answer(home, tenant)                          # readers need no write
    _mount(tmpfs, "-o", "remount,rw")

    ballast = _fill(tmpfs, FREE_WHEN_FULL_MB)
    for attempt in ("runs out midway", "finds the disk full"):
        done = mira(home, "run")
        line = _one_error_line(done)
        assert line.startswith(f"error: no space left under MIRA_HOME {home}"), f"{attempt}: {line}"
        dashboards_answer(home, tenant)
        print(f"\n{attempt}: {line} (after: {_last_phase(done.stdout)})")

    ballast.unlink()
    done = mira(home, "run")
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    with pointed(home):
        assert recovery.temp_files(get_settings()) == []
        assert files_whole(home) == []
        ours = fingerprint(home)
    dashboards_answer(home, tenant)
    differ = sorted(k for k in set(ours) | set(ref.fingerprint) if ours.get(k) != ref.fingerprint.get(k))
    assert not differ, f"after the full disk, the home differs from the reference: {differ[:10]}"


def test_a_copy_whose_checkpoint_fails_is_never_swapped_in(tmp_path):
    """Found by the test above: on a nearly full disk a copy's write-ahead log fits and its
    checkpoint does not, DuckDB's DETACH then says nothing and leaves the log behind, and the file
    alone, swapped in, published tenants' serving files without a single table while the run
    reported success. warehouse.detach and swap_in now refuse such a file."""
    from pipelines import warehouse

    point = tmp_path / "tiny"
    point.mkdir()
    _mount(point, "-t", "tmpfs", "-o", "size=4m", "tmpfs")
    try:
        final = point / "published.duckdb"
        final.write_bytes(b"the previous file")
        con = warehouse.memory_connection()
        refused = None
        try:
            for rows in range(10_000, 80_000, 2_500):
                tmp = point / f".copy-{rows}.duckdb"
                warehouse.attach(con, tmp, "dst", "k" * 32)
                try:
                    con.execute("CREATE TABLE dst.t AS SELECT range AS i, md5(range::VARCHAR) || "
                                f"md5((range + 1)::VARCHAR) AS s FROM range({rows})")
                except Exception:        # not even the log fits any more: the window was passed
                    break
                try:
                    warehouse.detach(con, "dst", tmp)
                except warehouse.IncompleteWrite as exc:
                    refused = exc
                    with pytest.raises(warehouse.IncompleteWrite):
                        warehouse.swap_in(tmp, final)
                    break
                finally:
                    for f in point.glob(".copy-*"):
                        f.unlink()
        finally:
            con.close()
        assert refused is not None, "no size made the checkpoint fail after the log fit"
        assert "could not write" in str(refused) and "disk full" in str(refused)
        assert final.read_bytes() == b"the previous file", "the previous file must stay"
    finally:
        subprocess.run(["umount", "-l", str(point)], check=True)
