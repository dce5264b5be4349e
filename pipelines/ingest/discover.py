"""Landing discovery: which files exist, and which of them the manifest has not seen.

A landing file lives at <landing>/<tenant_id>/<entity>/<name>.csv|jsonl|parquet. Hidden files
(name starting with '.') are uploads in progress and are left alone until renamed.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from pipelines.contracts import ENTITIES, tenant_id_pattern

FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet"}


@dataclass(frozen=True)
class LandingFile:
    path: Path          # absolute, used to read
    rel: str            # relative to the landing root: what the manifest and messages show
    tenant_id: str
    entity: str
    fmt: str | None
    size: int
    mtime_ns: int
    problem: str | None = None   # why the file cannot be ingested at all (wrong place or format)
    problem_rule: str | None = None

    def content_hash(self) -> str:
        h = hashlib.sha256()
        with open(self.path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
        return h.hexdigest()


def discover(landing: Path) -> list[LandingFile]:
    """Every visible file under the landing root, in a stable order (tenant, entity, name)."""
    landing = Path(landing)
    if not landing.is_dir():
        return []
    pattern = tenant_id_pattern()
    found: list[LandingFile] = []
    for path in sorted(p for p in landing.rglob("*") if p.is_file()):
        rel_parts = path.relative_to(landing).parts
        if any(part.startswith(".") for part in rel_parts):
            continue
        stat = path.stat()
        rel = "/".join(rel_parts)
        tenant = rel_parts[0] if len(rel_parts) > 1 else ""
        entity = rel_parts[1] if len(rel_parts) > 2 else ""
        fmt = FORMATS.get(path.suffix.lower())
        problem = rule = None
        if len(rel_parts) != 3:
            problem, rule = ("file is not at <tenant_id>/<entity>/<file>; it cannot be attributed", "file.location")
        elif not pattern.fullmatch(tenant):
            problem, rule = (f"folder {tenant!r} is not a valid tenant id", "file.location")
        elif entity not in ENTITIES:
            problem, rule = (f"folder {entity!r} is not an entity ({', '.join(ENTITIES)})", "file.location")
        elif fmt is None:
            problem, rule = (f"extension {path.suffix!r} is not supported (use .csv, .jsonl or .parquet)",
                             "file.format")
        found.append(LandingFile(path, rel, tenant, entity, fmt, stat.st_size, stat.st_mtime_ns, problem, rule))
    return found


def landing_fingerprint(landing: Path) -> str:
    """Changes whenever a landing file appears, changes or goes; cheap (stat only, no reads)."""
    h = hashlib.sha256()
    for f in discover(landing):
        h.update(f"{f.rel}\0{f.size}\0{f.mtime_ns}\n".encode())
    return h.hexdigest()
