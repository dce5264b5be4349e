"""Row rules derived from one contract field: SQL over the landing text, true when a row breaks it.

Values are judged as the text the sender wrote, before any cast, because a cast is where values
change without a word: DuckDB's TRY_CAST rounds '0.1234567' to six decimals, rounds '12.5' to the
integer 13, and turns a number too large for its type into NULL (which then passes every range
check). So the text is checked for form, decimals and integer digits first, and the typed value
the warehouse stores is only ever an exact copy of what was sent.

The fields are duck-typed (pipelines.contracts.Field): this module sits below contracts.py so
that the contract keeps its data and this keeps the SQL.
"""
from __future__ import annotations

from dataclasses import dataclass

from pipelines.warehouse import ident as q
from pipelines.warehouse import literal as _lit

# ISO 8601 with a mandatory UTC offset (Z, +hh, +hhmm or +hh:mm); Parquet writers give "+00".
# The warehouse keeps microseconds: more fractional digits pass only when they are zeros (.NET
# writes seven), so no instant is truncated.
TIMESTAMP_PATTERN = (r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6}0{0,3})?)?"
                     r"(Z|[+-]\d{2}(:?\d{2})?)$")
DATE_PATTERN = r"^\d{4}-\d{2}-\d{2}$"
DECIMAL_PATTERN = r"^[+-]?[0-9]+(\.[0-9]+)?$"
INTEGER_PATTERN = r"^[+-]?[0-9]+$"
# C0 controls except tab, line feed and carriage return (quoted CSV fields may hold line breaks),
# DEL and the C1 controls: invisible in a dashboard, an escape sequence in a terminal, and
# characters an Excel file cannot hold.
CONTROL_CHARS = r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\x{80}-\x{9f}]"
# Significant digits a JSON number keeps through a binary double (DBL_DIG): a JSON reader parses
# 123456789012.123456 into 123456789012.12346, so longer numbers cannot be read exactly.
JSON_EXACT_DIGITS = 15
INTEGER_LIMITS = (-2147483648, 2147483647)   # the warehouse's INTEGER
# Text longer than this is not a name, an id or a code but a broken export (a field that swallowed
# the rest of the file, a pasted document); a contract field may set its own `max_length`.
DEFAULT_MAX_LENGTH = 1000


@dataclass(frozen=True)
class Rule:
    """One row rule: `violation` is a SQL boolean over the text columns, true when broken."""

    id: str
    field: str
    check: str
    violation: str
    reason: str


def sql_type(f) -> str:
    if f.type == "decimal":
        return f"DECIMAL({f.integer_digits + f.decimals},{f.decimals})"
    return {"string": "VARCHAR", "integer": "INTEGER", "date": "DATE", "timestamp": "TIMESTAMPTZ"}[f.type]


def typed(f) -> str:
    """SQL that turns the landing text of field f into its contract type (exact once the rules pass)."""
    if f.type == "string":
        return q(f.name)
    return f"TRY_CAST({q(f.name)} AS {sql_type(f)})"


def decimals_of(column: str) -> str:
    """SQL: the decimals a decimal text carries, trailing zeros aside (they change no value)."""
    return f"length(rtrim(regexp_extract({column}, '\\.([0-9]+)$', 1), '0'))"


def integer_digits_of(column: str) -> str:
    """SQL: the digits before the point, leading zeros aside."""
    return f"length(ltrim(regexp_extract({column}, '^[+-]?([0-9]+)', 1), '0'))"


def significant_digits_of(column: str) -> str:
    """SQL: significant digits of a number's text (JSON numbers as DuckDB prints them)."""
    mantissa = f"regexp_replace(regexp_replace({column}, '[eE].*$', ''), '[^0-9]', '', 'g')"
    return f"length(rtrim(ltrim({mantissa}, '0'), '0'))"


def _in_list(values: tuple[str, ...]) -> str:
    return ", ".join(_lit(v) for v in values)


def condition(when: dict[str, tuple[str, ...]]) -> tuple[str, str]:
    """SQL and words for `field in (values)` conditions of required_when/unless."""
    sql = " OR ".join(f"{q(k)} IN ({_in_list(v)})" for k, v in when.items())
    words = " or ".join(f"{k} is {', '.join(v)}" for k, v in when.items())
    return f"({sql})", words


def num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


