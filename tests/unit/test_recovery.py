"""pipelines.recovery on its own: who is alive, the build lock, a dead run's claims, the errors of a
home that cannot be written. (tests/integration/test_kill_chain.py kills real runs.)"""
from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid

import psutil
import pytest

from pipelines import recovery
from pipelines.recovery import Owner, alive


@pytest.fixture
def sleeper():
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


def test_a_process_is_alive_only_while_it_is_the_same_process(sleeper):
    import socket

    started = psutil.Process(sleeper.pid).create_time()
    assert alive(Owner(socket.gethostname(), sleeper.pid, started)) is True
    assert alive(Owner(None, sleeper.pid, None, seen_at=started + 5)) is True
    # The pid, but another process: started later than the run's owner was (pid reuse).
    assert alive(Owner(None, sleeper.pid, started - 100)) is False
    assert alive(Owner(None, sleeper.pid, None, seen_at=started - 100)) is False
    assert alive(Owner("another-host", sleeper.pid, started)) is None      # cannot tell from here
    assert alive(Owner(None, None)) is None
    sleeper.send_signal(signal.SIGKILL)
    time.sleep(0.2)
    assert alive(Owner(None, sleeper.pid, started)) is False                # a zombie, not yet reaped
    sleeper.wait()
    assert alive(Owner(None, sleeper.pid, started)) is False


HOLDER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from pipelines.settings import get_settings
    from pipelines import recovery
    with recovery.build_lock(get_settings()):
        print("locked", flush=True)
        time.sleep(60)
""")


def test_one_build_at_a_time_and_a_dead_holder_never_blocks(mira_home):
    holder = subprocess.Popen([sys.executable, "-c", HOLDER], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(recovery.BuildInProgress) as refused:
            with recovery.build_lock():
                pass
        assert f"another mira run (pid {holder.pid}, started " in str(refused.value)
        assert "\n" not in str(refused.value)
        with recovery.build_lock(quiet=True) as got:
            assert got is False
        holder.send_signal(signal.SIGKILL)
        holder.wait()
        with recovery.build_lock() as got:             # the kernel released it with the process
            assert got is True
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()


def test_a_home_that_cannot_be_written_is_named_in_one_line(mira_home):
    from pipelines.settings import get_settings

    settings = get_settings()
    full = recovery.storage_problem(OSError(errno.ENOSPC, "No space left on device"), settings)
    assert str(full).startswith(f"no space left under MIRA_HOME {mira_home}")
    ro = recovery.storage_problem(RuntimeError("IO Error: Cannot open file: Read-only file system"), settings)
    assert str(ro).startswith(f"MIRA_HOME {mira_home} is read-only")
    try:
        raise RuntimeError("step failed") from OSError(errno.EDQUOT, "Disk quota exceeded")
    except RuntimeError as chained:
        assert "no space left" in str(recovery.storage_problem(chained, settings))
    assert recovery.storage_problem("step serving__tenants: database or disk is full", settings) is not None
    # Not about the disk, on a disk with room: not called a disk problem.
    assert recovery.storage_problem(RuntimeError("disk I/O error"), settings) is None
    assert recovery.storage_problem("dbt build failed: 2 node(s) failed", settings) is None


def _instance(home):
    from dagster import DagsterInstance
    from pipelines.runs import prepare_dagster_home

    prepare_dagster_home()
    return DagsterInstance.from_config(str(home / "dagster"))


def _run(inst, status, tags=None):
    from dagster import DagsterRun

    run = DagsterRun(job_name="full_build", run_id=str(uuid.uuid4()), status=status, tags=tags or {})
    inst.run_storage.add_run(run)
    return run


def test_dead_runs_give_back_their_slots_and_live_ones_keep_theirs(mira_home, sleeper):
    from dagster import DagsterRunStatus
    from dagster._core.events import EngineEventData
    from pipelines.settings import get_settings

    with _instance(mira_home) as inst:
        storage = inst.event_log_storage
        storage.set_concurrency_slots("warehouse", 1)
        gone = subprocess.Popen([sys.executable, "-c", "pass"])
        gone.wait()
        started = psutil.Process(sleeper.pid).create_time()
        dead = _run(inst, DagsterRunStatus.STARTED, {recovery.OWNER_HOST: os.uname().nodename,
                                                      recovery.OWNER_PID: str(gone.pid), recovery.OWNER_STARTED: "1.0"})
        live = _run(inst, DagsterRunStatus.STARTED, {recovery.OWNER_PID: str(sleeper.pid),
                                                      recovery.OWNER_STARTED: f"{started:.3f}"})
        # a run the daemon launched: its pid is known from Dagster's own engine event only
        daemon_dead = _run(inst, DagsterRunStatus.STARTED)
        inst.report_engine_event("Executing steps in process", daemon_dead,
                                 EngineEventData.in_process(gone.pid))
        finished = _run(inst, DagsterRunStatus.SUCCESS)
        not_launched = _run(inst, DagsterRunStatus.NOT_STARTED)     # the daemon has yet to launch it
        assert storage.claim_concurrency_slot("warehouse", dead.run_id, "mira_dbt_assets").is_claimed
        storage.claim_concurrency_slot("warehouse", live.run_id, "raw_tables")      # waits: pending
        (mira_home / "serving").mkdir()
        leftover = mira_home / "serving" / ".publishing-0123.duckdb"
        leftover.write_bytes(b"half a file")

        lines = recovery.recover(inst, get_settings())

        assert inst.get_run_by_id(dead.run_id).status == DagsterRunStatus.FAILURE
        assert inst.get_run_by_id(daemon_dead.run_id).status == DagsterRunStatus.FAILURE
        assert inst.get_run_by_id(live.run_id).status == DagsterRunStatus.STARTED
        assert inst.get_run_by_id(not_launched.run_id).status == DagsterRunStatus.NOT_STARTED
        assert inst.get_run_by_id(finished.run_id).status == DagsterRunStatus.SUCCESS
        info = storage.get_concurrency_info("warehouse")
        assert not [s for s in info.claimed_slots if s.run_id == dead.run_id], "the dead run still holds the slot"
        assert [s.run_id for s in info.pending_steps] == [live.run_id], "the live run's waiting step stays"
        assert f"recovered dead run {dead.run_id[:8]} (full_build): its process (pid {gone.pid}) died in step " \
               "mira_dbt_assets; marked failed, 1 slot of pool warehouse freed" in lines, lines
        assert f"recovered dead run {daemon_dead.run_id[:8]} (full_build): its process (pid {gone.pid}) died; " \
               "marked failed, it held no pool slot" in lines, lines
        assert len(lines) == 2, lines
        assert leftover.exists(), "a live run may still be writing it: temporary files stay while a run is active"

        inst.report_run_failed(live)                      # ended without giving its slot back
        lines = recovery.recover(inst, get_settings())
        assert lines == [f"freed the warehouse pool's claims of run {live.run_id[:8]}, which had ended without "
                         "giving them back", "removed 1 temporary file left by dead runs"], lines
        info = storage.get_concurrency_info("warehouse")
        assert not info.claimed_slots and not info.pending_steps
        assert not leftover.exists()
        assert recovery.recover(inst, get_settings()) == []


def test_a_temporary_file_someone_has_open_is_kept(mira_home):
    from pipelines.settings import get_settings

    tmp = mira_home / "tmp"
    tmp.mkdir(exist_ok=True)
    busy, stale = tmp / "duckdb_temp_storage-1.tmp", tmp / "duckdb_temp_storage-2.tmp"
    stale.write_bytes(b"x")
    with open(busy, "wb") as held:
        held.write(b"y")
        assert recovery.sweep_temp_files(get_settings()) == 1
        assert busy.exists() and not stale.exists()
    assert recovery.sweep_temp_files(get_settings()) == 1
    assert recovery.temp_files(get_settings()) == []


RUN_HOLDER = textwrap.dedent("""
    import sys, time
    from pipelines.settings import get_settings
    from pipelines import recovery
    with recovery.holding_run(get_settings(), sys.argv[1]):
        print("holding", flush=True)
        time.sleep(60)
