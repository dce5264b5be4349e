"""Ingestion: landing files -> contract row rules -> quarantine or MERGE into raw.<entity>.

Every row of a file ends in exactly one place (raw table or quarantine) and every file's
reconciliation (rows read = loaded + quarantined) is recorded in audit.files in the same
transaction as the rows, so a file is never half-loaded. All row work is SQL in DuckDB; Python
touches only file names, distinct user ids (for the HMAC) and counts.
"""
from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import duckdb
import pyarrow as pa

from pipelines.contracts import ENTITIES, META_COLUMNS, Contract, _lit, load_contract, q
from pipelines.ingest.discover import LandingFile
from pipelines.ingest import manifest
from pipelines.ingest.landing import open_landing
from pipelines.ingest.readers import FileRejected, read_csv_files, read_into
from pipelines.ingest.retired import RetiredTenants
from pipelines.ingest.schema import ensure_schema
from pipelines.ingest.settle import drop_unsettled
from pipelines.settings import Settings, get_settings
from pipelines.vault import store as vault
from pipelines.vault.pseudonyms import apply_tombstones, ensure_keys, pseudonymise, write_identities

BATCH_BYTES = 256 * 1024 * 1024   # files are grouped up to this size per transaction (memory bound)
REDACTED = "[redacted]"

Log = Callable[[str], None]
Progress = Callable[[int, int], None]


@dataclass
class FileResult:
    rel: str
    tenant_id: str
    entity: str
    status: str            # loaded | rejected | duplicate
    rows_read: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    reason: str | None = None


@dataclass
class IngestReport:
    run_id: str
    files_seen: int = 0
    files: list[FileResult] = field(default_factory=list)
    quarantined_by_rule: Counter = field(default_factory=Counter)

    def for_entity(self, entity: str) -> list[FileResult]:
        return [f for f in self.files if f.entity == entity]

    @property
    def rows_loaded(self) -> int:
        return sum(f.rows_loaded for f in self.files)

    @property
    def rows_quarantined(self) -> int:
        return sum(f.rows_quarantined for f in self.files)




def _record_file(con, run_id: str, f: LandingFile, digest: str | None, res: FileResult) -> None:
    con.execute(
        "INSERT INTO audit.files (file_path, content_hash, tenant_id, entity, file_format, size_bytes, mtime_ns, "
        "status, rows_read, rows_loaded, rows_quarantined, reason, run_id, ingested_at, etag) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, now(), ?)",
        [f.rel, digest, f.tenant_id, f.entity, f.fmt, f.size, f.mtime_ns, res.status, res.rows_read,
         res.rows_loaded, res.rows_quarantined, res.reason, run_id, f.etag],
    )


def _reject(con, run_id: str, f: LandingFile, digest: str | None, rule: str, reason: str) -> FileResult:
    res = FileResult(f.rel, f.tenant_id, f.entity, "rejected", reason=reason)
    con.execute(
        "INSERT INTO quarantine.rows VALUES (?, ?, ?, ?, NULL, ?, ?, NULL, now())",
        [run_id, f.tenant_id, f.entity, f.rel, rule, reason],
    )
    _record_file(con, run_id, f, digest, res)
    return res


def _case_rule(contract: Contract) -> str:
    whens = " ".join(f"WHEN {r.violation} THEN '{r.id}'" for r in contract.rules())
    return f"CASE {whens} END"


def _payload(contract: Contract) -> str:
    """JSON of a quarantined row with personal data pseudonymised or redacted."""
    parts = []
    for f in contract.fields:
        if f.pii == "identifier":
            value = f"_pseudo_{f.name}"
        elif f.pii in ("direct_identifier", "free_text"):
            value = f"CASE WHEN {q(f.name)} IS NULL THEN NULL ELSE '{REDACTED}' END"
        else:
            value = q(f.name)
        parts.append(f"'{f.name}', {value}")
    return f"json_object({', '.join(parts)})"


