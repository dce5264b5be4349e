"""A dead run's claims, given back: its pool slots, its run status, its temporary files.

A `mira run` killed with SIGKILL (or on a machine that lost power) never ends its Dagster run: the
instance keeps it STARTED and, worse, keeps the slot its step claimed in the `warehouse` pool,
which is limited to one (runs.DAGSTER_YAML). Every later step in that pool then waits for ever.
Dagster does not free it for us: its run monitoring watches the runs its launcher started, and
frees slots only of runs that have already ended. So before every run executed here
(runs.execute) and from the daemon (the `dead_run_recovery` sensor), dead runs are found and
what they hold is released, with one line each saying so.

Dead means: the process that executed the run is gone. Never a matter of age (a long build is
not a dead one). A run executed here holds a lock file of its own (dagster/running/<run id>.lock,
an flock) for as long as its process lives: the kernel releases it when the process ends, however
it ends, so a free lock is a dead run, whatever became of its pid (reused) or host name (a new
container). The run's tags name its process (host, pid, start time) for the message, and for runs
without a lock file; runs the daemon launched are known by the pid Dagster's own engine event
reports ("executing steps in process"), a pid alive again but started later being another
process. Such a run of another host is left alone: one machine per MIRA_HOME.

Temporary files (a publish's files before their swap, records before their rename, DuckDB's
spill files) are removed only when no run is active, the build lock is held, and no process
has them open: then nobody can still be writing them.
"""
from __future__ import annotations

import errno
import fcntl
import os
import socket
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

import psutil

from pipelines.settings import Settings, get_settings

OWNER_HOST, OWNER_PID, OWNER_STARTED = "mira/host", "mira/pid", "mira/pid_started"
LOCK_FILE = "build.lock"
RUNNING_DIR = "running"           # under DAGSTER_HOME: a lock file per run executed in process
# What the stages write under a temporary name before swapping it in (warehouse.swap_in):
# (folder under MIRA_HOME, glob). Never a landing file: uploads in progress start with '.' too.
TEMP_GLOBS = (
    ("serving", ".publishing-*"), ("serving/tenants", ".publishing-*"), ("serving", ".analyst-*"),
    ("serving", ".published*.json.*"), ("state", ".last_build.json.*"), ("privacy", ".retired_tenants.json.*"),
    ("gx/*", ".*.tmp"), ("tmp", "*"), ("tmp/landing-*", "*"),   # landing blobs downloaded (ingest/blobs.py)
)


class BuildInProgress(RuntimeError):
    """Another `mira run` is building this home (one line for the user)."""


class HomeNotWritable(RuntimeError):
    """MIRA_HOME is read-only or full (one line for the user)."""


# -- who runs a run, and is it still there -----------------------------------------------------

def owner_tags() -> dict[str, str]:
    """Tags that say which process executes a run (runs.execute adds them to its runs)."""
    me = psutil.Process()
    return {OWNER_HOST: socket.gethostname(), OWNER_PID: str(me.pid), OWNER_STARTED: f"{me.create_time():.3f}"}


@dataclass(frozen=True)
class Owner:
    host: str | None
    pid: int | None
    started: float | None = None     # the process's start time (our tags)
    seen_at: float | None = None     # when Dagster's engine event named the pid (runs of the daemon)


def owner_of(instance, run) -> Owner:
    tags = run.tags
    if OWNER_PID in tags:
        return Owner(tags.get(OWNER_HOST), int(tags[OWNER_PID]), float(tags.get(OWNER_STARTED) or 0) or None)
    from dagster import DagsterEventType

    for entry in instance.all_logs(run.run_id, of_type=DagsterEventType.ENGINE_EVENT):
        data = entry.dagster_event.engine_event_data if entry.dagster_event else None
        pid = (data.metadata or {}).get("pid") if data else None
        if pid is not None:
            return Owner(None, int(getattr(pid, "value", pid)), None, entry.timestamp)
    return Owner(None, None)


