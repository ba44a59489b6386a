"""The lake's attachments area: where an attachment's bytes live, once, for producers that
store them and for erasure that removes them.

`<lake>/<prefix>attachments/<owner>/<sha[:2]>/<sha256>`; the owner folder is the session's
(`s-` and 32 hex digits of the session id's sha256): the same bytes are stored once per session,
no id appears in a path, and erasing a user (whose sessions the erasure finds) removes whole
folders. The file name is the content's sha256: a reader checks what it reads against it.
"""

import hashlib
from os import PathLike
from pathlib import Path

from schemas.lake_paths import check_table_prefix

__all__ = ["ATTACHMENTS_DIR", "attachment_path", "attachments_root", "session_folder"]

ATTACHMENTS_DIR = "attachments"


def attachments_root(lake_uri: str | PathLike[str], prefix: str = "") -> Path:
    """The attachments area of a (local or mounted) lake and table prefix."""
    return Path(lake_uri) / check_table_prefix(prefix) / ATTACHMENTS_DIR


def session_folder(session_id: str) -> str:
    """The folder of one session's attachments: a hash, never the id itself."""
    return "s-" + hashlib.sha256(session_id.encode()).hexdigest()[:32]


def attachment_path(root: Path, session_id: str, sha256: str) -> Path:
    """Where the bytes of `sha256` attached in `session_id` are stored."""
    return root / session_folder(session_id) / sha256[:2] / sha256
