"""The manifest (audit.files) as ingestion consults it: what was last recorded of each landing
file, and whether the file in the landing now is that very file.

A local file is the same file when its size and mtime are (every write changes them); a blob when
its ETag is (every upload gets a new one), so an unchanged blob is never downloaded again. Beyond
that, the content hash decides: a file with a new mtime or ETag but the same bytes is not new.
"""
from __future__ import annotations

import duckdb

from pipelines.ingest.discover import LandingFile


def known(con: duckdb.DuckDBPyConnection) -> tuple[dict[str, tuple[int, int, str, str]], dict[str, str]]:
    """Manifest lookups: path -> (size, mtime, hash, etag) of its last record; hash -> path loaded."""
    by_path = {p: (s, m, h, e) for p, s, m, h, e in con.execute(
        "SELECT file_path, arg_max(size_bytes, ingested_at), arg_max(mtime_ns, ingested_at), "
        "arg_max(content_hash, ingested_at), arg_max(etag, ingested_at) FROM audit.files GROUP BY file_path").fetchall()}
    by_hash = dict(con.execute(
        "SELECT content_hash, min(file_path) FROM audit.files WHERE status = 'loaded' GROUP BY content_hash"
    ).fetchall())
    return by_path, by_hash


def unchanged(f: LandingFile, prev: tuple | None) -> bool:
    """Whether the manifest's last record of this path is this very file: a blob by its ETag
    (a new upload always gets a new one), a local file by size and mtime (every write changes them)."""
    if not prev:
        return False
    if f.etag is not None:
        return prev[3] == f.etag
    return prev[0] == f.size and prev[1] == f.mtime_ns


def remember_etag(con, f: LandingFile) -> None:
    """A blob uploaded again with the same bytes (or first seen in a folder, then in a container):
    its last record takes the new ETag, so the next run does not download it again to find out."""
    con.execute("UPDATE audit.files SET etag = ?, size_bytes = ?, mtime_ns = ? WHERE file_path = ? AND ingested_at = "
                "(SELECT max(ingested_at) FROM audit.files WHERE file_path = ?)", [f.etag, f.size, f.mtime_ns, f.rel, f.rel])
