"""A landing file written to while ingestion reads it is loaded whole or not at all.

Exporters land files under a hidden name and rename them (discover.py), but nothing stops a file
from being appended to, rewritten or truncated in place while a run reads it. Such a file would be
recorded as it was halfway through a write: a prefix loaded, a cut last line quarantined, and the
manifest saying it is done. So after the reading and before anything is written, every file is
checked against what discover() saw before hashing it (size and mtime, which every write changes);
one that changed is dropped from the batch unrecorded, and the next run reads it again, whole,
once it has settled. The check is a stat per file: reading a file twice to compare hashes would
double ingestion's input.
"""
from __future__ import annotations

from typing import Callable

from pipelines.ingest.discover import LandingFile


def changed(f: LandingFile) -> bool:
    """Whether the file is no longer what discover() saw (written to since, or gone)."""
    try:
        st = f.path.stat()
    except FileNotFoundError:
        return True
    return (st.st_size, st.st_mtime_ns) != (f.size, f.mtime_ns)


def drop_unsettled(con, stage: str, batch: list[tuple[LandingFile, str]], counted: dict[int, int],
                   refused: list, warn: Callable[[str], None]) -> list:
    """Drop the staged rows (and the count) of every file of the batch that changed while it was
    read, and its rejection if it was refused (a half-written file looks malformed); returns the
    rejections that stand. `counted`: file number -> rows staged, updated in place."""
    moved = sorted(i for i in {*counted, *(i for i, _ in refused)} if changed(batch[i][0]))
    if moved:
        con.execute(f"DELETE FROM {stage} WHERE list_contains(?, _file_no)", [moved])
        for i in moved:
            counted.pop(i, None)
            warn(f"CHANGED {batch[i][0].rel} while it was read: not recorded, the next run reads it again")
    return [(i, rej) for i, rej in refused if i not in moved]