def alive(owner: Owner) -> bool | None:
    """True or False when it can be told; None when it cannot (no pid yet, another host)."""
    if owner.pid is None or (owner.host and owner.host != socket.gethostname()):
        return None
    try:
        proc = psutil.Process(owner.pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return False
        created = proc.create_time()
    except psutil.NoSuchProcess:
        return False
    except psutil.AccessDenied:
        return True
    if owner.started is not None:
        return abs(created - owner.started) < 1.0
    return owner.seen_at is None or created <= owner.seen_at + 1.0


def _run_lock(settings: Settings, run_id: str) -> Path:
    return settings.dagster_home / RUNNING_DIR / f"{run_id}.lock"


@contextmanager
def holding_run(settings: Settings, run_id: str) -> Iterator[None]:
    """Hold `run_id`'s lock for as long as this process executes it (runs.execute), taken before
    the run exists in the instance, so a run of ours in progress always has its lock held."""
    path = _run_lock(settings, run_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            path.unlink(missing_ok=True)
    finally:
        os.close(fd)


def lock_says(settings: Settings, run_id: str) -> bool | None:
    """Alive (its lock is held), dead (free), or None: no lock file to ask."""
    try:
        fd = os.open(_run_lock(settings, run_id), os.O_RDWR)
    except FileNotFoundError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


# -- recovery ----------------------------------------------------------------------------------

def _claims(instance) -> dict[str, Any]:
    storage = instance.event_log_storage
    if not storage.supports_global_concurrency_limits:
        return {}
    return dict(storage.get_concurrency_infos(sorted(storage.get_concurrency_keys())))


def _held(claims: dict[str, Any], run_id: str) -> list[tuple[str, str | None]]:
    return [(pool, slot.step_key) for pool, info in claims.items() for slot in info.claimed_slots
            if slot.run_id == run_id]


def _running_step(instance, run_id: str) -> str | None:
    from dagster import DagsterEventType as E

    started: list[str] = []
    ended: set[str] = set()
    for entry in instance.all_logs(run_id, of_type={E.STEP_START, E.STEP_SUCCESS, E.STEP_FAILURE, E.STEP_SKIPPED}):
        (started.append if entry.dagster_event.event_type == E.STEP_START else ended.add)(entry.step_key)
    running = [s for s in started if s not in ended]
    return running[-1] if running else None


def _slots(held: list[tuple[str, str | None]]) -> str:
    if not held:
        return "it held no pool slot"
    pools = sorted({p for p, _ in held})
    return f"{len(held)} slot{'s' if len(held) > 1 else ''} of pool {', '.join(pools)} freed"


def recover(instance, settings: Settings | None = None, holding_lock: bool = False) -> list[str]:
    """Mark dead runs failed and free their slots; free slots of runs that ended (or were
    deleted) without freeing them; remove leftover temporary files. One line per thing done."""
    from dagster import DagsterRunStatus, RunsFilter
    from dagster._core.storage.dagster_run import FINISHED_STATUSES, IN_PROGRESS_RUN_STATUSES

    settings = settings or get_settings()
    lines: list[str] = []
    claims = _claims(instance)
    statuses = [*IN_PROGRESS_RUN_STATUSES, DagsterRunStatus.NOT_STARTED]
    for run in instance.get_runs(filters=RunsFilter(statuses=statuses)):
        if run.status == DagsterRunStatus.NOT_STARTED and OWNER_PID not in run.tags:
            continue                  # a run the daemon has yet to launch, not one we started
        owner = owner_of(instance, run)
        verdict = lock_says(settings, run.run_id)
        if (alive(owner) if verdict is None else verdict) is not False:
            continue
        if instance.get_run_by_id(run.run_id).status not in statuses:
            continue                  # it ended between the listing and now (and let its lock go)
        held = _held(claims, run.run_id)
        step = next((s for _, s in held if s), None) or _running_step(instance, run.run_id)
        where = f" in step {step}" if step else ""
        instance.report_run_failed(run, message=f"The process that executed this run (pid {owner.pid}) died{where}; "
                                   "marked failed by the next run's recovery.")
        instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
        _run_lock(settings, run.run_id).unlink(missing_ok=True)
        lines.append(f"recovered dead run {run.run_id[:8]} ({run.job_name}): its process (pid {owner.pid}) died{where}; "
                     f"marked failed, {_slots(held)}")
    for pool, info in _claims(instance).items():
        stale = {s.run_id for s in [*info.claimed_slots, *info.pending_steps]}
        for run_id in sorted(stale):
            run = instance.get_run_by_id(run_id)
            if run is None or run.status in FINISHED_STATUSES:
                instance.event_log_storage.free_concurrency_slots_for_run(run_id)
                lines.append(f"freed the {pool} pool's claims of run {run_id[:8]}, which had "
                             f"{'gone' if run is None else 'ended'} without giving them back")
    active = instance.get_runs(filters=RunsFilter(statuses=list(IN_PROGRESS_RUN_STATUSES)), limit=1)
    if not active:
        removed = sweep_temp_files(settings, holding_lock)
        if removed:
            lines.append(f"removed {removed} temporary file{'s' if removed > 1 else ''} left by dead runs")
    return lines


# -- temporary files ---------------------------------------------------------------------------

def temp_files(settings: Settings) -> list[Path]:
    """Every temporary file a stage could have left under MIRA_HOME (tests check it is empty)."""
    home = settings.home
    found: list[Path] = []
    for folder, pattern in TEMP_GLOBS:
        for base in home.glob(folder):
            found += [p for p in base.glob(pattern) if p.is_file()]
    return sorted(set(found))


def _open_by_anyone(paths: list[Path]) -> set[Path]:
    wanted = {str(p) for p in paths}
    busy: set[Path] = set()
    for proc in psutil.process_iter():
        try:
            busy |= {Path(f.path) for f in proc.open_files() if f.path in wanted}
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return busy


def sweep_temp_files(settings: Settings, holding_lock: bool = False) -> int:
    """Remove temporary files nobody writes any more; the number removed (0 when the build lock
    is someone else's: a build in progress is writing them)."""
    candidates = temp_files(settings)
    if not candidates:
        return 0
    try:
        with (_nothing() if holding_lock else build_lock(settings, quiet=True)) as got:
            if not got:
                return 0
            busy = _open_by_anyone(candidates)
            for path in candidates:
                if path not in busy:
                    path.unlink(missing_ok=True)
            return len(candidates) - len(busy)
    except (HomeNotWritable, OSError):
        return 0                 # a home that cannot be written keeps them until it can


@contextmanager
def _nothing() -> Iterator[bool]:
    yield True


# -- one build at a time -----------------------------------------------------------------------

def lock_path(settings: Settings) -> Path:
    return settings.home / "state" / LOCK_FILE


def writable_problem(exc: OSError, settings: Settings) -> HomeNotWritable | None:
    """The one-line error for a home that cannot be written (read-only, full), else None."""
    if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return HomeNotWritable(f"MIRA_HOME {settings.home} is read-only ({os.strerror(exc.errno)}): mira run writes "
                               "there; make it writable and run again")
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return HomeNotWritable(f"no space left under MIRA_HOME {settings.home} ({os.strerror(exc.errno)}): free some "
                               "space and run again; the next run completes what this one could not")
    return None


# How a full or read-only disk shows in the errors of DuckDB, SQLite (the Dagster instance), dbt;
# SQLite may only say "disk I/O error", so an error about I/O is checked against the disk itself.
_FULL = ("no space left on device", "database or disk is full", "disk quota exceeded")
_READ_ONLY = ("read-only file system", "readonly database")
_IO = ("i/o error", "io error", "could not write", "failed to write")
NEARLY_FULL_BYTES = 16 * 1024 * 1024


def storage_problem(error: BaseException | str, settings: Settings) -> HomeNotWritable | None:
    """The one-line error when `error` (an exception with its causes, or a run's failure line)
    comes from a home that cannot be written; None for anything else."""
    texts: list[str] = []
    seen: set[int] = set()
    exc = error if isinstance(error, BaseException) else None
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, OSError) and (problem := writable_problem(exc, settings)):
            return problem
        texts.append(str(exc))
        exc = exc.__cause__ or exc.__context__
    text = " ".join(texts if texts else [str(error)]).lower()
    disk = _disk(settings)
    if any(t in text for t in _READ_ONLY) or (disk == "read-only" and any(t in text for t in _IO)):
        return writable_problem(OSError(errno.EROFS, ""), settings)
    if any(t in text for t in _FULL) or (disk == "full" and any(t in text for t in _IO)):
        return writable_problem(OSError(errno.ENOSPC, ""), settings)
    return None


def _disk(settings: Settings) -> str | None:
    """"read-only" or "full" for the file system MIRA_HOME is on, when it is; else None."""
    try:
        st = os.statvfs(settings.home)
    except OSError:
        return None
    if st.f_flag & os.ST_RDONLY:
        return "read-only"
    return "full" if st.f_bavail * st.f_frsize < NEARLY_FULL_BYTES else None


@contextmanager
def build_lock(settings: Settings | None = None, wait: bool = False, quiet: bool = False) -> Iterator[bool]:
    """Hold the home's build lock (an flock the kernel releases when the process dies, so it is
    never stale). Taken: yields True. Held by another process: raises BuildInProgress naming it,
    or yields False when `quiet`."""
    settings = settings or get_settings()
    path = lock_path(settings)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise (writable_problem(exc, settings) or exc) from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            if quiet:
                yield False
                return
            raise BuildInProgress(_holder(fd, settings)) from None
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()} {datetime.now(timezone.utc).isoformat(timespec='seconds')}\n".encode(), 0)
        except OSError as exc:
            raise (writable_problem(exc, settings) or exc) from None
        yield True
    finally:
        os.close(fd)             # closing releases the flock


def _holder(fd: int, settings: Settings) -> str:
    try:
        pid, _, since = os.pread(fd, 200, 0).decode().strip().partition(" ")
    except (OSError, UnicodeDecodeError):
        pid, since = "", ""
    who = f" (pid {pid}, started {since})" if pid else ""
    return (f"another mira run{who} is building {settings.home}; this one stopped without touching anything: "
            "run it again once that one has finished")
