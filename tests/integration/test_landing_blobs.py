"""What is particular to a landing zone in Blob Storage (pipelines/ingest/blobs.py), on Azurite:
blobs being written wait, the manifest keeps ETags and hashes, downloads are pinned and do not
linger, the prefix bounds what is read, and every access problem is one line without a secret.
The rules blobs share with files (duplicates, corrections, other tenants' rows, bad files, hidden
names) run in test_ingest.py on both kinds of landing."""
from __future__ import annotations

import base64
import io
import os
import stat
import subprocess
import sys
import uuid
from datetime import date, datetime, timedelta, timezone

import pytest

from pipelines.ingest import landing as landing_mod
from pipelines.ingest.blobs import BlobLanding, LandingUnavailable
from pipelines.ingest.load import ingest
from tests.conftest import blob_landing, free_port, q
from tests.factories import MOVEMENT_FIELDS, movement


def _csv(*rows: list[str]) -> bytes:
    out = io.StringIO()
    out.write(",".join(MOVEMENT_FIELDS) + "\n")
    for r in rows:
        out.write(",".join(r) + "\n")
    return out.getvalue().encode()


@pytest.fixture
def blobs(mira_home, azurite_server, monkeypatch):
    """(container client, prefix) of a new container that MIRA_LANDING names."""
    return blob_landing(azurite_server, monkeypatch)


def test_a_block_blob_appears_when_its_upload_commits(blobs):
    from azure.storage.blob import BlobBlock

    container, prefix = blobs
    blob = container.get_blob_client(prefix + "acme/movements/m.csv")
    block = base64.b64encode(b"block-0").decode()
    blob.stage_block(block, _csv(movement("M1")))          # uploaded, not committed: not there yet
    assert ingest().files == [] and landing_mod.open_landing().discover() == []
    blob.commit_block_list([BlobBlock(block_id=block)])
    report = ingest()
    assert [(f.rel, f.status, f.rows_loaded) for f in report.files] == [("acme/movements/m.csv", "loaded", 1)]


def test_an_append_blob_waits_until_it_has_settled(mira_home, blobs, monkeypatch):
    container, prefix = blobs
    blob = container.get_blob_client(prefix + "acme/movements/live.csv")
    blob.create_append_blob()
    blob.append_block(_csv(movement("M1")))
    monkeypatch.setenv("MIRA_LANDING_SETTLE_SECONDS", "3600")   # written to a moment ago: still being written
    before = landing_mod.fingerprint()
    report = ingest()
    assert report.files_seen == 0 and report.files == []
    blob.append_block(",".join(movement("M2")).encode() + b"\n")
    assert landing_mod.fingerprint() == before                  # the sensor does not start a build for it
    monkeypatch.setenv("MIRA_LANDING_SETTLE_SECONDS", "0")      # the window has passed
    assert landing_mod.fingerprint() != before                  # now it does
    report = ingest()
    assert [(f.status, f.rows_loaded) for f in report.files] == [("loaded", 2)]


def test_a_blob_rewritten_between_listing_and_download_is_read_whole_next_run(mira_home, blobs, monkeypatch):
    container, prefix = blobs
    name = prefix + "acme/movements/m.csv"
    container.upload_blob(name, _csv(movement("M1")))
    fetch = BlobLanding.fetch

    def rewritten_first(self, f):
        container.upload_blob(name, _csv(movement("M1", quantity="5"), movement("M2")), overwrite=True)
        return fetch(self, f)

    monkeypatch.setattr(BlobLanding, "fetch", rewritten_first)
    warnings: list[str] = []
    first = ingest(warn=warnings.append)
    assert first.files == [] and any("CHANGED acme/movements/m.csv" in w for w in warnings)
    assert q(mira_home, "SELECT count(*) FROM audit.files") == [(0,)]
    monkeypatch.setattr(BlobLanding, "fetch", fetch)
    second = ingest()
    assert [(f.status, f.rows_loaded) for f in second.files] == [("loaded", 2)]
    assert q(mira_home, "SELECT quantity FROM raw.movements WHERE movement_id = 'M1'") == [(5,)]