def _pseudonym_joins(con, contract: Contract, stage: str) -> tuple[str, str]:
    """SELECT columns and joins that add _pseudo_<field> for identifier fields.

    The HMAC is computed in Python once per distinct (tenant, id), a few hundred values, and
    joined in SQL; row data never passes through Python.
    """
    idents = [f.name for f in contract.fields if f.pii == "identifier"]
    if not idents:
        return "", ""
    pairs = con.execute(
        " UNION ".join(f"SELECT DISTINCT _folder_tenant, {q(n)} FROM {stage} WHERE {q(n)} IS NOT NULL"
                       for n in idents)
    ).fetchall()
    con.execute("CREATE OR REPLACE TEMP TABLE _pseudo_map (tenant VARCHAR, value VARCHAR, pseudonym VARCHAR)")
    if pairs:
        con.register("_pseudo_arrow", pa.table({
            "tenant": [t for t, _ in pairs],
            "value": [v for _, v in pairs],
            "pseudonym": pseudonymise(con, pairs),
        }))
        con.execute("INSERT INTO _pseudo_map SELECT * FROM _pseudo_arrow")
        con.unregister("_pseudo_arrow")
        apply_tombstones(con, "_pseudo_map")
    joins = " ".join(f"LEFT JOIN _pseudo_map m{i} ON m{i}.tenant = s._folder_tenant AND m{i}.value = s.{q(n)}"
                     for i, n in enumerate(idents))
    cols = "".join(f", m{i}.pseudonym AS _pseudo_{n}" for i, n in enumerate(idents))
    return cols, joins


def _apply_batch(con, contract: Contract, batch: list[tuple[LandingFile, str]], run_id: str,
                 report: IngestReport, log: Log, warn: Log) -> None:
    """Read, check and merge a group of files of one entity in a single transaction."""
    stage = f"stage_{contract.entity}"
    text_cols = ", ".join(f"{q(n)} VARCHAR" for n in contract.field_names)
    # Files are read into a temp table first (CSV files sharing a header in one statement; a
    # statement that fails is read again file by file), so a file that fails to parse aborts
    # nothing else; only then one transaction writes rows, quarantine and manifest.
    con.execute(f"CREATE OR REPLACE TEMP TABLE {stage} (_file_no INTEGER, "
                f"_folder_tenant VARCHAR, {text_cols}, _rule VARCHAR)")
    rule_sql = _case_rule(contract)
    readable: dict[int, tuple[LandingFile, str, int, int]] = {}   # file_no -> (file, hash, rows, first rowid)
    rejected: list[tuple[LandingFile, str, FileRejected]] = []
    try:
        # CSV files in one pass per header (readers.read_csv_files); other formats file by file.
        counted, refused = read_csv_files(con, stage, [(i, f) for i, (f, _) in enumerate(batch) if f.fmt == "csv"],
                                          contract, rule_sql)
        for i, (f, _) in enumerate(batch):
            if f.fmt != "csv":
                try:
                    counted[i] = read_into(con, stage, f, contract, i, rule_sql)
                except FileRejected as rej:
                    refused.append((i, rej))
        refused = drop_unsettled(con, stage, batch, counted, refused, warn)   # written to while read: next run
        rejected = [(batch[i][0], batch[i][1], rej) for i, rej in sorted(refused, key=lambda r: r[0])]
        starts = dict(con.execute(f"SELECT _file_no, min(rowid) FROM {stage} GROUP BY 1").fetchall()) if counted else {}
        readable = {i: (batch[i][0], batch[i][1], counted[i], starts[i]) for i in sorted(counted)}
        checked = _check(con, contract, stage) if readable else None
        if checked and contract.entity == "users":
            write_identities(con, checked)
        con.execute("BEGIN TRANSACTION")
        try:
            for f, digest, rej in rejected:
                report.files.append(_reject(con, run_id, f, digest, rej.rule, rej.reason))
                report.quarantined_by_rule[rej.rule] += 1
            if checked:
                _write(con, contract, checked, readable, run_id, report, log)
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        for f, _, rej in rejected:
            warn(f"REJECTED {f.rel}: {rej.reason}")
    finally:
        con.execute(f"DROP VIEW IF EXISTS {stage}_checked")
        for t in (stage, "_ranked", "_pseudo_map"):
            con.execute(f"DROP TABLE IF EXISTS {t}")


