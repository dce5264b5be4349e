"""Key material: one master key, and the file keys derived from it.

The master key comes from MIRA_MASTER_KEY (an operator's secret store puts it there). Without
it, and only for the demo, a random key is created under MIRA_HOME/secrets (mode 0600) with a
loud notice: a key beside the data it protects guards against a copied file, not a stolen disk.

Each encrypted file gets its own key, derived with HKDF-SHA256 from the master key and the
file's purpose, so no two files share a key and rotating the master key changes them all. Keys
are handed to DuckDB as prepared-statement parameters, never spliced into SQL text, and no
function here logs or raises with a key in its message.
"""
from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from pipelines.settings import Settings, get_settings

# What each derived key protects. A purpose is part of the derivation: renaming one changes its key.
PURPOSES = ("warehouse", "vault", "analyst", "ops", "serving", "accounts", "backup", "journal", "retention")
MASTER_FILE = "master.key"
MIN_MASTER_CHARS = 32
_noticed: set[Path] = set()


class KeyProblem(RuntimeError):
    """A key is missing or malformed; the message never contains key material."""


def demo_key_path(settings: Settings) -> Path:
    return settings.home / "secrets" / MASTER_FILE


def validate_master(value: str, source: str) -> bytes:
    value = value.strip()
    if len(value) < MIN_MASTER_CHARS:
        raise KeyProblem(f"the master key from {source} is too short: use at least {MIN_MASTER_CHARS} "
                        "random characters (for example `python -c 'import secrets; print(secrets.token_hex(32))'`)")
    return value.encode("utf-8")


def write_key_file(path: Path, value: str) -> Path:
    """A key file readable by its owner only from its first byte (an existing one is replaced)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(value + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    return path


def master_key(settings: Settings | None = None) -> bytes:
    """The master key's bytes: MIRA_MASTER_KEY, else the demo key file (created on first use)."""
    settings = settings or get_settings()
    if settings.master_key:
        return validate_master(settings.master_key, "MIRA_MASTER_KEY")
    path = demo_key_path(settings)
    if not path.exists():
        write_key_file(path, secrets.token_hex(32))
    if path not in _noticed:
        _noticed.add(path)
        print(f"NOTICE: MIRA_MASTER_KEY is not set; using the DEMO key in {path.parent.name}/{path.name} "
              "under MIRA_HOME. Anyone with that folder can decrypt the data: set MIRA_MASTER_KEY "
              "from a secret store in production.", file=sys.stderr)
    if path.stat().st_mode & 0o077:
        raise KeyProblem(f"{path} must be readable by its owner only (chmod 600)")
    return validate_master(path.read_text(encoding="utf-8"), str(path))


def derive_key(purpose: str, master: bytes | None = None, settings: Settings | None = None) -> bytes:
    """A 32-byte key for one purpose (see PURPOSES), derived from the master key."""
    if purpose not in PURPOSES:
        raise KeyProblem(f"unknown key purpose {purpose!r}; known: {', '.join(PURPOSES)}")
    master = master if master is not None else master_key(settings)
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=b"mira-analytics/v1",
                info=purpose.encode()).derive(master)


def file_key(purpose: str, master: bytes | None = None, settings: Settings | None = None) -> str:
    """The key DuckDB's ENCRYPTION_KEY option takes for a file of this purpose (hex text)."""
    return derive_key(purpose, master, settings).hex()
