"""A landing zone in Azure Blob Storage: MIRA_LANDING=az://<container>/<prefix>.

Blobs follow the folder's layout and rules (discover.py): <prefix>/<tenant_id>/<entity>/<file>,
hidden names wait as uploads in progress, the wrong place or format is reported with its reason.
What is particular to blobs:

- A block blob appears whole when its upload commits (staged blocks are not listed), so it
  needs no waiting. An append blob grows while it is visible: one modified less than the settle
  window ago (MIRA_LANDING_SETTLE_SECONDS) is still being written and waits, as if hidden. A
  page blob is a disk image, never an export: reported.
- The manifest keeps each blob's ETag: a blob whose ETag is the one recorded is unchanged and
  is not downloaded again.
- Every new or changed blob is downloaded, pinned to the ETag the listing saw, into a private
  folder under MIRA_HOME/tmp, and read from there by the same readers as a local file (landing
  files hold personal data in clear: the folder is removed when ingestion ends, and a run that
  died before is cleaned up by the next). A blob rewritten between the listing and its download
  fails the pin and is left for the next run, unrecorded, like a local file written to while
  it is read (settle.py).
- A blob in the wrong place is reported without being downloaded: nothing of it is read.

Errors of the service (no such container, a refused key, an endpoint that does not answer)
become one line, LandingUnavailable, that names the container and the kind of problem; never
the service's own message, which can carry request details, and never the credential.
azure-storage-blob was chosen over DuckDB's azure extension by measurement and for what the
listing gives (ETag, blob type, pinned downloads): see the README's "Landing in Blob Storage".
"""
from __future__ import annotations

import hashlib
import logging
import os
import shutil
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath
from typing import Iterator

from pipelines.ingest.discover import FORMATS, LandingFile, in_progress, place_problem
from pipelines.settings import BLOB_SCHEME, AzureAccess, Settings

# The SDK's HTTP log lines (request URLs and headers) are not ours to print; warnings stay, but
# not azure-identity's: it logs every credential it tried, many lines, where the user gets one.
logging.getLogger("azure").setLevel(logging.WARNING)
logging.getLogger("azure.identity").setLevel(logging.ERROR)

DOWNLOADS = "tmp"                 # under MIRA_HOME; one folder per ingest: landing-<run id>
DOWNLOAD_PREFIX = "landing-"
FETCH_THREADS = 4                 # downloads at once (benchmarks/landing_clients.py)


class LandingUnavailable(RuntimeError):
    """The landing container cannot be listed or read (one line for the user, no secret in it)."""


@dataclass(frozen=True)
class BlobLocation:
    container: str
    prefix: str                   # "" or ending with "/"

    @classmethod
    def parse(cls, url: str) -> "BlobLocation":
        if not url.startswith(BLOB_SCHEME):
            raise LandingUnavailable(f"MIRA_LANDING {url!r} is not of the form az://<container>/<prefix>")
        container, _, prefix = url[len(BLOB_SCHEME):].partition("/")
        prefix = prefix.strip("/")
        if not container or any(p in (".", "..") for p in prefix.split("/")):
            raise LandingUnavailable(f"MIRA_LANDING {url!r} is not of the form az://<container>/<prefix>")
        return cls(container, prefix + "/" if prefix else "")

    def __str__(self) -> str:
        return f"{BLOB_SCHEME}{self.container}/{self.prefix}"


def _retry():
    """Transient service errors are retried with a short backoff; an endpoint that refuses the
    connection once more is reported (waiting a minute for a wrong address helps no one)."""
    from azure.storage.blob import ExponentialRetry

    return ExponentialRetry(initial_backoff=2, increment_base=3, retry_total=3, retry_connect=1,
                            random_jitter_range=1)


def _identity(account: str):
    """The process's Azure identity (workload or managed identity, a service principal from the
    environment, `az login`), asked for a token once now: without one, the storage client would
    retry the failed sign-in with its backoff for most of a minute before saying so."""
    from azure.core.exceptions import ClientAuthenticationError
    from azure.identity import DefaultAzureCredential

    credential = DefaultAzureCredential()
    try:
        credential.get_token("https://storage.azure.com/.default")
    except ClientAuthenticationError:
        raise LandingUnavailable(
            f"no Azure identity could sign in for storage account {account!r}: set AZURE_STORAGE_KEY or "
            "AZURE_STORAGE_SAS_TOKEN, or MIRA_AZURE_CONNECTION_STRING, or run with a managed or workload identity") from None
    return credential


