"""Data-subject rights: requests.py records and runs them; export.py, erase.py and restrict.py
are the rights; person_rows.py finds and re-keys a person's warehouse rows; landing.py purges
the landing files. The vault's side is pipelines/vault/requests.py."""
from pipelines.privacy.rights.common import KINDS, RequestError, RequestFailed
from pipelines.privacy.rights.export import export_dir
from pipelines.privacy.rights.requests import audit_log, execute, load_request, submit
from pipelines.privacy.rights.restrict import reapply_tombstones, sync_restrictions
from pipelines.vault.requests import RECTIFIABLE

__all__ = ["KINDS", "RECTIFIABLE", "RequestError", "RequestFailed", "audit_log", "execute", "export_dir",
           "load_request", "reapply_tombstones", "submit", "sync_restrictions"]
