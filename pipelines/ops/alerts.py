"""Failure alerts: one JSON line per failed run in $MIRA_HOME/logs/alerts.jsonl, and a POST to
MIRA_ALERT_WEBHOOK when it is set.

An alert goes to places outside the platform's control (a chat channel, a pager), so it carries
what ops need to find the run (ids, step, the first line of the error, a link to the UI) and
nothing else: no metadata, no row data. The error line is the only free text; DuckDB quotes the
offending *values* in single quotes (`Could not convert string 'Jane' to INT32`), so single-quoted
literals are masked and the line is capped.
"""
from __future__ import annotations

import fcntl
import json
import logging
import re
import urllib.error
import urllib.request
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Iterator

from pipelines.settings import Settings, get_settings

log = logging.getLogger(__name__)

ALERTS_FILE = "alerts.jsonl"
MAX_ERROR_CHARS = 300
WEBHOOK_TIMEOUT_S = 5
_QUOTED_VALUE = re.compile(r"'(?:[^'\\]|\\.|'')*'")


@dataclass(frozen=True)
class Alert:
    kind: str
    run_id: str
    job: str
    time: str
    failed_step: str | None
    error: str
    run_url: str


@contextmanager
def locked(path: Path, mode: str) -> Iterator[IO[str]]:
    """The alert log opened under an exclusive lock, so the retention job's pruning and the
    sensor's appends never interleave (an append during a prune would otherwise be lost)."""
    with open(path, mode, encoding="utf-8") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield fh
        finally:
            fh.flush()
            fcntl.flock(fh, fcntl.LOCK_UN)


def error_line(message: str | None) -> str:
    """First non-empty line of an error, with quoted values masked and a length cap."""
    lines = [ln.strip() for ln in (message or "").splitlines() if ln.strip()]
    first = _QUOTED_VALUE.sub("'…'", lines[0]) if lines else "(no error message)"
    return first if len(first) <= MAX_ERROR_CHARS else first[: MAX_ERROR_CHARS - 1] + "…"


def make_alert(run_id: str, job: str, failed_step: str | None, message: str | None,
               when: datetime | None = None, settings: Settings | None = None) -> Alert:
    settings = settings or get_settings()
    when = (when or datetime.now(timezone.utc)).astimezone(timezone.utc)
    return Alert(kind="run_failure", run_id=run_id, job=job, time=when.isoformat(timespec="seconds"),
                 failed_step=failed_step, error=error_line(message),
                 run_url=f"{settings.dagster_url}/runs/{run_id}")


def send(alert: Alert, settings: Settings | None = None) -> bool:
    """Append the alert to the log file, then POST it if a webhook is configured.

    Returns whether the webhook accepted it (True when none is configured). A webhook that is
    down is logged, never raised: the sensor must not fail (and retry forever) because the
    chat server is unreachable, and the log line is already written.
    """
    settings = settings or get_settings()
    body = json.dumps(asdict(alert), ensure_ascii=False)
    settings.log_dir.mkdir(parents=True, exist_ok=True)
    with locked(settings.log_dir / ALERTS_FILE, "a") as fh:
        fh.write(body + "\n")
    if not settings.alert_webhook:
        return True
    request = urllib.request.Request(settings.alert_webhook, data=body.encode("utf-8"), method="POST",
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=WEBHOOK_TIMEOUT_S) as response:
            return 200 <= response.status < 300
    except (urllib.error.URLError, OSError, ValueError) as exc:
        # The URL itself may carry a token: name only the failure.
        log.warning("alert webhook failed for run %s: %s", alert.run_id, type(exc).__name__)
        return False
