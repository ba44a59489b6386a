"""Attachments in curated chat messages: a user turn's screenshots, audio clips and files as
content parts, by reference.

With `CurationOptions.attachments`, a user message whose turn carries attachments gets a list of
content parts (the OpenAI chat multimodal shape; a trainer that wants TRL's separate `images`
column builds it from the `image_url` parts): the prompt as a `text` part, then one part per
attachment: `image_url` for images, `input_audio` for audio, `file` otherwise. Every part keeps
the attachment record (`media_type`, `size_bytes`, `sha256`, `uri`, `name`) so a trainer can
fetch the file and check it. Messages without attachments keep their plain string content.
Feedback attachments (annotated screenshots) stay out: they annotate an answer, they are not part
of the conversation the agent saw.

The parts reference the lake's copy (its `uri`) rather than embed the bytes: the dataset stays
small and its rows diffable, the bytes already live content-addressed under the lake's
`attachments/` area, and erasing a user removes their files there, which embedded copies in
published datasets would outlive.

Which message belongs to which turn: every dataset row lists its turns' `event_ids` with the
conversation's turns first, in order (`curation.lineage`, `curation.examples.lineage`), and each
of those turns has exactly one user message (`curation.chat.context_messages`); so the n-th user
message of a row is the turn `event_ids[n]`.

Parquet holds one type per column, so in a dataset curated with attachments every message's
`content` is JSON text there (a string or a list of parts), marked `json` in the Arrow field's
metadata; the dataset card declares it `json`, so `datasets.load_dataset` returns the same
mixed string / list content as the JSONL files.
"""

import mimetypes
from collections.abc import Mapping, Sequence
from typing import Any

import polars as pl
import pyarrow as pa
from deltalake import DeltaTable

from curation.source import read_columns

__all__ = [
    "JSON_METADATA",
    "MESSAGE_COLUMNS",
    "attachment_part",
    "json_content_schema",
    "read_turn_attachments",
    "with_attachment_parts",
]

# The row columns that hold chat messages (SFT, preference pairs, KTO).
MESSAGE_COLUMNS = ("messages", "prompt", "chosen", "rejected", "completion")
# Arrow field metadata of a string column that holds JSON text (read by curation.dataset_card).
JSON_METADATA = {b"dtype": b"json"}

Attachments = dict[str, list[dict[str, Any]]]


def read_turn_attachments(table_uri: str, version: int) -> Attachments:
    """The attachments of every turn of the enriched table at `table_uri` and `version` (the
    version the dataset's turns were read at) that has any, by event_id (its highest
    revision's); empty for a table written before attachments existed."""
    table = DeltaTable(table_uri, version=version)
    if "attachments" not in table.schema().to_arrow().names:
        return {}
    frame = read_columns(table, ["event_id", "revision", "attachments"])
    frame = (
        frame.sort(["event_id", "revision"], descending=[False, True])
        .unique(subset=["event_id"], keep="first")
        .filter(pl.col("attachments").list.len() > 0)
    )
    return {
        row["event_id"]: list(row["attachments"])
        for row in frame.select("event_id", "attachments").iter_rows(named=True)
    }


def attachment_part(attachment: Mapping[str, Any]) -> dict[str, Any]:
    """One content part referring to `attachment` by its URI, with its record."""
    record = {
        key: attachment.get(key) for key in ("media_type", "size_bytes", "sha256", "uri", "name")
    }
    media_type = str(record["media_type"])
    uri = record["uri"]
    if media_type.startswith("image/"):
        return {"type": "image_url", "image_url": {"url": uri}, "attachment": record}
    if media_type.startswith("audio/"):
        audio_format = (mimetypes.guess_extension(media_type) or "").lstrip(".") or media_type[6:]
        return {
            "type": "input_audio",
            "input_audio": {"url": uri, "format": audio_format},
            "attachment": record,
        }
    return {"type": "file", "file": {"url": uri, "filename": record["name"]}, "attachment": record}


def with_attachment_parts(
    rows: Mapping[str, Sequence[dict[str, Any]]], attachments: Attachments
) -> dict[str, list[dict[str, Any]]]:
    """`rows` (per split) with each user message of a turn that has attachments turned into
    content parts; rows and messages without attachments are returned as they are."""
    return {
        split: [_row_with_parts(row, attachments) for row in split_rows]
        for split, split_rows in rows.items()
    }


def _row_with_parts(row: dict[str, Any], attachments: Attachments) -> dict[str, Any]:
    turns = row.get("event_ids") or []
    if not any(event_id in attachments for event_id in turns):
        return row
    changed = dict(row)
    position = 0
    for column in MESSAGE_COLUMNS:
        messages = row.get(column)
        if not messages:
            continue
        updated = []
        for message in messages:
            if message.get("role") == "user":
                files = attachments.get(turns[position]) if position < len(turns) else None
                position += 1
                if files:
                    text = {"type": "text", "text": message["content"]}
                    parts = [text, *(attachment_part(f) for f in files)]
                    message = {**message, "content": parts}
            updated.append(message)
        changed[column] = updated
    return changed


def json_content_schema(schema: pa.Schema) -> pa.Schema:
    """`schema` with the `content` of every message column marked as JSON text."""
    fields = []
    for field in schema:
        kind = field.type
        if field.name in MESSAGE_COLUMNS and pa.types.is_list(kind):
            message = kind.value_type
            items = [
                item.with_metadata(JSON_METADATA) if item.name == "content" else item
                for item in message
            ]
            field = field.with_type(pa.list_(pa.struct(items)))
        fields.append(field)
    return pa.schema(fields, metadata=schema.metadata)
