"""The namespace of the last `feedbackctl demo`, kept in `<stack state dir>/last-namespace`.

After a demo, `lake`, `curate`, `monitor`, `verify` and `dashboard` read its namespace when none
is given (no `--namespace`, no FEEDBACK_NAMESPACE, no service variable), so the commands the
README lists show the demo's data as written; they say so on stderr.
"""

from pathlib import Path

from local_stack.settings import StackSettings

__all__ = ["last_namespace_file", "read_last_namespace", "write_last_namespace"]

FILE_NAME = "last-namespace"


def last_namespace_file() -> Path:
    """`.stack/last-namespace` (FEEDBACK_STACK_STATE_DIR moves it with the stack's data)."""
    return Path(StackSettings().state_dir) / FILE_NAME


def write_last_namespace(namespace: str) -> Path:
    """Record the namespace a demo used; returns the file."""
    path = last_namespace_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(namespace + "\n")
    return path


def read_last_namespace() -> str | None:
    """The last demo's namespace, or None when no demo ran here (or the file is empty)."""
    try:
        value = last_namespace_file().read_text().strip()
    except OSError:
        return None
    return value or None