def test_manifest_keeps_etag_and_hash_and_unchanged_blobs_are_not_downloaded(mira_home, blobs, monkeypatch):
    container, prefix = blobs
    body = _csv(movement("M1"))
    etag = container.upload_blob(prefix + "acme/movements/m.csv", body).get_blob_properties().etag.strip('"')
    fetched: list[str] = []
    fetch = BlobLanding.fetch
    monkeypatch.setattr(BlobLanding, "fetch", lambda self, f: fetched.append(f.rel) or fetch(self, f))
    ingest()
    import hashlib

    assert q(mira_home, "SELECT file_path, etag, content_hash, status FROM audit.files") == [
        ("acme/movements/m.csv", etag, hashlib.sha256(body).hexdigest(), "loaded")]
    assert ingest().files == [] and fetched == ["acme/movements/m.csv"]     # same ETag: not downloaded again
    # the same bytes uploaded again (a new ETag): downloaded once to find out, then known by the new ETag
    new = container.upload_blob(prefix + "acme/movements/m.csv", body, overwrite=True).get_blob_properties().etag.strip('"')
    assert ingest().files == [] and ingest().files == []
    assert fetched == ["acme/movements/m.csv"] * 2
    assert q(mira_home, "SELECT count(*), max(etag) FROM audit.files") == [(1, new)]


def test_only_blobs_under_the_prefix_are_read_and_misplaced_ones_are_not_downloaded(mira_home, blobs, monkeypatch):
    container, prefix = blobs
    container.upload_blob(prefix + "acme/movements/ok.csv", _csv(movement("M1")))
    for outside in ("landing2/acme/movements/m.csv", "other/acme/movements/m.csv", "acme/movements/m.csv"):
        container.upload_blob(outside, _csv(movement("X1")))                 # next to the prefix: never ours
    container.upload_blob(prefix + "acme/movements/.part/m.csv", _csv(movement("X2")))   # hidden folder: waits
    container.upload_blob(prefix + "acme/stock/m.csv", _csv(movement("X3")))           # not an entity
    container.upload_blob(prefix + "..odd/movements/m.csv", _csv(movement("X4")))       # '..' hides nothing
    container.get_blob_client(prefix + "acme/movements/disk.csv").create_page_blob(512)
    fetched: list[str] = []
    fetch = BlobLanding.fetch
    monkeypatch.setattr(BlobLanding, "fetch", lambda self, f: fetched.append(f.rel) or fetch(self, f))
    report = ingest()
    assert {f.rel: f.status for f in report.files} == {
        "acme/movements/ok.csv": "loaded", "acme/stock/m.csv": "rejected", "..odd/movements/m.csv": "rejected",
        "acme/movements/disk.csv": "rejected"}
    assert fetched == ["acme/movements/ok.csv"]
    assert q(mira_home, "SELECT movement_id FROM raw.movements") == [("M1",)]
    assert "page blob" in q(mira_home, "SELECT reason FROM audit.files WHERE file_path LIKE '%disk.csv'")[0][0]


def test_downloads_are_private_and_removed_also_after_a_crash(mira_home, blobs, monkeypatch):
    from pipelines import recovery
    from pipelines.settings import get_settings

    container, prefix = blobs
    container.upload_blob(prefix + "acme/movements/m.csv", _csv(movement("M1")))
    left = mira_home / "tmp" / "landing-deadrun"          # what a run killed mid-ingest left behind
    left.mkdir(parents=True)
    (left / "0123.csv").write_bytes(b"personal data in clear")
    assert left / "0123.csv" in recovery.temp_files(get_settings())
    seen = []
    fetch = BlobLanding.fetch

    def watching(self, f):
        ok = fetch(self, f)
        seen.append((f.path.parent.relative_to(mira_home).parts[0], stat.S_IMODE(f.path.parent.stat().st_mode),
                     f.path.read_bytes() == _csv(movement("M1")), "acme" in str(f.path)))
        return ok

    monkeypatch.setattr(BlobLanding, "fetch", watching)
    assert ingest().rows_loaded == 1
    assert seen == [("tmp", 0o700, True, False)]          # under MIRA_HOME/tmp, owner only, no tenant in the name
    assert not left.exists() and list((mira_home / "tmp").glob("landing-*")) == []


