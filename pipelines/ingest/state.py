"""What the last successful build saw: so a run with nothing new does nothing.

A build's inputs are the landing files (their names, sizes and mtimes, or a blob's ETag: the
sensor's fingerprint) and the dbt project (its manifest). When both are what the last successful build saw, every file
is already in the manifest and every mart already built from it: `mira run` says so and returns,
without starting Dagster, opening the warehouse or writing anything; the landing sensor skips too.
Anything else (a new, changed or removed file, a model change, a failed or interrupted build that
never recorded success) runs the build as before.
"""
from __future__ import annotations

import hashlib
import json
import os
import uuid
from datetime import datetime, timezone
from pathlib import Path

from pipelines.ingest import landing
from pipelines.settings import DBT_PROJECT_DIR, Settings, get_settings
from pipelines.warehouse import swap_in

MANIFEST = DBT_PROJECT_DIR / "target" / "manifest.json"


def _path(settings: Settings) -> Path:
    return settings.home / "state" / "last_build.json"


def inputs(settings: Settings | None = None) -> str:
    """A digest of everything a build reads: landing files (stat only, or one listing of the
    container) and the dbt manifest."""
    settings = settings or get_settings()
    st = MANIFEST.stat() if MANIFEST.exists() else None
    manifest = f"{st.st_size}:{st.st_mtime_ns}" if st else "none"
    return hashlib.sha256(f"{landing.fingerprint(settings)}\n{manifest}".encode()).hexdigest()


def last_build(settings: Settings | None = None) -> dict | None:
    """{"inputs", "run_id", "finished_at"} of the last successful build, or None."""
    path = _path(settings or get_settings())
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def up_to_date(settings: Settings | None = None) -> dict | None:
    """The last build when nothing changed since it (and what it wrote is still there), else None."""
    settings = settings or get_settings()
    last = last_build(settings)
    built = [settings.warehouse_path, settings.serving_dir / "keyring.bin", settings.serving_dir / "analyst.duckdb"]
    return last if last and last.get("inputs") == inputs(settings) and all(p.exists() for p in built) else None


def record_build(run_id: str, seen: str, settings: Settings | None = None) -> None:
    """After a successful build: what it saw (`seen`: inputs() taken before it started, so a file
    that landed during the build makes the next run build again)."""
    settings = settings or get_settings()
    path = _path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump({"inputs": seen, "run_id": run_id,
                   "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds")}, fh)
    swap_in(tmp, path)