def container_client(access: AzureAccess, container: str):
    """A ContainerClient from the access the settings give (AzureAccess's order)."""
    from azure.storage.blob import BlobServiceClient

    options = {"retry_policy": _retry(), "connection_timeout": 20, "read_timeout": 120}
    try:
        if access.connection_string:
            service = BlobServiceClient.from_connection_string(access.connection_string, **options)
        elif access.account:
            url = access.endpoint or f"https://{access.account}.blob.core.windows.net"
            if access.key:
                from azure.core.credentials import AzureNamedKeyCredential

                credential = AzureNamedKeyCredential(access.account, access.key)
            elif access.sas_token:
                from azure.core.credentials import AzureSasCredential

                credential = AzureSasCredential(access.sas_token.lstrip("?"))
            else:
                credential = _identity(access.account)
            service = BlobServiceClient(url, credential=credential, **options)
        else:
            raise LandingUnavailable(
                "MIRA_LANDING is in Blob Storage but no access is configured: set MIRA_AZURE_CONNECTION_STRING, "
                "or AZURE_STORAGE_ACCOUNT (with AZURE_STORAGE_KEY, AZURE_STORAGE_SAS_TOKEN or an Azure identity)")
    except LandingUnavailable:
        raise
    except Exception:   # a malformed connection string or key: the SDK's message could quote it
        raise LandingUnavailable("the Azure Storage access settings cannot be used: a malformed connection string "
                                 "or key (MIRA_AZURE_CONNECTION_STRING / AZURE_STORAGE_KEY), or an Azure identity "
                                 "with an endpoint that is not https") from None
    return service.get_container_client(container)


def _problem_line(exc: BaseException, where: str) -> str:
    """One line for the user from an SDK error: its kind and the service's error code, never its
    message (which can carry request details)."""
    from azure.core.exceptions import (ClientAuthenticationError, ResourceNotFoundError, ServiceRequestError,
                                       ServiceResponseError)

    code = getattr(exc, "error_code", None)
    if type(exc).__name__ == "AzureSigningError":   # the key could not sign the request: not base64
        return f"the Azure Storage key for {where} is malformed (MIRA_AZURE_CONNECTION_STRING / AZURE_STORAGE_KEY)"
    if isinstance(exc, ClientAuthenticationError) or code in ("AuthenticationFailed", "AuthorizationFailure",
                                                              "AuthorizationPermissionMismatch"):
        return f"Azure Storage refused the credentials for {where} (wrong key, expired SAS or identity without access)"
    if isinstance(exc, ResourceNotFoundError):
        return f"{where} does not exist (Azure Storage: {code or 'not found'})"
    if isinstance(exc, (ServiceRequestError, ServiceResponseError)):
        return f"the Azure Storage endpoint for {where} does not answer (check the account, endpoint and network)"
    status = getattr(exc, "status_code", None)
    return f"Azure Storage could not list or read {where} ({code or status or type(exc).__name__})"


