"""What the benchmark scripts share: the size of the generated data, asked the same way."""
from __future__ import annotations

import argparse


def parser(doc: str | None, *, tenants: int) -> argparse.ArgumentParser:
    """A parser with the data-size options every benchmark takes (movements, tenants, days)."""
    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--movements", type=int, default=1_000_000)
    ap.add_argument("--tenants", type=int, default=tenants)
    ap.add_argument("--days", type=int, default=365)
    return ap
