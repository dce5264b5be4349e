"""Erasure in the landing zone: the operational platform's files are purged of one person.

A file of the person's tenant is rewritten only if it holds them: in a file of an entity about
the person (users: the identifier is the row's key) their row is dropped; elsewhere (movements)
the identifier becomes the erasure token, so the rows, and every total built from them, stay;
free-text fields (notes, never loaded, but written by staff who name colleagues) lose the
person's email, user id and names. Each file is written beside the original and renamed over it
(atomic), in its own format; a file that cannot be parsed is purged as text.

In a Blob Storage landing (MIRA_LANDING=az://...) the tenant's blobs are downloaded into the
ingestion's private folder (pipelines/ingest/blobs.py), purged there the same way, and uploaded
over the original only if it is still the version read (its ETag); a blob changed meanwhile fails
the step, which the request's re-run does again.

Re-ingesting a purged file changes nothing: a token found in a landing file maps to itself at
ingestion (the tombstone), so the rows merge onto the re-keyed ones unchanged.
"""
from __future__ import annotations

import codecs
import csv
import hashlib
import io
import json
import os
import re
import uuid
from dataclasses import dataclass
from pathlib import Path

from pipelines.contracts import ENTITIES, Contract, load_contract
from pipelines.ingest.blobs import BlobLanding, LandingUnavailable
from pipelines.ingest.discover import discover
from pipelines.settings import BLOB_SCHEME, get_settings
from pipelines.warehouse import fsync

REDACTED = "[redacted]"


@dataclass(frozen=True)
class Subject:
    """Who to purge: the values to look for, and the token the identifier becomes. Names and
    emails are tuples: the vault's current ones, and those found in the landing files' own rows
    (a rectified email is still the old one in an old file)."""
    user_id: str
    token: str
    first_names: tuple[str, ...] = ()
    last_names: tuple[str, ...] = ()
    emails: tuple[str, ...] = ()

    def with_values(self, first_names=(), last_names=(), emails=()) -> "Subject":
        def merged(old, new):
            return tuple(dict.fromkeys([*old, *(v for v in new if v)]))
        return Subject(self.user_id, self.token, merged(self.first_names, first_names),
                       merged(self.last_names, last_names), merged(self.emails, emails))

    def text_pattern(self) -> re.Pattern | None:
        """Free text: emails, user id, full names, then each name as a whole word."""
        parts = [re.escape(v) for v in (*self.emails, self.user_id) if v]
        parts += [re.escape(f"{a} {b}") for f in self.first_names for la in self.last_names
                  for a, b in ((f, la), (la, f))]
        parts += [rf"\b{re.escape(n)}\b" for n in (*self.first_names, *self.last_names) if n]
        return re.compile("|".join(parts)) if parts else None

    def needles(self) -> list[bytes]:
        values = [self.user_id, *self.emails, *self.first_names, *self.last_names]
        return [v.encode("utf-8") for v in values if v]


@dataclass(frozen=True)
class Rewritten:
    rel: str                # relative to the landing root, as in audit.files
    size: int
    mtime_ns: int
    content_hash: str
    rows_dropped: int
    values_replaced: int
    etag: str | None = None     # a blob's new ETag (None for a file of a landing folder)


class _Plan:
    """What to do with a row of one entity's files."""

    def __init__(self, contract: Contract | None, subject: Subject):
        self.subject = subject
        self.pattern = subject.text_pattern()
        if contract is None:
            self.identifiers, self.drop_on, self.free_text = (), (), ()
            return
        idents = [f.name for f in contract.fields if f.pii == "identifier"]
        self.drop_on = tuple(n for n in idents if n in contract.key)        # rows about the person
        self.identifiers = tuple(n for n in idents if n not in contract.key)
        self.free_text = tuple(f.name for f in contract.fields if f.pii == "free_text")

    def row(self, row: dict) -> tuple[dict | None, int]:
        """(the row to write, or None to drop it; values replaced)."""
        uid = self.subject.user_id
        if any(row.get(n) == uid for n in self.drop_on):
            return None, 0
        changed = 0
        for n in self.identifiers:
            if row.get(n) == uid:
                row[n] = self.subject.token
                changed += 1
        for n in self.free_text:
            value = row.get(n)
            if isinstance(value, str) and self.pattern is not None:
                new = self.pattern.sub(REDACTED, value)
                if new != value:
                    row[n] = new
                    changed += 1
        return row, changed

    def text(self, text: str) -> tuple[str, int]:
        """A file that cannot be parsed: replace the identifier by the token, the rest by [redacted]."""
        n = text.count(self.subject.user_id)
        text = text.replace(self.subject.user_id, self.subject.token)
        if self.pattern is not None:
            text, m = self.pattern.subn(REDACTED, text)
            n += m
        return text, n


