"""Landing discovery: which files exist, and which of them the manifest has not seen.

A landing file lives at <landing>/<tenant_id>/<entity>/<name>.csv|jsonl|parquet. Hidden files
(name starting with '.') are uploads in progress and are left alone until renamed; so is
everything in a hidden folder, except a folder whose name starts with '..', which no uploader
uses for work in progress and which would otherwise hide a tenant's files without a word.
Everything else visible is reported, the files that cannot be ingested with the reason:
symbolic links are never followed (a link could read any file the pipeline can read, or another
tenant's folder under this tenant's name), nor are sockets or pipes read.
"""
from __future__ import annotations

import hashlib
import os
import stat as stat_mode
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
    is_link: bool = False        # a symbolic link: reported, never read
    etag: str | None = None      # a blob's ETag (pipelines/ingest/blobs.py): path is then its download

    def content_hash(self) -> str:
        h = hashlib.sha256()
        if self.is_link or not self.path.is_file():
            h.update(f"link:{os.readlink(self.path) if self.is_link else ''}".encode())
            return h.hexdigest()
        with open(self.path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
        return h.hexdigest()


def _hidden(name: str) -> bool:
    return name.startswith(".") and not name.startswith("..")


def in_progress(parts: tuple[str, ...]) -> bool:
    """Whether a name (its folders and file, relative to the landing root) is an upload in
    progress: it, or a folder it lies in, is hidden. Blob names follow the same rule."""
    return any(_hidden(p) for p in parts)


def _entries(landing: Path):
    """(path, is_link) of every visible file, symbolic link (to a file or a folder, not followed)
    and other non-folder entry under the landing root."""
    for root, dirs, files in os.walk(landing, followlinks=False):
        base = Path(root)
        links = [d for d in dirs if (base / d).is_symlink()]
        dirs[:] = [d for d in dirs if not _hidden(d) and d not in links]
        for name in files + links:
            if not _hidden(name):
                yield base / name, (base / name).is_symlink()


def _problem(parts: tuple[str, ...], path: Path, is_link: bool, mode: int) -> tuple[str, str] | None:
    """(reason, rule) when the file cannot be ingested for where or what it is."""
    if is_link:
        return "is a symbolic link; landing files must be regular files inside the landing folder", "file.location"
    if not stat_mode.S_ISREG(mode):
        return "is not a regular file (a pipe, socket or device)", "file.location"
    return place_problem(parts, path.suffix)


def place_problem(parts: tuple[str, ...], suffix: str) -> tuple[str, str] | None:
    """(reason, rule) when a file or blob is in the wrong place or format (parts: its name's
    folders and file, relative to the landing root)."""
    if len(parts) > 3 and len(parts[0]) and parts[1] in ENTITIES:
        return ("lies in a subfolder of the entity folder; only files directly in <tenant_id>/<entity>/ "
                "are read", "file.location")
    if len(parts) != 3:
        return "file is not at <tenant_id>/<entity>/<file>; it cannot be attributed", "file.location"
    if not tenant_id_pattern().fullmatch(parts[0]):
        return "its tenant folder's name is not a valid tenant id (lower case letters, digits, dashes)", \
            "file.location"
    if parts[1] not in ENTITIES:
        return f"folder {parts[1]!r} is not an entity ({', '.join(ENTITIES)})", "file.location"
    if FORMATS.get(suffix.lower()) is None:
        return f"extension {suffix!r} is not supported (use .csv, .jsonl or .parquet)", "file.format"
    return None


def discover(landing: Path) -> list[LandingFile]:
    """Every visible file under the landing root, in a stable order (tenant, entity, name)."""
    landing = Path(landing)
    if not landing.is_dir():
        return []
    found: list[LandingFile] = []
    for path, is_link in sorted(_entries(landing)):
        parts = path.relative_to(landing).parts
        st = path.lstat()
        tenant = parts[0] if len(parts) > 1 else ""
        entity = parts[1] if len(parts) > 2 else ""
        problem, rule = _problem(parts, path, is_link, st.st_mode) or (None, None)
        found.append(LandingFile(path, "/".join(parts), tenant, entity, FORMATS.get(path.suffix.lower()),
                                 st.st_size, st.st_mtime_ns, problem, rule, is_link))
    return found


def landing_fingerprint(landing: Path) -> str:
    """Changes whenever a landing file appears, changes or goes; cheap (stat only, no reads)."""
    h = hashlib.sha256()
    for f in discover(landing):
        h.update(f"{f.rel}\0{f.size}\0{f.mtime_ns}\n".encode())
    return h.hexdigest()