def test_access_by_account_key_and_by_sas(mira_home, azurite_server, monkeypatch):
    from azure.storage.blob import ContainerSasPermissions, generate_container_sas

    container, prefix = blob_landing(azurite_server, monkeypatch)
    container.upload_blob(prefix + "acme/movements/m.csv", _csv(movement("M1")))
    monkeypatch.delenv("MIRA_AZURE_CONNECTION_STRING")
    monkeypatch.setenv("AZURE_STORAGE_ACCOUNT", azurite_server.account)
    monkeypatch.setenv("MIRA_AZURE_BLOB_ENDPOINT", azurite_server.endpoint)
    monkeypatch.setenv("AZURE_STORAGE_KEY", azurite_server.key)
    assert [f.rel for f in landing_mod.open_landing().discover()] == ["acme/movements/m.csv"]
    monkeypatch.delenv("AZURE_STORAGE_KEY")
    sas = generate_container_sas(azurite_server.account, container.container_name, account_key=azurite_server.key,
                                 permission=ContainerSasPermissions(read=True, list=True),
                                 expiry=datetime.now(timezone.utc) + timedelta(hours=1))
    monkeypatch.setenv("AZURE_STORAGE_SAS_TOKEN", sas)
    assert ingest().rows_loaded == 1


def _problem(monkeypatch, **env) -> str:
    for k, v in env.items():
        if v is None:
            monkeypatch.delenv(k, raising=False)
        else:
            monkeypatch.setenv(k, v)
    with pytest.raises(LandingUnavailable) as caught:
        ingest()
    exc = caught.value   # no SDK error chained to it: --debug shows no request details either
    assert exc.__cause__ is None and (exc.__context__ is None or exc.__suppress_context__)
    return str(caught.value)


def test_every_access_problem_is_one_line_without_the_secret(mira_home, azurite_server, monkeypatch):
    container, _ = blob_landing(azurite_server, monkeypatch)
    good = azurite_server.connection_string
    wrong_key = base64.b64encode(os.urandom(64)).decode()
    dead = good.replace(f":{azurite_server.port}/", f":{free_port()}/")
    cases = {
        "refused": dict(MIRA_AZURE_CONNECTION_STRING=good.replace(azurite_server.key, wrong_key)),
        "does not exist": dict(MIRA_AZURE_CONNECTION_STRING=good, MIRA_LANDING="az://no-such-container/landing"),
        "does not answer": dict(MIRA_AZURE_CONNECTION_STRING=dead, MIRA_LANDING=f"az://{container.container_name}/x"),
        "malformed": dict(MIRA_AZURE_CONNECTION_STRING="AccountName=x;AccountKey=not base64!!"),
        "no access is configured": dict(MIRA_AZURE_CONNECTION_STRING=None, AZURE_STORAGE_CONNECTION_STRING=None,
                                        AZURE_STORAGE_ACCOUNT=None),
        # the account alone: the process's Azure identity, of which this machine has none
        "no Azure identity could sign in": dict(AZURE_STORAGE_ACCOUNT=azurite_server.account, AZURE_CLIENT_ID=None,
                                                AZURE_TENANT_ID=None, AZURE_CLIENT_SECRET=None,
                                                MIRA_AZURE_BLOB_ENDPOINT=f"https://127.0.0.1:{azurite_server.port}/x"),
    }
    for words, env in cases.items():
        message = _problem(monkeypatch, **env)
        assert words in message and "\n" not in message, message
        for secret in (azurite_server.key, wrong_key, "not base64"):
            assert secret not in message


def test_mira_run_says_it_in_one_line_and_the_sensor_skips(mira_home, azurite_server, monkeypatch):
    from dagster import build_sensor_context

    from pipelines.definitions import defs

    container, _ = blob_landing(azurite_server, monkeypatch)
    wrong = base64.b64encode(os.urandom(64)).decode()
    monkeypatch.setenv("MIRA_AZURE_CONNECTION_STRING", azurite_server.connection_string.replace(azurite_server.key, wrong))
    res = subprocess.run([sys.executable, "-m", "pipelines.cli", "run"], capture_output=True, text=True, timeout=120)
    assert res.returncode == 1
    assert res.stderr.strip().splitlines() == [
        f"error: Azure Storage refused the credentials for landing container {container.container_name!r} "
        "(wrong key, expired SAS or identity without access)"]
    assert wrong not in res.stdout + res.stderr and "Traceback" not in res.stderr
    tick = defs.get_sensor_def("landing_sensor").evaluate_tick(build_sensor_context(cursor=None))
    assert tick.run_requests == [] and "refused the credentials" in tick.skip_message


