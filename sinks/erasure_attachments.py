"""Erasure of a user's attachments: the folders of the user's sessions in the lake's
`attachments/` area (layout in `schemas.attachments`), removed with their files.

Attachments are stored per session, so the sessions the erasure finds in the tables
(`sinks.erasure_match.UserRows`) name the folders to remove. In a session the user shared with
others (a group chat), the files the other users' turns refer to stay (`keep`), as those turns
do; every other file of the folder goes (feedback naming nobody goes with any of the session's
users, its attachments too). Feedback the user gave in another user's session takes its own
files from that session's folder (`files`), unless a row that stays refers to the same bytes.
Only a local (or mounted) lake is handled here: on an object store the operator deletes the same
prefixes (`s-<hash>/` under `attachments/`), which the report lists.
"""

import shutil
from collections.abc import Callable, Iterable, Mapping, Set
from dataclasses import dataclass, field

from schemas.attachments import attachments_root, session_folder
from sinks.lake import Lake

__all__ = ["AttachmentErasure", "erase_attachments"]


@dataclass
class AttachmentErasure:
    """The session folders found (and removed unless a dry run), their files and bytes."""

    folders: list[str] = field(default_factory=list)
    files: int = 0
    bytes: int = 0
    removed: bool = False
    unsupported: str | None = None  # why nothing was done (an object-store lake)


def erase_attachments(
    lake: Lake,
    sessions: Iterable[str],
    dry_run: bool,
    keep: Callable[[Set[str]], Mapping[str, Set[str]]] | None = None,
    files: Mapping[str, Set[str]] | None = None,
) -> AttachmentErasure:
    """Remove (or, with `dry_run`, count) the attachment folders of `sessions`, but the files
    that `keep` names (called with the sessions whose folders exist; sha256 by session: other
    users' attachments in a shared session); and in other sessions' folders, the `files`
    named (the user's feedback there), unless kept."""
    files = files or {}
    sessions = set(sessions)
    result = AttachmentErasure()
    if "://" in lake.uri and not lake.uri.startswith("file://"):
        result.unsupported = f"{lake.uri} is not a local path: delete the listed folders there"
        result.folders = sorted(session_folder(s) for s in sessions)
        return result
    root = attachments_root(lake.uri.removeprefix("file://"), lake.prefix)
    present = {s for s in sessions | set(files) if (root / session_folder(s)).is_dir()}
    kept_by_session = keep(present) if keep is not None and present else {}
    for session_id in sorted(present):
        folder = root / session_folder(session_id)
        kept = kept_by_session.get(session_id, set())
        whole = session_id in sessions
        doomed = [
            path
            for path in sorted(folder.rglob("*"))
            if path.is_file()
            and path.name not in kept
            and (whole or path.name in files.get(session_id, set()))
        ]
        if not doomed:
            continue
        result.folders.append(folder.name)
        for path in doomed:
            result.files += 1
            result.bytes += path.stat().st_size
        if dry_run:
            continue
        if whole and not kept:
            shutil.rmtree(folder)
        else:
            for path in doomed:
                path.unlink()
    result.removed = not dry_run and bool(result.folders)
    return result
