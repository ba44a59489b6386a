"""Generated traffic written to a file: deterministic, decodable, bad records marked."""

import base64
import json
import time
from pathlib import Path

from typer.testing import CliRunner

from feedbackctl.main import app
from producers.checks import checker_for
from producers.emitter import Pacer, emit_to_file
from producers.traffic import TrafficConfig, generate_traffic
from schemas.exceptions import ContractError
from schemas.serializer import serializer_for
from schemas.topics import topic_by_name


def test_every_good_generated_record_passes_the_sdk_checks() -> None:
    """The generator and the SDK agree on the contract (no good record would be refused)."""
    traffic = generate_traffic(TrafficConfig(sessions=400, seed=11))
    checked = 0
    for event in traffic.events():
        assert event.record is not None
        checker_for(event.topic.value_record)(event.record, 65_536)
        checked += 1
    assert checked > 400


def test_file_output_is_deterministic_and_decodes(tmp_path: Path) -> None:
    config = TrafficConfig(sessions=60, seed=5, bad_record_share=0.1)
    first, second = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    report = emit_to_file(generate_traffic(config).events(), first, namespace="ns1")
    emit_to_file(generate_traffic(config).events(), second, namespace="ns1")
    assert first.read_bytes() == second.read_bytes()
    lines = [json.loads(line) for line in first.read_text().splitlines()]
    assert len(lines) == report.total and sum(report.bad.values()) > 0
    for line in lines:
        assert line["topic"].endswith(".ns1")
        value = base64.b64decode(line["value"])
        serializer = serializer_for(topic_by_name(line["topic"]))
        if line["bad_reason"] is None:
            assert serializer.decode(value)["session_id"].encode() == base64.b64decode(line["key"])
        elif line["bad_reason"] in ("undecodable", "unknown_fingerprint", "wrong_schema"):
            try:
                serializer.decode(value)
            except ContractError as exc:
                assert exc.reason == line["bad_reason"]
            else:
                raise AssertionError(f"bad record {line['bad_reason']} decoded")


def test_the_command_writes_a_file(tmp_path: Path) -> None:
    out = tmp_path / "traffic.jsonl"
    result = CliRunner().invoke(
        app, ["generate", "--sessions", "20", "--seed", "1", "--output", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "agent.interactions.v1" in result.output
    assert len(out.read_text().splitlines()) > 20


def test_pacer_holds_the_rate() -> None:
    pacer = Pacer(rate=500)
    for emitted in range(1, 51):
        pacer.wait(emitted)
    assert time.monotonic() - pacer.start >= 0.09  # 50 events at 500/s take at least 0.1 s
