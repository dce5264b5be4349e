"""What was ingested: read from the manifest (audit.files) and the run log (audit.runs)."""
from __future__ import annotations

from pipelines.settings import get_settings
from pipelines.warehouse import connect

STATUS_SQL = """
SELECT tenant_id, entity,
       count(*) FILTER (status = 'loaded') AS files,
       coalesce(sum(rows_read), 0) AS rows_read,
       coalesce(sum(rows_loaded), 0) AS rows_loaded,
       coalesce(sum(rows_quarantined), 0) AS rows_quarantined
FROM audit.files
GROUP BY tenant_id, entity
ORDER BY tenant_id, entity
"""


def ingestion_status() -> list[dict]:
    with connect(read_only=True) as con:
        cur = con.execute(STATUS_SQL)
        cols = [d[0] for d in cur.description]
        return [{c: (int(v) if isinstance(v, (int,)) or c.startswith(("rows", "files")) else v)
                 for c, v in zip(cols, row)} for row in cur.fetchall()]


def latest_landed() -> dict[str, tuple]:
    """tenant -> (newest loaded file's mtime, when it was ingested), from the manifest."""
    with connect(read_only=True) as con:
        return {t: (m, i) for t, m, i in con.execute(
            "SELECT tenant_id, max(mtime_ns), arg_max(ingested_at, mtime_ns) FROM audit.files "
            "WHERE status = 'loaded' GROUP BY 1 ORDER BY 1").fetchall()}


def last_run() -> dict | None:
    with connect(read_only=True) as con:
        cur = con.execute("SELECT * FROM audit.runs ORDER BY finished_at DESC LIMIT 1")
        row = cur.fetchone()
        return dict(zip([d[0] for d in cur.description], row)) if row else None


def run_figures(run_id: str) -> dict:
    """What one run ingested: files by status, rows loaded and quarantined (by rule), rejected files."""
    settings = get_settings()
    figures = {"files_loaded": 0, "files_rejected": 0, "files_duplicate": 0, "rows_loaded": 0,
               "rows_quarantined": 0, "quarantined_by_rule": {}, "rejected_files": [], "tenants_loaded": []}
    if not settings.warehouse_path.exists():
        return figures
    with connect(settings=settings, read_only=True) as con:
        has_audit = con.execute(
            "SELECT count(*) FROM duckdb_tables() WHERE schema_name = 'audit' AND table_name = 'files'").fetchone()[0]
        if not has_audit:
            return figures
        for status, n, loaded, quarantined in con.execute(
                "SELECT status, count(*), sum(rows_loaded), sum(rows_quarantined) FROM audit.files "
                "WHERE run_id = ? GROUP BY status", [run_id]).fetchall():
            figures[f"files_{status}"] = n
            figures["rows_loaded"] += int(loaded or 0)
            figures["rows_quarantined"] += int(quarantined or 0)
        figures["rejected_files"] = con.execute(
            "SELECT file_path, reason FROM audit.files WHERE run_id = ? AND status = 'rejected' ORDER BY 1",
            [run_id]).fetchall()
        figures["tenants_loaded"] = [t for (t,) in con.execute(
            "SELECT DISTINCT tenant_id FROM audit.files WHERE run_id = ? AND status = 'loaded' ORDER BY 1",
            [run_id]).fetchall()]
        figures["quarantined_by_rule"] = dict(con.execute(
            "SELECT rule_id, count(*) FROM quarantine.rows WHERE run_id = ? GROUP BY 1 ORDER BY 1",
            [run_id]).fetchall())
    return figures
