"""Where the landing files are: a folder (the embedded default) or a Blob Storage container.

Ingestion, the landing sensor and `mira run`'s "nothing new" check ask this module, so each of
them works on both without knowing which: discover() lists the files with the same layout rules,
fingerprint() changes when one appears, changes or goes, and fetch_all() puts files where the
readers read them (a folder's files are there already; blobs are downloaded, see blobs.py).
"""
from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Union

from pipelines.ingest.blobs import BlobLanding
from pipelines.ingest.discover import LandingFile, discover, landing_fingerprint
from pipelines.settings import BLOB_SCHEME, Settings, get_settings


class FolderLanding:
    """A local landing folder: discover.py's rules, files read in place."""

    def __init__(self, path: Path):
        self.path = Path(path)

    def __str__(self) -> str:
        return str(self.path)

    def discover(self) -> list[LandingFile]:
        return discover(self.path)

    def fingerprint(self) -> str:
        return landing_fingerprint(self.path)

    @contextmanager
    def session(self, run_id: str) -> Iterator["FolderLanding"]:
        yield self

    def fetch(self, f: LandingFile) -> bool:
        return True

    def fetch_all(self, files: list[LandingFile]) -> set[str]:
        return set()


Landing = Union[FolderLanding, BlobLanding]


def open_landing(settings: Settings | None = None, landing: Path | str | None = None) -> Landing:
    """The landing named by `landing` (a folder or an az:// URL), else by MIRA_LANDING."""
    settings = settings or get_settings()
    if landing is not None:
        return BlobLanding(settings, str(landing)) if str(landing).startswith(BLOB_SCHEME) else FolderLanding(Path(landing))
    return BlobLanding(settings) if settings.landing_url else FolderLanding(settings.landing)


def fingerprint(settings: Settings | None = None) -> str:
    """The landing's fingerprint (what the sensor and `mira run` compare)."""
    return open_landing(settings).fingerprint()
