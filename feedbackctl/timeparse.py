"""Parses the time arguments of the command line (ISO 8601, or epoch milliseconds)."""

from datetime import UTC, datetime

import typer

__all__ = ["parse_time_ms"]


def parse_time_ms(value: str | None) -> int | None:
    """`2026-11-26T10:00:00Z`, `2026-11-26` (UTC midnight) or `1795680000000` -> epoch ms."""
    if value is None:
        return None
    if value.isdigit():
        return int(value)
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise typer.BadParameter(
            f"{value!r} is not a time: use ISO 8601 (2026-11-26T10:00:00Z) or epoch milliseconds"
        ) from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return int(parsed.timestamp() * 1000)
