"""What the benchmark scripts share: the size of the generated data, asked the same way, and the
split of a generated year into the year before a day and that day (the incremental load)."""
from __future__ import annotations

import argparse
from datetime import date
from pathlib import Path


def parser(doc: str | None, *, tenants: int) -> argparse.ArgumentParser:
    """A parser with the data-size options every benchmark takes (movements, tenants, days)."""
    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--movements", type=int, default=1_000_000)
    ap.add_argument("--tenants", type=int, default=tenants)
    ap.add_argument("--days", type=int, default=365)
    return ap


def split_last_day(landing: Path, day: date, day_dir: Path) -> int:
    """Move day's movements out of the monthly files into day_dir/<tenant>/movements/day.csv."""
    import duckdb

    con = duckdb.connect()
    moved = 0
    for f in sorted(landing.glob("*/movements/*.csv")):
        tenant = f.parts[-3]
        con.execute("CREATE OR REPLACE TABLE m AS SELECT * FROM read_csv(?, all_varchar=true, header=true)", [str(f)])
        n = con.execute("SELECT count(*) FROM m WHERE substr(occurred_at, 1, 10) = ?", [day.isoformat()]).fetchone()[0]
        if not n:
            continue
        out = day_dir / tenant / "movements"
        out.mkdir(parents=True, exist_ok=True)
        con.execute(f"COPY (SELECT * FROM m WHERE substr(occurred_at, 1, 10) = '{day.isoformat()}') "
                    f"TO '{out / 'day.csv'}' (HEADER, DELIMITER ',')")
        con.execute(f"COPY (SELECT * FROM m WHERE substr(occurred_at, 1, 10) <> '{day.isoformat()}') "
                    f"TO '{f}' (HEADER, DELIMITER ',')")
        moved += n
    return moved
