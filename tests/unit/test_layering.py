"""The layout's rules, checked on the source (AST): who may import whom, who may open what.

- no import cycles between modules (lazy imports inside functions count: they are still a cycle);
- Dagster definitions live in `<stage>/assets.py`, and only `pipelines/definitions.py` and
  `pipelines/cli/` import those modules (the stages hand each other keys through `defs()`);
- only `pipelines/vault/` opens the vault (its path, its key, SQL on its tables);
- only `pipelines/accounts/` opens accounts.db;
- `dashboards/` imports from `pipelines` only the serving files' module, the rollups'
  definitions, accounts (the login) and settings;
- of `pipelines`, only the mail stage (`pipelines/mail/`, downstream of the dashboards) imports
  the dashboards' code, and only `dashboards.mail`, which writes the mails;
- nothing outside `pipelines/cli/` imports `pipelines.cli`;
- every module is under 400 lines.
Each rule is also run on a small made-up tree that breaks it, so a checker that finds nothing
cannot pass unnoticed.
"""
from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("pipelines", "dashboards")
DAGSTER_DEFINERS = {"asset", "multi_asset", "dbt_assets", "asset_check", "sensor", "run_failure_sensor", "job",
                    "op", "schedule", "define_asset_job", "ScheduleDefinition"}
DASHBOARD_MAY_IMPORT = ("pipelines.serving.files", "pipelines.serving.rollups", "pipelines.accounts",
                        "pipelines.settings")
MAIL_STAGE, MAIL_CONTENT = "pipelines.mail", "dashboards.mail"
VAULT_TABLES = ("identities", "tenant_keys", "tombstones", "requests", "restrictions", "serving_keys")
MAX_LINES = 400


def module_sources(root: Path = REPO) -> dict[str, str]:
    out = {}
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            out[name] = path.read_text(encoding="utf-8")
    return out


def imports(name: str, tree: ast.AST, known: set[str]) -> set[str]:
    """Project modules `name` imports (`from a import b` counts as a.b when a.b is a module)."""
    found = set()
    package = name if f"{name}.__init__" in known else name.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] in PACKAGES}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
            if base.split(".")[0] not in PACKAGES:
                continue
            for a in node.names:
                found.add(f"{base}.{a.name}" if f"{base}.{a.name}" in known else base)
    return found - {name}


def graph(sources: dict[str, str]) -> dict[str, set[str]]:
    known = set(sources) | {f"{n}.__init__" for n in sources}
    return {n: imports(n, ast.parse(src), known) & set(sources) for n, src in sources.items()}