""")


def test_a_runs_own_lock_outranks_its_pid_and_host(mira_home):
    """The lock a run holds while its process lives decides, whatever its tags say: held, the run
    is alive though its pid tag names a dead process on another host; free, it is dead though its
    pid tag names a live process (the pid reused)."""
    from dagster import DagsterRunStatus
    from pipelines.settings import get_settings

    with _instance(mira_home) as inst:
        run = _run(inst, DagsterRunStatus.STARTED, {recovery.OWNER_HOST: "a-container-long-gone",
                                                     recovery.OWNER_PID: "999999", recovery.OWNER_STARTED: "1.0"})
        holder = subprocess.Popen([sys.executable, "-c", RUN_HOLDER, run.run_id], stdout=subprocess.PIPE, text=True)
        try:
            assert holder.stdout.readline().strip() == "holding"
            assert recovery.lock_says(get_settings(), run.run_id) is True
            assert recovery.recover(inst, get_settings()) == []
            assert inst.get_run_by_id(run.run_id).status == DagsterRunStatus.STARTED
            holder.send_signal(signal.SIGKILL)
            holder.wait()
        finally:
            if holder.poll() is None:
                holder.kill()
                holder.wait()
        reused = _run(inst, DagsterRunStatus.STARTED, {recovery.OWNER_PID: str(os.getpid()),
                                                        recovery.OWNER_STARTED: f"{psutil.Process().create_time():.3f}"})
        path = recovery._run_lock(get_settings(), reused.run_id)
        path.write_text("")                 # its process died before it could remove it
        assert recovery.lock_says(get_settings(), run.run_id) is False
        lines = recovery.recover(inst, get_settings())
        assert inst.get_run_by_id(run.run_id).status == DagsterRunStatus.FAILURE
        assert inst.get_run_by_id(reused.run_id).status == DagsterRunStatus.FAILURE
        assert len([line for line in lines if line.startswith("recovered dead run")]) == 2, lines
        assert not list((mira_home / "dagster" / recovery.RUNNING_DIR).glob("*.lock")), "lock files are left"