def _csv(data: bytes, plan: _Plan) -> tuple[bytes, int, int]:
    bom = data.startswith(codecs.BOM_UTF8)
    text = data.decode("utf-8-sig")
    first_line = text.split("\n", 1)[0]
    newline = "\r\n" if first_line.endswith("\r") else "\n"
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator=newline)
    writer.writerow(header)
    dropped = replaced = 0
    for values in reader:
        if len(values) != len(header):
            raise ValueError("ragged row")
        row, n = plan.row(dict(zip(header, values)))
        if row is None:
            dropped += 1
            continue
        replaced += n
        writer.writerow([row[h] for h in header])
    body = out.getvalue().encode("utf-8")
    return (codecs.BOM_UTF8 + body if bom else body), dropped, replaced


def _jsonl(data: bytes, plan: _Plan) -> tuple[bytes, int, int]:
    lines = data.decode("utf-8").splitlines(keepends=True)
    out: list[str] = []
    dropped = replaced = 0
    for line in lines:
        if not line.strip():
            out.append(line)
            continue
        obj = json.loads(line)
        row, n = plan.row(dict(obj))
        if row is None:
            dropped += 1
            continue
        if n:
            end = "\r\n" if line.endswith("\r\n") else ("\n" if line.endswith("\n") else "")
            line = json.dumps(row, ensure_ascii=False, separators=(",", ":")) + end
            replaced += n
        out.append(line)
    return "".join(out).encode("utf-8"), dropped, replaced


def _parquet(path: Path, tmp: Path, plan: _Plan) -> tuple[int, int]:
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    uid = plan.subject.user_id
    keep = None
    for n in plan.drop_on:
        if n in table.column_names:
            hit = pc.fill_null(pc.equal(table[n], uid), False)
            keep = pc.invert(hit) if keep is None else pc.and_(keep, pc.invert(hit))
    dropped = 0
    if keep is not None:
        dropped = table.num_rows - pc.sum(pc.cast(keep, pa.int64())).as_py()
        table = table.filter(keep)
    replaced = 0
    for n in plan.identifiers:
        if n in table.column_names:
            col = table[n]
            hit = pc.fill_null(pc.equal(col, uid), False)
            replaced += pc.sum(pc.cast(hit, pa.int64())).as_py() or 0
            table = table.set_column(table.column_names.index(n), n,
                                     pc.if_else(hit, pa.scalar(plan.subject.token, col.type), col))
    if plan.pattern is not None:
        for n in plan.free_text:
            if n in table.column_names and pa.types.is_string(table[n].type):
                col = table[n]
                new = pc.replace_substring_regex(col, pattern=plan.pattern.pattern, replacement=REDACTED)
                changed = pc.fill_null(pc.not_equal(col, new), False)
                replaced += pc.sum(pc.cast(changed, pa.int64())).as_py() or 0
                table = table.set_column(table.column_names.index(n), n, new)
    if dropped or replaced:
        pq.write_table(table, tmp)
    return dropped, replaced


def _rows(path: Path, fmt: str):
    """Every row of a readable landing file, as a dict of strings (small files: users)."""
    if fmt == "csv":
        yield from csv.DictReader(io.StringIO(path.read_bytes().decode("utf-8-sig"), newline=""))
    elif fmt == "jsonl":
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                yield json.loads(line)
    elif fmt == "parquet":
        import pyarrow.parquet as pq

        yield from pq.read_table(path).to_pylist()