def cycles(g: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in g.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(g):
        if v not in index:
            visit(v)
    return out


def _in(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def defines_dagster_objects(tree: ast.AST) -> bool:
    return any(isinstance(n, ast.ImportFrom) and (n.module or "").split(".")[0] in ("dagster", "dagster_dbt")
               and any(a.name in DAGSTER_DEFINERS for a in n.names) for n in ast.walk(tree))


def violations(sources: dict[str, str]) -> list[str]:
    g = graph(sources)
    found = [f"import cycle: {' <-> '.join(c)}" for c in cycles(g)]
    for name, src in sources.items():
        tree = ast.parse(src)
        deps = g[name]
        if defines_dagster_objects(tree) and not name.endswith(".assets"):
            found.append(f"{name} defines Dagster assets/jobs/sensors outside a <stage>/assets.py module")
        for dep in deps:
            if dep.endswith(".assets") and name != "pipelines.definitions" and not _in(name, "pipelines.cli"):
                found.append(f"{name} imports the asset module {dep} (only definitions.py and cli/ may)")
            if _in(dep, "pipelines.cli") and not _in(name, "pipelines.cli"):
                found.append(f"{name} imports {dep}: nothing outside pipelines/cli imports the CLI")
            if _in(name, "dashboards") and dep.startswith("pipelines") and \
                    not any(_in(dep, allowed) for allowed in DASHBOARD_MAY_IMPORT):
                found.append(f"{name} imports {dep}: dashboards may import only {', '.join(DASHBOARD_MAY_IMPORT)}")
            if _in(name, "pipelines") and _in(dep, "dashboards") and not (_in(name, MAIL_STAGE) and dep == MAIL_CONTENT):
                found.append(f"{name} imports {dep}: of pipelines only {MAIL_STAGE} imports the dashboards, "
                             f"and only {MAIL_CONTENT}")
        if not _in(name, "pipelines.vault"):
            found += [f"{name} {what}" for what in _vault_access(tree)]
        if not _in(name, "pipelines.accounts"):
            found += [f"{name} {what}" for what in _accounts_access(tree)]
        if len(src.splitlines()) >= MAX_LINES:
            found.append(f"{name} has {len(src.splitlines())} lines (keep modules under {MAX_LINES})")
    return sorted(found)


_VAULT_SQL = re.compile(r"\b(FROM|INTO|UPDATE|JOIN|EXISTS)\s+vault\.(" + "|".join(VAULT_TABLES) + r")\b", re.I)


def _docstrings(tree: ast.AST) -> set[int]:
    """ids of the docstring nodes: prose may name the vault's file; code may not."""
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body \
                and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant):
            out.add(id(node.body[0].value))
    return out


def _code(tree: ast.AST):
    """Every node but docstrings."""
    prose = _docstrings(tree)
    return (node for node in ast.walk(tree) if id(node) not in prose)


def _text(node: ast.AST) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _vault_access(tree: ast.AST) -> list[str]:
    out = []
    for node in _code(tree):
        text = _text(node)
        if isinstance(node, ast.Attribute) and node.attr in ("vault_path", "attach_vault", "open_vault"):
            out.append(f"uses .{node.attr} (only pipelines/vault opens the vault)")
        elif text and "vault.duckdb" in text:
            out.append("names vault.duckdb (only pipelines/vault opens the vault)")
        elif text and _VAULT_SQL.search(text):
            out.append(f"has SQL on the vault's tables ({_VAULT_SQL.search(text).group(0)})")
        elif isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", None)) in \
                ("file_key", "derive_key") and node.args and _text(node.args[0]) == "vault":
            out.append("derives the vault's key (only pipelines/vault does)")
    return out


def _accounts_access(tree: ast.AST) -> list[str]:
    out = []
    for node in _code(tree):
        if isinstance(node, ast.Import) and any(a.name == "sqlite3" for a in node.names) or \
                isinstance(node, ast.ImportFrom) and node.module == "sqlite3":
            out.append("imports sqlite3 (only pipelines/accounts opens accounts.db)")
        elif "accounts.db" in (_text(node) or ""):
            out.append("names accounts.db (only pipelines/accounts opens it)")
    return out


def test_the_layout_keeps_its_rules():
    assert violations(module_sources()) == []


# Made-up trees, one forbidden thing each: the checker must name it.
BASE = {
    "pipelines": "",
    "pipelines.settings": "X = 1\n",
    "pipelines.vault": "",
    "pipelines.vault.store": "from pipelines.settings import X\nSQL = 'SELECT * FROM vault.identities'\n",
    "pipelines.serving": "",
    "pipelines.serving.files": "from pipelines.vault import store\n",
    "pipelines.serving.assets": "from dagster import asset\nfrom pipelines.serving import files\n",
    "pipelines.definitions": "from pipelines.serving import assets\n",
    "pipelines.cli": "",
    "pipelines.cli.app": "from pipelines.serving import assets\n",
    "dashboards": "",
    "dashboards.data": "from pipelines.serving import files\n",
    "dashboards.mail": "from dashboards import data\n",
    "pipelines.mail": "",
    "pipelines.mail.send": "def later():\n    from dashboards import mail\n",
}


@pytest.mark.parametrize("module, source, expected", [
    ("pipelines.settings", "from pipelines.serving import files\n", "import cycle"),
    ("pipelines.serving.files", "from pipelines.serving import files\nfrom pipelines.serving import assets\n",
     "imports the asset module pipelines.serving.assets"),
    ("pipelines.serving.files", "def later():\n    from pipelines.cli import app\n", "nothing outside pipelines/cli"),
    ("pipelines.serving.files", "from dagster import asset\n", "outside a <stage>/assets.py"),
    ("dashboards.data", "from pipelines.vault import store\n", "dashboards may import only"),
    ("pipelines.serving.files", "SQL = 'DELETE FROM vault.tombstones'\n", "SQL on the vault's tables"),
    ("pipelines.serving.files", "def f(s):\n    return s.vault_path\n", "uses .vault_path"),
    ("pipelines.serving.files", "from pipelines import keys\nK = keys.file_key('vault')\n", "derives the vault's key"),
    ("pipelines.serving.files", "import sqlite3\n", "imports sqlite3"),
    ("pipelines.serving.files", "def later():\n    from dashboards import mail\n", "only pipelines.mail imports"),
    ("pipelines.mail.send", "from dashboards import data\n", "only pipelines.mail imports the dashboards"),
    ("pipelines.serving.files", "X = 1\n" * MAX_LINES, "lines (keep modules under"),
])
def test_a_forbidden_import_or_access_is_reported(module, source, expected):
    assert violations(BASE) == [], "the made-up base tree must be clean"
    broken = {**BASE, module: source}
    assert any(expected in v for v in violations(broken)), violations(broken)
