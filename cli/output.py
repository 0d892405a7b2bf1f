"""Printing for the CLI: JSON for scripts, aligned tables for people."""

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import click


def print_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False, sort_keys=False))


def print_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """A plain aligned table; empty cells show as '-'."""
    cells = [[_cell(value) for value in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in cells:
        for index, value in enumerate(row):
            widths[index] = min(max(widths[index], len(value)), 60)
    click.echo("  ".join(h.upper().ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip())
    for row in cells:
        click.echo("  ".join(v[:60].ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())


def print_fields(pairs: Sequence[tuple[str, Any]]) -> None:
    """Key: value lines, keys aligned."""
    width = max((len(k) for k, _ in pairs), default=0)
    for key, value in pairs:
        click.echo(f"{key.ljust(width)}  {_cell(value)}")


def _cell(value: Any) -> str:
    if value is None or value == "":
        return "-"
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value) or "-"
    return str(value)


def ago(moment: str | None, now: datetime) -> str | None:
    """'2026-12-03T14:30:00Z' -> '3 min ago' (or 'in 3 min' for a time still to come)."""
    if not moment:
        return None
    try:
        then = datetime.fromisoformat(moment)
    except ValueError:
        return moment
    if then.tzinfo is None:
        then = then.replace(tzinfo=UTC)
    seconds = int((now - then).total_seconds())
    if abs(seconds) < 10:
        return "just now"
    span = _span(abs(seconds))
    return f"{span} ago" if seconds > 0 else f"in {span}"


def _span(seconds: int) -> str:
    for unit, size in (("d", 86_400), ("h", 3_600), ("min", 60)):
        if seconds >= size:
            return f"{seconds // size} {unit}"
    return f"{seconds} s"


def fit(text: Any, width: int) -> str:
    """A table cell of at most `width` characters, shortened with '…'."""
    cell = _cell(text)
    return cell if len(cell) <= width else cell[: width - 1] + "…"