def _known_values(files, contracts: dict[str, Contract], subject: Subject) -> Subject:
    """The subject's names and emails as the landing files' own rows about them hold them."""
    firsts, lasts, emails = [], [], []
    for f in files:
        contract = contracts.get(f.entity)
        if f.problem or contract is None:
            continue
        keys = [x.name for x in contract.fields if x.pii == "identifier" and x.name in contract.key]
        direct = [x.name for x in contract.fields if x.pii == "direct_identifier"]
        if not keys or not direct:
            continue
        try:
            for row in _rows(f.path, f.fmt):
                if any(row.get(k) == subject.user_id for k in keys):
                    firsts += [row.get(n) for n in direct if n.startswith("first")]
                    lasts += [row.get(n) for n in direct if n.startswith("last")]
                    emails += [row.get(n) for n in direct if "mail" in n]
        except (ValueError, csv.Error, UnicodeDecodeError, OSError):
            continue   # unreadable: purged as text below, with the values known so far
    return subject.with_values(firsts, lasts, emails)


def purge_landing(landing: Path | str, tenant_id: str, subject: Subject, settings=None) -> list[Rewritten]:
    """Rewrite every file of the tenant that holds the subject; returns what was rewritten.
    `landing`: a folder, or an az:// URL (reached with `settings`' Azure access)."""
    if str(landing).startswith(BLOB_SCHEME):
        return _purge_blobs(BlobLanding(settings or get_settings(), str(landing)), tenant_id, subject)
    landing = Path(landing)
    done: list[Rewritten] = []
    contracts = {e: load_contract(e) for e in ENTITIES}
    files = [f for f in discover(landing) if f.tenant_id == tenant_id and not f.is_link]
    subject = _known_values(files, contracts, subject)
    for f in files:
        plan = _Plan(contracts.get(f.entity) if not f.problem else None, subject)
        tmp = f.path.with_name(f".{f.path.name}.purge")   # hidden: ingestion never picks it up
        try:
            dropped, replaced = _purge_file(f.path, f.fmt if not f.problem else None, tmp, plan)
            if not (dropped or replaced):
                continue
            fsync(tmp)
            os.replace(tmp, f.path)
        finally:
            tmp.unlink(missing_ok=True)
        fsync(f.path.parent)
        st = f.path.stat()
        done.append(Rewritten(f.rel, st.st_size, st.st_mtime_ns, _sha256(f.path), dropped, replaced))
    return done


def _purge_blobs(source: BlobLanding, tenant_id: str, subject: Subject) -> list[Rewritten]:
    done: list[Rewritten] = []
    contracts = {e: load_contract(e) for e in ENTITIES}
    with source.session(f"erase-{uuid.uuid4().hex}"):
        files = [f for f in source.discover() if f.tenant_id == tenant_id]
        changed = [f.rel for f in files if not source.fetch(f)]
        if changed:
            raise LandingUnavailable("a landing blob changed while it was read for the erasure; run the request again")
        subject = _known_values(files, contracts, subject)
        for f in files:
            plan = _Plan(contracts.get(f.entity) if not f.problem else None, subject)
            tmp = f.path.with_name(f.path.name + ".purge")
            dropped, replaced = _purge_file(f.path, f.fmt if not f.problem else None, tmp, plan)
            if not (dropped or replaced):
                continue
            etag, mtime_ns = source.replace(f, tmp)
            done.append(Rewritten(f.rel, tmp.stat().st_size, mtime_ns, _sha256(tmp), dropped, replaced, etag))
    return done


def _purge_file(path: Path, fmt: str | None, tmp: Path, plan: _Plan) -> tuple[int, int]:
    if fmt == "parquet":
        return _parquet(path, tmp, plan)
    data = path.read_bytes()
    if not any(n in data for n in plan.subject.needles()):
        return 0, 0
    try:
        if fmt == "csv":
            new, dropped, replaced = _csv(data, plan)
        elif fmt == "jsonl":
            new, dropped, replaced = _jsonl(data, plan)
        else:
            raise ValueError("not a known format")
    except (ValueError, csv.Error, StopIteration, UnicodeDecodeError):
        # A file ingestion rejected (or would): still personal data, purged as text.
        try:
            text, encoding = data.decode("utf-8"), "utf-8"
        except UnicodeDecodeError:
            text, encoding = data.decode("latin-1"), "latin-1"
        purged, replaced = plan.text(text)
        new, dropped = purged.encode(encoding, errors="replace"), 0
    if not (dropped or replaced) or new == data:
        return 0, 0
    tmp.write_bytes(new)
    return dropped, replaced


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
