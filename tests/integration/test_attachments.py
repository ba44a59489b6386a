"""A turn with a PNG attachment, sent through the SDK and written by the real sink from the real
Kafka: the lake's raw_events holds the reference, the bytes are read back by URI and checked by
hash; they never went on Kafka; erasing the user removes them, another user's stay (a guest's in
the same conversation too)."""

import random
import struct
import zlib
from pathlib import Path

import pytest
from deltalake import DeltaTable
from prometheus_client import CollectorRegistry
from typer.testing import CliRunner

from feedbackctl.main import app
from producers import FeedbackClient
from producers.attachments import AttachmentInput, read_attachment
from producers.settings import ProducerSettings
from schemas import serializer_for
from schemas.attachments import attachments_root
from schemas.exceptions import InvalidRecordError
from schemas.lake import RAW_EVENTS
from schemas.topics import FEEDBACK, INTERACTIONS
from sinks import DeltaSink, SinkSettings
from sinks.erasure import erase_user
from sinks.lake import Lake
from tests.integration.test_sink_exactly_once import sink_topics


def png(width: int, height: int, seed: int) -> bytes:
    """A real PNG image of random pixels (it does not compress: kilobytes), made with zlib."""
    rng = random.Random(seed)

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(b"\x00" + rng.randbytes(3 * width) for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def _screen_turn(
    client: FeedbackClient, session_id: str, turn_index: int, user_id: str, image: bytes
) -> str:
    """Another user's turn of the screen agent, with one picture."""
    return client.log_interaction(
        session_id=session_id,
        turn_index=turn_index,
        agent_id="screen-agent",
        agent_version="2.0.0",
        model="m",
        prompt="And this one?",
        response="Looks fine.",
        latency_ms=700,
        user_id=user_id,
        attachments=[AttachmentInput(image, "image/png")],
    )


def test_a_png_attachment_lands_readable_by_uri_and_hash_and_is_erased_with_its_user(
    bootstrap_servers: str, tmp_path: Path
) -> None:
    root = tmp_path / "lake"
    screenshot = tmp_path / "screen.png"
    screenshot.write_bytes(png(64, 48, seed=1))
    other_image = png(8, 8, seed=2)
    guest_image = png(8, 8, seed=3)
    remark_image = png(8, 8, seed=4)
    with sink_topics(bootstrap_servers) as namespace:
        settings = ProducerSettings(
            bootstrap_servers=bootstrap_servers,
            topic_namespace=namespace,
            lake_uri=str(root),
            spool_dir=tmp_path / "spool",
        )
        with FeedbackClient(settings, registry=CollectorRegistry()) as client:
            turn = client.log_interaction(
                session_id="s-att-1",
                turn_index=0,
                agent_id="screen-agent",
                agent_version="2.0.0",
                model="m",
                prompt="What is wrong on this screen?",
                response="The save button is disabled.",
                latency_ms=900,
                user_id="u-att",
                attachments=[screenshot],
            )
            note = client.log_feedback(
                session_id="s-att-1",
                interaction_id=turn,
                kind="comment",
                comment="see the circled area",
                attachments=[AttachmentInput(screenshot.read_bytes(), "image/png", "circled.png")],
            )
            # A guest in the same conversation (a group chat): their turn and file are theirs.
            _screen_turn(client, "s-att-1", 1, "u-guest", guest_image)
            _screen_turn(client, "s-att-2", 0, "u-other", other_image)
            # u-att comments, with a picture, on u-other's conversation: that file is u-att's.
            client.log_feedback(
                session_id="s-att-2",
                kind="comment",
                comment="same here",
                rater_id="u-att",
                attachments=[AttachmentInput(remark_image, "image/png")],
            )
            with pytest.raises(InvalidRecordError, match="media_type"):
                client.log_interaction(
                    session_id="s-att-3",
                    turn_index=0,
                    agent_id="a",
                    agent_version="1",
                    model="m",
                    prompt="p",
                    response="r",
                    latency_ms=1,
                    attachments=[AttachmentInput(b"no type")],
                )
            assert client.flush(30) == 0
        DeltaSink(
            SinkSettings(
                bootstrap_servers=bootstrap_servers,
                lake_uri=str(root),
                namespace=namespace,
                group_id=f"g-{namespace}",
                flush_latency_s=0.5,
            )
        ).run(exit_when_idle_s=2.0)
        table = DeltaTable(RAW_EVENTS.path(str(root), f"{namespace}/")).to_pyarrow_table()
    rows = {row["event_id"]: row for row in table.to_pylist()}
    assert turn in rows and note in rows
    serializers = {
        INTERACTIONS.name: serializer_for(INTERACTIONS),
        FEEDBACK.name: serializer_for(FEEDBACK),
    }
    expected = screenshot.read_bytes()
    for event_id in (turn, note):
        row = rows[event_id]
        message = row["value"]
        # Only the reference travelled: the message is far smaller than the image.
        assert expected not in message and len(message) < len(expected)
        topic = row["kafka_topic"].rsplit(".", 1)[0]
        [attachment] = serializers[topic].decode(message)["attachments"]
        assert attachment["media_type"] == "image/png"
        assert attachment["size_bytes"] == len(expected)
        assert read_attachment(attachment) == expected  # by URI, checked against its sha256
        assert attachment["uri"].startswith(attachments_root(root, f"{namespace}/").as_uri())
    # The same bytes in one session are stored once.
    area = attachments_root(root, f"{namespace}/")
    assert len([p for p in area.rglob("*") if p.is_file()]) == 4
    where = ["--lake-uri", str(root), "--namespace", namespace, "--datasets", str(tmp_path)]
    dry = CliRunner().invoke(app, ["lake", "erase", "--user-id", "u-att", "--dry-run", *where])
    assert dry.exit_code == 0, dry.output
    assert "attachments: would remove 2 files" in dry.output
    assert len([p for p in area.rglob("*") if p.is_file()]) == 4
    report = erase_user(Lake(str(root), f"{namespace}/"), "u-att")
    assert report.attachments.files == 2 and report.attachments.removed
    remaining = [p for p in area.rglob("*") if p.is_file()]
    assert sorted(p.read_bytes() for p in remaining) == sorted([other_image, guest_image])