class BlobLanding:
    """The landing container: discover, fingerprint and fetch, like a landing folder."""

    def __init__(self, settings: Settings, url: str | None = None):
        self.settings = settings
        self.location = BlobLocation.parse(url or settings.landing_url or "")
        self._client = None
        self._downloads: Path | None = None

    def __str__(self) -> str:
        return str(self.location)

    @property
    def client(self):
        if self._client is None:
            self._client = container_client(self.settings.azure, self.location.container)
        return self._client

    # -- what is there --------------------------------------------------------------------------
    def _listing(self) -> list:
        from azure.core.exceptions import AzureError

        try:
            return list(self.client.list_blobs(name_starts_with=self.location.prefix, include=["metadata"]))
        except AzureError as exc:
            raise LandingUnavailable(_problem_line(exc, f"landing container {self.location.container!r}")) from None

    def _settled(self, blob, now: datetime) -> bool:
        """False for an append blob still being written (modified within the settle window)."""
        kind = str(getattr(blob.blob_type, "value", blob.blob_type))
        if kind != "AppendBlob":
            return True
        return (now - blob.last_modified).total_seconds() >= self.settings.landing_settle_seconds

    def discover(self) -> list[LandingFile]:
        """Every visible, settled blob under the prefix, in a stable order (tenant, entity, name);
        `path` is where fetch() puts its bytes."""
        now = datetime.now(timezone.utc)
        found: list[LandingFile] = []
        for blob in sorted(self._listing(), key=lambda b: b.name):
            rel = blob.name[len(self.location.prefix):]
            parts = tuple(rel.split("/"))
            if (blob.metadata or {}).get("hdi_isfolder") == "true" or rel.endswith("/"):
                continue          # a folder of a hierarchical namespace (ADLS Gen2), not a file
            if in_progress(parts) or not self._settled(blob, now):
                continue
            suffix = PurePosixPath(parts[-1]).suffix
            kind = str(getattr(blob.blob_type, "value", blob.blob_type))
            problem = (("is a page blob (a disk image); landing files are block or append blobs", "file.location")
                       if kind == "PageBlob" else place_problem(parts, suffix))
            problem, rule = problem or (None, None)
            found.append(LandingFile(
                self._download_path(rel, suffix), rel, parts[0] if len(parts) > 1 else "",
                parts[1] if len(parts) > 2 else "", FORMATS.get(suffix.lower()), blob.size or 0,
                int(blob.last_modified.timestamp() * 1e9), problem, rule, False, blob.etag.strip('"')))
        return found

    def fingerprint(self) -> str:
        """Changes whenever a blob appears, changes (new ETag), settles or goes; one listing."""
        h = hashlib.sha256()
        for f in self.discover():
            h.update(f"{f.rel}\0{f.etag}\0{f.size}\n".encode())
        return h.hexdigest()

    # -- reading --------------------------------------------------------------------------------
    def _download_path(self, rel: str, suffix: str) -> Path:
        # A flat folder and a name that is a digest: no tenant or file name under MIRA_HOME/tmp.
        base = self._downloads or (self.settings.home / DOWNLOADS / f"{DOWNLOAD_PREFIX}pending")
        return base / (hashlib.sha256(rel.encode("utf-8")).hexdigest()[:32] + suffix.lower())

    @contextmanager
    def session(self, run_id: str) -> Iterator["BlobLanding"]:
        """The private download folder of one ingest (the caller holds the vault: one ingest at a
        time), created empty and removed after; what a run that died left is removed first."""
        root = self.settings.home / DOWNLOADS
        for stale in root.glob(f"{DOWNLOAD_PREFIX}*"):
            shutil.rmtree(stale, ignore_errors=True)
        self._downloads = root / f"{DOWNLOAD_PREFIX}{run_id}"
        self._downloads.mkdir(mode=0o700, parents=True)
        try:
            yield self
        finally:
            shutil.rmtree(self._downloads, ignore_errors=True)
            self._downloads = None

    def fetch_all(self, files: list[LandingFile]) -> set[str]:
        """fetch() every file, a few at a time (a small blob costs a round trip, not bandwidth);
        the rels of those that changed or went since the listing."""
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=FETCH_THREADS) as pool:
            return {f.rel for f, ok in zip(files, pool.map(self.fetch, files)) if not ok}

    def fetch(self, f: LandingFile) -> bool:
        """Download the blob as the listing saw it (its ETag) to f.path; False when it changed or
        went since (then nothing is kept: the next run reads it again)."""
        from azure.core import MatchConditions
        from azure.core.exceptions import AzureError, ResourceModifiedError, ResourceNotFoundError

        assert self._downloads is not None and f.path.parent == self._downloads, "fetch() outside session()"
        try:
            stream = self.client.download_blob(self.location.prefix + f.rel, etag=f.etag,
                                               match_condition=MatchConditions.IfNotModified)
            with open(f.path, "wb") as fh:
                for chunk in stream.chunks():
                    fh.write(chunk)
            # The download carries the blob's time, so settle.py's check (size and mtime as listed)
            # holds for it as for a local file: the bytes are the listed version's, pinned.
            os.utime(f.path, ns=(f.mtime_ns, f.mtime_ns))
            return True
        except (ResourceModifiedError, ResourceNotFoundError):
            f.path.unlink(missing_ok=True)
            return False
        except AzureError as exc:
            f.path.unlink(missing_ok=True)
            if getattr(exc, "status_code", None) == 412:   # the pin failed: the blob changed
                return False
            raise LandingUnavailable(_problem_line(exc, f"landing blob {f.rel!r}")) from None

    # -- writing, for privacy (erasure and retention) -------------------------------------------
    def tenants(self) -> set[str]:
        """The tenant folders under the prefix (the first part of every blob name)."""
        return {b.name[len(self.location.prefix):].split("/", 1)[0] for b in self._listing()
                if "/" in b.name[len(self.location.prefix):]}

    def names_of_tenant(self, tenant_id: str) -> list[str]:
        """Every blob of a tenant's folder, uploads in progress too (relative names)."""
        start = f"{tenant_id}/"
        return [rel for rel in (b.name[len(self.location.prefix):] for b in self._listing()) if rel.startswith(start)]

    def delete(self, rels: list[str]) -> int:
        from azure.core.exceptions import AzureError, ResourceNotFoundError

        n = 0
        for rel in rels:
            try:
                self.client.delete_blob(self.location.prefix + rel, delete_snapshots="include")
                n += 1
            except ResourceNotFoundError:
                continue
            except AzureError as exc:
                raise LandingUnavailable(_problem_line(exc, "a landing blob")) from None
        return n

    def replace(self, f: LandingFile, source: Path) -> tuple[str, int]:
        """Upload `source` over the blob, only if it is still the version listed (its ETag):
        (new ETag, new last-modified in ns). A blob changed meanwhile is an error: its new
        version has not been looked at."""
        from azure.core import MatchConditions
        from azure.core.exceptions import AzureError

        try:
            with open(source, "rb") as fh:
                props = self.client.get_blob_client(self.location.prefix + f.rel).upload_blob(
                    fh, overwrite=True, etag=f.etag, match_condition=MatchConditions.IfNotModified)
        except AzureError as exc:
            if getattr(exc, "status_code", None) == 412:
                raise LandingUnavailable("a landing blob changed while it was rewritten; run the request again") from None
            raise LandingUnavailable(_problem_line(exc, "a landing blob")) from None
        return props["etag"].strip('"'), int(props["last_modified"].timestamp() * 1e9)
