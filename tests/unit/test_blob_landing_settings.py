"""MIRA_LANDING as az://<container>/<prefix>: what settings and the blob landing make of it, and
that no secret reaches a repr (log lines show settings)."""
from __future__ import annotations

import pytest

from pipelines.ingest.blobs import BlobLocation, LandingUnavailable
from pipelines.settings import get_settings


@pytest.mark.parametrize("url, container, prefix", [
    ("az://exports/mira", "exports", "mira/"),
    ("az://exports/mira/eu/", "exports", "mira/eu/"),
    ("az://exports", "exports", ""),
    ("az://exports/", "exports", ""),
])
def test_location(url, container, prefix):
    assert BlobLocation.parse(url) == BlobLocation(container, prefix)


@pytest.mark.parametrize("url", ["az://", "az:///mira", "az://c/../other", "s3://c/p", "az://c/a/./b"])
def test_location_refused(url):
    with pytest.raises(LandingUnavailable, match="az://<container>/<prefix>"):
        BlobLocation.parse(url)


def test_settings_read_the_landing_url_and_keep_secrets_out_of_repr(monkeypatch, tmp_path):
    monkeypatch.setenv("MIRA_HOME", str(tmp_path))
    monkeypatch.setenv("MIRA_LANDING", "az://exports/mira")
    monkeypatch.setenv("MIRA_AZURE_CONNECTION_STRING", "AccountName=a;AccountKey=c2VjcmV0LWNvbm4=")
    monkeypatch.setenv("AZURE_STORAGE_ACCOUNT", "acct")
    monkeypatch.setenv("AZURE_STORAGE_KEY", "c2VjcmV0LWtleQ==")
    monkeypatch.setenv("AZURE_STORAGE_SAS_TOKEN", "sv=2024&sig=secret-sas")
    s = get_settings()
    assert s.landing_url == "az://exports/mira" and s.landing == tmp_path / "landing"
    assert s.azure.account == "acct" and s.azure.key == "c2VjcmV0LWtleQ=="
    text = repr(s)
    assert "acct" in text
    for secret in ("c2VjcmV0LWNvbm4=", "c2VjcmV0LWtleQ==", "secret-sas"):
        assert secret not in text
    monkeypatch.setenv("MIRA_LANDING", str(tmp_path / "drop"))
    assert get_settings().landing_url is None and get_settings().landing == tmp_path / "drop"
