"""Attachments are stored once per session, by content, and referenced; bad input is refused."""

import hashlib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from producers.attachments import AttachmentInput, AttachmentStore, read_attachment
from producers.records import build_interaction
from schemas.attachments import attachments_root, session_folder
from schemas.exceptions import InvalidRecordError
from schemas.serializer import serializer_for
from schemas.topics import INTERACTIONS


def test_a_path_is_stored_content_addressed_and_read_back(tmp_path: Path) -> None:
    image = tmp_path / "screen.png"
    image.write_bytes(b"\x89PNG fake image bytes")
    store = AttachmentStore(tmp_path / "lake", "ns/")
    record = store.put(AttachmentInput(image), "s-1")
    digest = hashlib.sha256(image.read_bytes()).hexdigest()
    assert record["sha256"] == digest and record["media_type"] == "image/png"
    assert record["size_bytes"] == image.stat().st_size and record["name"] == "screen.png"
    stored = (
        attachments_root(tmp_path / "lake", "ns/") / session_folder("s-1") / digest[:2] / digest
    )
    assert stored.read_bytes() == image.read_bytes()
    assert record["uri"] == stored.resolve().as_uri()
    assert read_attachment(record) == image.read_bytes()
    # Same bytes, same session: the same file, no second copy.
    assert (
        store.put(AttachmentInput(image.read_bytes(), "image/png"), "s-1")["uri"] == record["uri"]
    )
    assert len([p for p in stored.parent.iterdir()]) == 1


def test_no_id_appears_in_a_path(tmp_path: Path) -> None:
    record = AttachmentStore(tmp_path).put(AttachmentInput(b"x", "text/plain"), "session-secret")
    assert "session-secret" not in record["uri"]


def test_a_changed_file_fails_its_hash_check(tmp_path: Path) -> None:
    record = AttachmentStore(tmp_path).put(AttachmentInput(b"original", "text/plain"), "s")
    Path(record["uri"].removeprefix("file://")).write_bytes(b"tampered")
    with pytest.raises(ValueError, match="sha256"):
        read_attachment(record)


def test_bad_attachments_are_refused_naming_the_item(tmp_path: Path) -> None:
    store = AttachmentStore(tmp_path)
    with pytest.raises(InvalidRecordError, match="media_type"):
        store.put_all([AttachmentInput(b"no type")], "s")
    with pytest.raises(InvalidRecordError, match=r"attachments\[0\]"):
        store.put_all([b"bare bytes"], "s")
    with pytest.raises(InvalidRecordError, match="cannot be read"):
        store.put_all([tmp_path / "missing.png"], "s")
    (tmp_path / "a.txt").write_text("fine")
    with pytest.raises(InvalidRecordError, match=r"attachments\[1\]\.sha256"):
        store.put_all(
            [
                tmp_path / "a.txt",
                {"media_type": "a/b", "size_bytes": 1, "sha256": "x", "uri": "s3://b/k"},
            ],
            "s",
        )


def test_a_reference_stored_elsewhere_passes_through(tmp_path: Path) -> None:
    reference = {"media_type": "audio/wav", "size_bytes": 10, "sha256": "b" * 64, "uri": "s3://b/k"}
    assert AttachmentStore(tmp_path).put_all([reference], "s") == [{**reference, "name": None}]


@settings(max_examples=25, deadline=None)
@given(data=st.binary(min_size=0, max_size=2048), media=st.sampled_from(["image/png", "audio/wav"]))
def test_any_bytes_round_trip_in_an_interaction(data: bytes, media: str) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        [record] = AttachmentStore(folder).put_all([AttachmentInput(data, media)], "s-9")
        turn = build_interaction(
            session_id="s-9", turn_index=0, agent_id="a", agent_version="1", model="m",
            prompt="p", response="r", latency_ms=1, attachments=[record],
        )  # fmt: skip
        serializer = serializer_for(INTERACTIONS)
        [decoded] = serializer.decode(serializer.encode(turn))["attachments"]
        assert decoded == record and read_attachment(decoded) == data
