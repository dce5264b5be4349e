"""The list of retired tenants: whose data was deleted under the retention policy, and whose
files must never be ingested again.

The list must outlive the data it describes (the tenant's rows are gone, so the warehouse can
no longer say the tenant was retired) and must not become the last place that names the tenant.
So it holds tokens, not ids: token = HMAC-SHA256(K, tenant id) under a random 256-bit key K.
A plain hash would not do: tenant ids are company slugs, easy to guess and hash.

K is stored in the list file itself, wrapped (AES-GCM) under the master-derived "retention"
key. K never changes, so a master-key rotation only re-wraps it (`rewrap`) and every token stays
valid; a list that cannot be unwrapped is an error, never an empty list (that would let a
retired tenant's files back in).

The list lives in MIRA_HOME/privacy/, outside warehouse and vault, so restoring a backup of
those two files does not roll it back.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import uuid
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Iterable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from pipelines.ingest.discover import LandingFile
from pipelines import keys
from pipelines.settings import Settings, get_settings
from pipelines.warehouse import swap_in

LIST_FILE = "retired_tenants.json"
KEY_PURPOSE = "retention"
RULE = "file.retired_tenant"
REASON = ("the tenant's subscription ended and its data was deleted under the retention policy: "
          "files of a retired tenant are never ingested")
_AAD = b"mira-retired-tenants/v1"
_PREFIX = "retired-"


class RetiredListProblem(RuntimeError):
    """The list exists but cannot be read with the current master key (rotation without rewrap?)."""


def list_path(settings: Settings | None = None) -> Path:
    return (settings or get_settings()).home / "privacy" / LIST_FILE


def _wrap(wrapping_key: bytes, key: bytes) -> str:
    nonce = os.urandom(12)
    return base64.b64encode(nonce + AESGCM(wrapping_key).encrypt(nonce, key, _AAD)).decode("ascii")


def _unwrap(wrapping_key: bytes, blob: str, path: Path) -> bytes:
    raw = base64.b64decode(blob)
    try:
        return AESGCM(wrapping_key).decrypt(raw[:12], raw[12:], _AAD)
    except InvalidTag:
        raise RetiredListProblem(
            f"{path.name} cannot be unwrapped with the current master key (was the key rotated without "
            "`retired.rewrap`?); refusing to run without it: retired tenants' files would be ingested") from None


@dataclass
class RetiredTenants:
    path: Path
    settings: Settings
    entries: dict[str, dict] = field(default_factory=dict)    # token -> {"terminated_on", "retired_on"}
    _key: bytes | None = field(default=None, repr=False)
    _wrapped: str | None = field(default=None, repr=False)

    # -- loading and saving ---------------------------------------------------------------------
    @classmethod
    def load(cls, settings: Settings | None = None) -> "RetiredTenants":
        """The list (empty when there is none yet; that needs no key)."""
        settings = settings or get_settings()
        path = list_path(settings)
        if not path.exists():
            return cls(path, settings)
        data = json.loads(path.read_text(encoding="utf-8"))
        return cls(path, settings, dict(data.get("tenants", {})), None, data["key"])

    def _hmac_key(self) -> bytes:
        if self._key is None:
            wrapping = keys.derive_key(KEY_PURPOSE, settings=self.settings)
            if self._wrapped is None:
                self._key = secrets.token_bytes(32)
                self._wrapped = _wrap(wrapping, self._key)
            else:
                self._key = _unwrap(wrapping, self._wrapped, self.path)
        return self._key

    def save(self) -> None:
        """Write atomically (temporary file, fsync, rename); mode 0600."""
        self._hmac_key()
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.{uuid.uuid4().hex}")
        body = json.dumps({"version": 1, "key": self._wrapped, "tenants": dict(sorted(self.entries.items()))},
                          indent=1)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(body + "\n")
        swap_in(tmp, self.path)

    # -- membership -------------------------------------------------------------------------------
    def token(self, tenant_id: str) -> str:
        return hmac.new(self._hmac_key(), tenant_id.encode("utf-8"), hashlib.sha256).hexdigest()

    def __len__(self) -> int:
        return len(self.entries)

    def __contains__(self, tenant_id: object) -> bool:
        return bool(self.entries) and isinstance(tenant_id, str) and self.token(tenant_id) in self.entries

    def listed(self, tenant_ids: Iterable[str]) -> set[str]:
        """Those of `tenant_ids` that are retired."""
        return {t for t in set(tenant_ids) if t and t in self} if self.entries else set()

    def add(self, tenant_id: str, terminated_on: date | None, retired_on: date) -> bool:
        """Record a tenant as retired; False if it already was."""
        token = self.token(tenant_id)
        if token in self.entries:
            return False
        self.entries[token] = {"terminated_on": terminated_on.isoformat() if terminated_on else None,
                               "retired_on": retired_on.isoformat(),
                               "recorded_at": datetime.now(timezone.utc).isoformat(timespec="seconds")}
        return True

    def alias(self, tenant_id: str) -> str:
        """What logs and the manifest show instead of a retired tenant's id."""
        return _PREFIX + self.token(tenant_id)[:16]

    # -- ingestion ----------------------------------------------------------------------------------
    def screen(self, f: LandingFile) -> LandingFile:
        """A retired tenant's landing file becomes a rejected file whose path names neither the tenant
        nor the file (both can carry the company's name); others pass unchanged."""
        if not self.entries or f.tenant_id not in self:
            return f
        name_token = hmac.new(self._hmac_key(), f.rel.encode("utf-8"), hashlib.sha256).hexdigest()[:16]
        masked = f"{self.alias(f.tenant_id)}/{f.entity}/{name_token}{f.path.suffix.lower()}"
        return replace(f, rel=masked, tenant_id=self.alias(f.tenant_id), problem=REASON, problem_rule=RULE)


def rewrap(settings: Settings, old_master: bytes, new_master: bytes) -> bool:
    """Re-wrap the list's key under a new master key (key rotation); tokens are unchanged.
    Returns False when there is no list. Call it when the new master key takes effect."""
    path = list_path(settings)
    if not path.exists():
        return False
    data = json.loads(path.read_text(encoding="utf-8"))
    key = _unwrap(keys.derive_key(KEY_PURPOSE, master=old_master), data["key"], path)
    lst = RetiredTenants(path, settings, dict(data.get("tenants", {})), key,
                         _wrap(keys.derive_key(KEY_PURPOSE, master=new_master), key))
    lst.save()
    return True
