"""Logging set-up shared by every process: plain text for people, JSON lines for machines.

One level and one format for every process: `FEEDBACK_LOG_LEVEL` and `FEEDBACK_LOG_FORMAT`
(`text` or `json`; `feedbackctl --log-level / --log-format` set them for the command and the
processes it starts). A command's own older flags still pass an explicit value.
"""

import json
import logging
import os
import sys
from typing import Any

__all__ = [
    "LOG_FORMATS",
    "JsonFormatter",
    "configure_logging",
    "default_json_format",
    "default_level",
    "warn_deprecated",
]

LOG_FORMATS = ("text", "json")

_STANDARD_ATTRS = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line; `extra=` fields (session_id, event_id, ...) are kept as keys."""

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD_ATTRS and not key.startswith("_"):
                payload[key] = value
        if record.exc_info:
            payload["exc"] = self.formatException(record.exc_info)
        return json.dumps(payload, default=str)


def default_level() -> str:
    """FEEDBACK_LOG_LEVEL, else INFO."""
    return os.environ.get("FEEDBACK_LOG_LEVEL") or "INFO"


def default_json_format() -> bool:
    """FEEDBACK_LOG_FORMAT=json (or the older FEEDBACK_LOG_JSON=1), else text."""
    chosen = (os.environ.get("FEEDBACK_LOG_FORMAT") or "").lower()
    if chosen:
        if chosen not in LOG_FORMATS:
            raise ValueError(f"FEEDBACK_LOG_FORMAT={chosen!r}: one of {', '.join(LOG_FORMATS)}")
        return chosen == "json"
    if os.environ.get("FEEDBACK_LOG_JSON") is not None:
        warn_deprecated("FEEDBACK_LOG_JSON", "FEEDBACK_LOG_FORMAT=json")
        return os.environ["FEEDBACK_LOG_JSON"] == "1"
    return False


def warn_deprecated(old: str, new: str) -> None:
    """One line on stderr: `old` still works for this release; `new` is the name to use."""
    print(f"warning: {old} is deprecated and will be removed; use {new}", file=sys.stderr)


def configure_logging(level: str | None = None, json_format: bool | None = None) -> None:
    """Route the root logger to stderr once, in the chosen format (default: the shared
    FEEDBACK_LOG_LEVEL / FEEDBACK_LOG_FORMAT)."""
    level = level or default_level()
    json_format = default_json_format() if json_format is None else json_format
    handler = logging.StreamHandler(sys.stderr)
    if json_format:
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
