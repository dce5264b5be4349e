"""What was ingested: read from the manifest (audit.files) and the run log (audit.runs)."""
from __future__ import annotations

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


def last_run() -> dict | None:
    with connect(read_only=True) as con:
        cur = con.execute("SELECT * FROM audit.runs ORDER BY finished_at DESC LIMIT 1")
        row = cur.fetchone()
        return dict(zip([d[0] for d in cur.description], row)) if row else None