def _check(con, contract: Contract, stage: str) -> str:
    """Finish the row rules on the staged rows and return a view of them with pseudonyms.

    The contract's row rules were evaluated while reading (stage._rule); what is left is the
    key rule, which needs the whole file. Only keys seen more than once among valid rows
    (usually none) are ranked: the first occurrence in a file wins within the file (later ones
    are quarantined); across files of the batch, the last file (name order) wins and the
    earlier rows are superseded (loaded, then replaced).
    """
    key = ", ".join(f"c.{q(k)}" for k in contract.key)
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _ranked AS
        WITH multi AS (SELECT {key} FROM {stage} c WHERE _rule IS NULL GROUP BY ALL HAVING count(*) > 1)
        SELECT c._file_no, c.rowid AS _rowid,
               row_number() OVER (PARTITION BY c._file_no, {key} ORDER BY c.rowid) AS in_file,
               c._file_no < max(c._file_no) OVER (PARTITION BY {key}) AS superseded
        FROM {stage} c SEMI JOIN multi USING ({", ".join(q(k) for k in contract.key)})
        WHERE c._rule IS NULL""")
    con.execute(f"""
        UPDATE {stage} SET _rule = '{contract.unique_rule.id}'
        FROM _ranked r WHERE r.in_file > 1 AND {stage}.rowid = r._rowid""")
    pseudo_cols, pseudo_joins = _pseudonym_joins(con, contract, stage)
    checked = f"{stage}_checked"
    con.execute(f"CREATE OR REPLACE TEMP VIEW {checked} AS "
                f"SELECT s.*, s.rowid AS _rowid{pseudo_cols} FROM {stage} s {pseudo_joins}")
    return checked


def _write(con, contract: Contract, checked: str, readable: dict, run_id: str, report: IngestReport,
           log: Log) -> None:
    """Quarantine, MERGE and manifest of one batch; the caller holds the transaction."""
    entity = contract.entity
    uniq = contract.unique_rule
    files = pa.table({"_file_no": list(readable), "_path": [readable[i][0].rel for i in readable],
                      "_start": [readable[i][3] for i in readable]})
    con.register("_files", files)
    rules = [(r.id, r.reason) for r in contract.rules()] + [(uniq.id, uniq.reason)]
    con.register("_rules", pa.table({"rule_id": [r for r, _ in rules], "reason": [m for _, m in rules]}))
    try:
        con.execute(f"""
            INSERT INTO quarantine.rows
            SELECT ?, c._folder_tenant, ?, f._path, c._rowid - f._start + 1, c._rule, r.reason, {_payload(contract)}, now()
            FROM {checked} c JOIN _files f USING (_file_no) JOIN _rules r ON r.rule_id = c._rule
            WHERE c._rule IS NOT NULL""", [run_id, entity])
        wcols = contract.warehouse_columns
        names = [n for n, _, _ in wcols]
        exprs = ", ".join(f"CAST({e} AS {t}) AS {q(n)}" for n, t, e in wcols)
        hashed = "hash(" + ", ".join(q(n) for n in names) + ")"
        superseded = con.execute("SELECT count(*) FROM _ranked WHERE superseded").fetchone()[0]
        anti = ("ANTI JOIN (SELECT _rowid FROM _ranked WHERE superseded) x USING (_rowid)"
                if superseded else "")
        con.execute(f"""
            CREATE OR REPLACE TEMP VIEW _src AS
            SELECT * EXCLUDE (_source_run), {hashed} AS _row_hash, _source_run AS _run_id, now() AS _loaded_at
            FROM (SELECT {exprs}, f._path AS _source_file, c._rowid - f._start + 1 AS _source_row, {_lit(run_id)} AS _source_run
                  FROM {checked} c JOIN _files f USING (_file_no)
                  {anti}
                  WHERE c._rule IS NULL)""")
        wkey = " AND ".join(f"t.{q(k)} = s.{q(k)}" for k in contract.warehouse_key)
        overlap = con.execute(f"SELECT EXISTS (SELECT 1 FROM raw.{entity} t SEMI JOIN _src s ON {wkey})").fetchone()[0]
        if overlap:
            con.execute(f"""
                MERGE INTO raw.{entity} AS t USING _src AS s ON {wkey}
                WHEN MATCHED AND t._row_hash IS DISTINCT FROM s._row_hash THEN UPDATE
                WHEN NOT MATCHED THEN INSERT""")
        else:  # all keys new (the usual case for movements): a plain append
            con.execute(f"INSERT INTO raw.{entity} SELECT * FROM _src")
        counts = {i: (r, l, qn) for i, r, l, qn in con.execute(f"""
            SELECT _file_no, count(*), count(*) FILTER (_rule IS NULL), count(*) FILTER (_rule IS NOT NULL)
            FROM {checked} GROUP BY _file_no""").fetchall()}
        for rule, n in con.execute(f"SELECT _rule, count(*) FROM {checked} WHERE _rule IS NOT NULL GROUP BY 1").fetchall():
            report.quarantined_by_rule[rule] += n
    finally:
        con.unregister("_files")
        con.unregister("_rules")
        con.execute("DROP VIEW IF EXISTS _src")

    for i, (f, digest, rows, _) in readable.items():
        read, loaded, quarantined = counts.get(i, (0, 0, 0))
        if read != rows or read != loaded + quarantined:  # reconciliation is an invariant, not a hope
            raise RuntimeError(f"reconciliation failed for {f.rel}: read {rows}, checked {read}")
        res = FileResult(f.rel, f.tenant_id, f.entity, "loaded", read, loaded, quarantined)
        _record_file(con, run_id, f, digest, res)
        report.files.append(res)
        log(f"loaded {f.rel}: {read} rows read, {loaded} loaded, {quarantined} quarantined")


def _batches(files: list[tuple[LandingFile, str]]) -> list[list[tuple[LandingFile, str]]]:
    out, cur, size = [], [], 0
    for item in files:
        if cur and size + item[0].size > BATCH_BYTES:
            out.append(cur)
            cur, size = [], 0
        cur.append(item)
        size += item[0].size
    if cur:
        out.append(cur)
    return out


def ingest(landing: Path | str | None = None, settings: Settings | None = None, run_id: str | None = None,
           entities: tuple[str, ...] = ENTITIES, log: Log = lambda m: None,
           progress: Progress | None = None, warn: Log | None = None) -> IngestReport:
    """Ingest every landing file the manifest has not seen; safe to run again at any time.

    `landing`: a folder or an az:// URL (default: MIRA_LANDING). `log` gets one line per file;
    `warn` (default: `log`) gets the rejections.
    """
    warn = warn or log
    settings = settings or get_settings()
    source = open_landing(settings, landing)
    run_id = run_id or uuid.uuid4().hex
    report = IngestReport(run_id=run_id)
    started = datetime.now(timezone.utc)
    # A retired tenant's files (retention) are rejected under a masked path, never read.
    retired = RetiredTenants.load(settings)
    # The vault first: it makes this the only ingest of the home, which the blob downloads rely on.
    with vault.session(settings) as con, source.session(run_id):
        all_files = [retired.screen(f) for f in source.discover() if f.entity in entities or f.problem]
        report.files_seen = len(all_files)
        ensure_schema(con)
        by_path, by_hash = manifest.known(con)
        pending: dict[str, list[tuple[LandingFile, str]]] = {e: [] for e in ENTITIES}
        done = 0
        total = len(all_files)
        # Blobs new or changed since the manifest's record, downloaded (a blob in the wrong place, or
        # a retired tenant's, is reported and never downloaded); a folder's files are read in place.
        moved = source.fetch_all([f for f in all_files if not manifest.unchanged(f, by_path.get(f.rel))
                                  and not (f.etag is not None and f.problem)])
        for f in all_files:
            prev = by_path.get(f.rel)
            if manifest.unchanged(f, prev):
                done += 1
                continue  # unchanged since it was last recorded
            if f.rel in moved:
                warn(f"CHANGED {f.rel} while it was read: not recorded, the next run reads it again")
                done += 1
                continue
            digest = None if f.etag is not None and f.problem else f.content_hash()
            if prev and digest is not None and prev[2] == digest:
                if f.etag is not None:
                    manifest.remember_etag(con, f)
                done += 1
                continue
            if f.problem:
                report.files.append(_reject(con, run_id, f, digest, f.problem_rule, f.problem))
                report.quarantined_by_rule[f.problem_rule] += 1
                warn(f"REJECTED {f.rel}: {f.problem}")
                done += 1
                continue
            if digest in by_hash:
                res = FileResult(f.rel, f.tenant_id, f.entity, "duplicate",
                                 reason=f"same content as {by_hash[digest]}, already loaded")
                _record_file(con, run_id, f, digest, res)
                report.files.append(res)
                log(f"skipped {f.rel}: {res.reason}")
                done += 1
                continue
            by_hash[digest] = f.rel  # a second copy within this run is a duplicate too
            pending[f.entity].append((f, digest))
        if progress:
            progress(done, total)
        # Keys first, in the vault's own transaction: one transaction writes one database.
        ensure_keys(con, {f.tenant_id for files in pending.values() for f, _ in files})
        for entity in ENTITIES:
            contract = load_contract(entity)
            for batch in _batches(pending[entity]):
                _apply_batch(con, contract, batch, run_id, report, log, warn)
                done += len(batch)
                if progress:
                    progress(done, total)
        con.execute("INSERT INTO audit.runs VALUES (?, ?, now(), ?, ?, ?, ?)",
                    [run_id, started, report.files_seen, sum(1 for f in report.files if f.status == "loaded"),
                     report.rows_loaded, report.rows_quarantined])
    return report
