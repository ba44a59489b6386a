"""Attachments by reference: files stored content-addressed under the lake's `attachments/`
area before the event that refers to them is emitted; only the reference goes on Kafka.

The layout is `schemas.attachments`' (one folder per session, files named by their sha256). A
write goes to a temporary file renamed into place, so a reader never sees half a file and a
second upload of the same bytes is a no-op.
"""

import hashlib
import mimetypes
import os
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from schemas.attachments import attachment_path, attachments_root
from schemas.exceptions import InvalidRecordError

__all__ = ["AttachmentInput", "AttachmentStore", "read_attachment", "store_attachments"]


@dataclass(frozen=True)
class AttachmentInput:
    """A file to attach: its bytes or a path, and optionally its media type and name."""

    data: bytes | str | os.PathLike[str]
    media_type: str | None = None
    name: str | None = None


class AttachmentStore:
    """Stores attachments under `<lake_uri>/<prefix>attachments/` (a local or mounted path)."""

    def __init__(self, lake_uri: str | os.PathLike[str], prefix: str = "") -> None:
        self.root = attachments_root(lake_uri, prefix)

    def put(self, item: AttachmentInput, session_id: str) -> dict[str, Any]:
        """Store one file (idempotent) and return its Attachment record."""
        data, name = _bytes_and_name(item)
        media_type = item.media_type or (name and mimetypes.guess_type(name)[0])
        if not media_type:
            raise InvalidRecordError(
                "an attachment given as bytes needs a media_type (e.g. image/png)", "attachments"
            )
        digest = hashlib.sha256(data).hexdigest()
        path = attachment_path(self.root, session_id, digest)
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".upload-")
            with os.fdopen(handle, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, path)
        return {
            "media_type": media_type,
            "size_bytes": len(data),
            "sha256": digest,
            "uri": path.resolve().as_uri(),
            "name": name,
        }

    def put_all(self, items: Iterable[Any], session_id: str) -> list[dict[str, Any]]:
        """Attachment records of `items`: files (AttachmentInput, bytes with no type are
        refused, paths) are stored first; records already stored pass through."""
        records = []
        for index, item in enumerate(items):
            if isinstance(item, Mapping):
                records.append(_reference(item, index))
            elif isinstance(item, AttachmentInput):
                records.append(self.put(item, session_id))
            elif isinstance(item, bytes):
                raise InvalidRecordError(
                    f"attachments[{index}]: wrap bytes in AttachmentInput(data, media_type=...)",
                    f"attachments[{index}]",
                )
            elif isinstance(item, str | os.PathLike):
                records.append(self.put(AttachmentInput(item), session_id))
            else:
                raise InvalidRecordError(
                    f"attachments[{index}] must be a path, an AttachmentInput or an attachment "
                    f"record, got {type(item).__name__}",
                    f"attachments[{index}]",
                )
        return records


class _LakeSettings(Protocol):
    @property
    def lake_uri(self) -> str: ...

    @property
    def topic_namespace(self) -> str: ...


def store_attachments(fields: Mapping[str, Any], settings: _LakeSettings) -> Mapping[str, Any]:
    """The fields of a log_* call with its attachments stored and replaced by their records
    (the fields themselves when there are none)."""
    items = fields.get("attachments")
    if not items:
        return fields
    session_id = fields.get("session_id")
    if not isinstance(session_id, str):
        raise InvalidRecordError("attachments need the event's session_id", "session_id")
    prefix = f"{settings.topic_namespace}/" if settings.topic_namespace else ""
    store = AttachmentStore(settings.lake_uri, prefix)
    return {**fields, "attachments": store.put_all(items, session_id)}


def read_attachment(record: Mapping[str, Any]) -> bytes:
    """The bytes an Attachment record points at (file:// URIs), checked against its sha256."""
    uri = str(record["uri"])
    if not uri.startswith("file://"):
        raise ValueError(f"only file:// attachment URIs are read here, got {uri!r}")
    from urllib.parse import unquote, urlparse

    data = Path(unquote(urlparse(uri).path)).read_bytes()
    if hashlib.sha256(data).hexdigest() != record["sha256"]:
        raise ValueError(f"{uri}: content does not match its sha256 {record['sha256']}")
    return data


def _bytes_and_name(item: AttachmentInput) -> tuple[bytes, str | None]:
    if isinstance(item.data, bytes):
        return item.data, item.name
    path = Path(item.data)
    try:
        return path.read_bytes(), item.name or path.name
    except OSError as exc:
        raise InvalidRecordError(f"attachment {path} cannot be read: {exc}", "attachments") from exc


_REQUIRED = {"media_type": str, "size_bytes": int, "sha256": str, "uri": str}


def _reference(item: Mapping[str, Any], index: int) -> dict[str, Any]:
    """An attachment stored elsewhere (e.g. s3://): checked, never fetched."""
    for field, kind in _REQUIRED.items():
        if not isinstance(item.get(field), kind):
            raise InvalidRecordError(
                f"attachments[{index}].{field} must be a {kind.__name__}",
                f"attachments[{index}].{field}",
            )
    if len(item["sha256"]) != 64:
        raise InvalidRecordError(
            f"attachments[{index}].sha256 must be 64 hex digits", f"attachments[{index}].sha256"
        )
    return {**{k: item[k] for k in _REQUIRED}, "name": item.get("name")}