def test_landing_url_must_name_a_container(mira_home, monkeypatch):
    monkeypatch.setenv("MIRA_LANDING", "az:///landing")
    with pytest.raises(LandingUnavailable, match="az://<container>/<prefix>"):
        ingest()
    monkeypatch.setenv("MIRA_LANDING", f"az://c-{uuid.uuid4().hex[:6]}/../x")
    with pytest.raises(LandingUnavailable, match="az://<container>/<prefix>"):
        ingest()


def _upload_folder(folder, container, prefix: str) -> None:
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        container.upload_blob(prefix + path.relative_to(folder).as_posix(), path.read_bytes(), overwrite=True)


def test_erasure_purges_the_persons_blobs_and_the_manifest_follows(mira_home, blobs, tmp_path):
    """The erasure's landing step on a container: the blobs holding the person are rewritten in
    place (only if unchanged since read), the manifest takes their new ETag, nothing is reloaded."""
    from datetime import date

    from pipelines.generate import generate
    from pipelines.privacy import rights
    from pipelines.vault.store import open_vault

    container, prefix = blobs
    generate(tmp_path / "gen", tenants=1, days=5, seed=3, movements_per_day=6, end_date=date(2026, 10, 31))
    _upload_folder(tmp_path / "gen", container, prefix)
    ingest()
    p = q(mira_home, "SELECT user_pseudonym FROM raw.movements GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1")[0][0]
    with open_vault(read_only=True) as v:
        tenant, user_id, email = v.execute("SELECT tenant_id, user_id, email FROM identities WHERE user_pseudonym = ?",
                                           [p]).fetchone()
    before = {b.name: b.etag for b in container.list_blobs()}
    counts = rights.execute(rights.submit("erase", tenant, user_id, requested_by="test"))
    assert counts["landing.rows_dropped"] == 1 and counts["landing.files"] >= 2
    after = {b.name: b.etag for b in container.list_blobs()}
    assert sum(before[n] != after[n] for n in before) == counts["landing.files"]
    for b in container.list_blobs():
        data = container.download_blob(b.name).readall()
        assert user_id.encode() not in data and email.encode() not in data
    assert ingest().files == []                               # purged blobs are not taken for changed ones
    assert q(mira_home, "SELECT count(*) FROM audit.files f WHERE etag IS DISTINCT FROM ?", [None])[0][0] == len(after)
    assert list((mira_home / "tmp").glob("landing-*")) == []


def test_retention_deletes_a_retired_tenants_blobs_and_processed_old_blobs(mira_home, blobs, monkeypatch):
    from pipelines.privacy.retention.policy import Policy, processed_landing_files, purge_aged
    from pipelines.privacy.retention.tenants import present_tenants, purge_tenants
    from pipelines.settings import get_settings

    container, prefix = blobs
    for tenant in ("acme", "beta"):
        container.upload_blob(prefix + f"{tenant}/movements/m.csv", _csv(movement("M1", tenant=tenant)))
    container.upload_blob(prefix + "beta/movements/.upload.csv", _csv(movement("M2", tenant="beta")))
    ingest()
    settings = get_settings()
    assert {"acme", "beta"} <= present_tenants(settings)
    purge_tenants(settings, ["beta"])
    assert sorted(b.name for b in container.list_blobs()) == [prefix + "acme/movements/m.csv"]
    # processed blobs past the log retention: deleted, unless changed since they were processed
    monkeypatch.setenv("MIRA_LOG_RETENTION_DAYS", "0")
    container.upload_blob(prefix + "acme/movements/new.csv", _csv(movement("M3")))     # never processed
    later = Policy.make(get_settings(), date.today() + timedelta(days=2))
    assert processed_landing_files(get_settings(), later) == ["acme/movements/m.csv"]
    assert purge_aged(get_settings(), date.today() + timedelta(days=2))["landing_files_deleted"] == 1
    assert [b.name for b in container.list_blobs()] == [prefix + "acme/movements/new.csv"]