def _form_rules(rid: str, f) -> list[Rule]:
    """type (the text's form), then precision and overflow: whether it fits without rounding."""
    c = q(f.name)
    if f.type == "string":
        if f.pii == "free_text":   # never loaded: its characters and length cannot reach anything
            return []
        limit = f.max_length or DEFAULT_MAX_LENGTH
        return [Rule(f"{rid}.type", f.name, "type", f"regexp_matches({c}, '{CONTROL_CHARS}')",
                     f"{f.name} is not plain text: it holds control characters (invisible bytes such as "
                     "escape or bell), or a JSON object or list"),
                Rule(f"{rid}.length", f.name, "length", f"length({c}) > {limit}",
                     f"{f.name} is longer than {limit} characters")]
    if f.type == "integer":
        low, high = INTEGER_LIMITS
        return [
            Rule(f"{rid}.type", f.name, "type", f"{c} IS NOT NULL AND NOT regexp_full_match({c}, '{INTEGER_PATTERN}')",
                 f"{f.name} is not a whole number (digits only: no decimals, exponent or thousands separator)"),
            Rule(f"{rid}.overflow", f.name, "overflow", f"{c} IS NOT NULL AND TRY_CAST({c} AS INTEGER) IS NULL",
                 f"{f.name} is beyond the whole numbers the warehouse keeps ({low} to {high})"),
        ]
    if f.type == "decimal":
        return [
            Rule(f"{rid}.type", f.name, "type", f"{c} IS NOT NULL AND NOT regexp_full_match({c}, '{DECIMAL_PATTERN}')",
                 f"{f.name} is not a decimal number (digits with an optional '.' decimal point; no thousands "
                 "separator, decimal comma, exponent, NaN or Infinity)"),
            Rule(f"{rid}.precision", f.name, "precision", f"{c} IS NOT NULL AND {decimals_of(c)} > {f.decimals}",
                 f"{f.name} has more than {f.decimals} decimals (or, as a JSON number, more than "
                 f"{JSON_EXACT_DIGITS} significant digits: send it as a string); the contract keeps "
                 f"{f.decimals} and never rounds"),
            Rule(f"{rid}.overflow", f.name, "overflow", f"{c} IS NOT NULL AND {integer_digits_of(c)} > {f.integer_digits}",
                 f"{f.name} has more than {f.integer_digits} digits before the decimal point, more than "
                 "the contract allows"),
        ]
    if f.type == "date":
        return [Rule(f"{rid}.type", f.name, "type",
                     f"{c} IS NOT NULL AND (NOT regexp_full_match({c}, '{DATE_PATTERN}') "
                     f"OR TRY_CAST({c} AS DATE) IS NULL)",
                     f"{f.name} is not a date in the form YYYY-MM-DD")]
    return [Rule(f"{rid}.type", f.name, "type",
                 f"{c} IS NOT NULL AND (NOT regexp_full_match({c}, '{TIMESTAMP_PATTERN}') "
                 f"OR TRY_CAST({c} AS TIMESTAMPTZ) IS NULL)",
                 f"{f.name} is not an ISO 8601 timestamp with a UTC offset "
                 "(like 2026-03-01T08:15:00+01:00; at most 6 non-zero fractional digits)")]


def field_rules(entity: str, f) -> list[Rule]:
    """Rules of one field in evaluation order: required, form (type, length, precision, overflow),
    allowed, pattern, nonzero, range."""
    c = q(f.name)
    rid = f"{entity}.{f.name}"
    out: list[Rule] = []
    if f.required:
        out.append(Rule(f"{rid}.required", f.name, "required", f"{c} IS NULL", f"{f.name} is required but empty"))
    elif f.required_when:
        cond, words = condition(f.required_when)
        out.append(
            Rule(f"{rid}.required", f.name, "required", f"{c} IS NULL AND {cond}",
                 f"{f.name} is required when {words} but empty")
        )
    out.extend(_form_rules(rid, f))
    if f.allowed:
        out.append(Rule(f"{rid}.allowed", f.name, "allowed", f"{c} NOT IN ({_in_list(f.allowed)})",
                        f"{f.name} is not one of: {', '.join(f.allowed)}"))
    if f.pattern:
        out.append(Rule(f"{rid}.pattern", f.name, "pattern", f"NOT regexp_full_match({c}, {_lit(f.pattern)})",
                        f"{f.name} does not have the expected form"))
    if f.type in ("integer", "decimal"):
        out.extend(_numeric_rules(rid, f))
    return out


def _numeric_rules(rid: str, f) -> list[Rule]:
    t = typed(f)
    out: list[Rule] = []
    if f.nonzero:
        out.append(Rule(f"{rid}.nonzero", f.name, "nonzero", f"{t} = 0", f"{f.name} must not be 0"))
    bounds, words = [], []
    if f.min is not None:
        bounds.append(f"{t} < {f.min}")
        words.append(f"at least {num(f.min)}")
    if f.max is not None:
        bounds.append(f"{t} > {f.max}")
        words.append(f"at most {num(f.max)}")
    if f.min_exclusive is not None:
        expr = f"{t} <= {f.min_exclusive}"
        word = f"greater than {num(f.min_exclusive)}"
        if f.min_exclusive_unless:
            cond, cwords = condition(f.min_exclusive_unless)
            expr = f"({expr} AND NOT {cond})"
            word += f" unless {cwords}"
        bounds.append(expr)
        words.append(word)
    if bounds:
        out.append(Rule(f"{rid}.range", f.name, "range", " OR ".join(bounds),
                        f"{f.name} must be {' and '.join(words)}"))
    return out
