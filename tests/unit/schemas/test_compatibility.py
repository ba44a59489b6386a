"""Schema evolution: every released version stays readable, and breaking changes are caught."""

import copy
from typing import Any

import pytest

from schemas.catalog import SchemaCatalog, default_catalog, load_version
from schemas.compatibility import check_catalog, check_pair, claimed_compatibility
from schemas.serializer import SingleObjectSerializer
from schemas.topics import INTERACTIONS

CATALOG = default_catalog()
INTERACTION = INTERACTIONS.value_record


def latest_source(full_name: str = INTERACTION) -> dict[str, Any]:
    return copy.deepcopy(CATALOG.latest(full_name).source)


def test_every_consecutive_pair_in_the_catalog_keeps_its_claim() -> None:
    assert check_catalog() == []
    pairs = sum(len(CATALOG.versions(name)) - 1 for name in CATALOG.names())
    assert pairs >= 1  # interaction v1 -> v2 at least: the check above is not vacuous


@pytest.mark.parametrize(
    ("full_name", "version"),
    [(name, v.version) for name in CATALOG.names() for v in CATALOG.versions(name)[:-1]],
)
def test_older_versions_data_decodes_with_the_current_reader(full_name: str, version: int) -> None:
    """Old producers keep working: encode with the old writer, decode with the newest reader."""
    from fastavro.utils import generate_many

    old = SingleObjectSerializer(full_name, writer_version=version)
    current = SingleObjectSerializer(full_name)
    new_fields = set(current.reader.field_names) - set(old.writer.field_names)
    for datum in generate_many(old.writer.plain, 20):
        decoded, writer = current.decode_with_writer(old.encode(datum))
        assert writer.version == version
        assert {k: decoded[k] for k in old.writer.field_names} == datum
        fields = current.reader.source["fields"]
        defaults = {f["name"]: f["default"] for f in fields if "default" in f}
        assert {k: decoded[k] for k in new_fields} == {k: defaults[k] for k in new_fields}


def test_interaction_v1_turn_reads_as_v2_without_retry() -> None:
    v1 = SingleObjectSerializer(INTERACTION, writer_version=1)
    record = {
        "event_id": "2f1c9a52-6f0e-4a8e-9d43-1b7e0a4f7c11",
        "session_id": "s-1",
        "turn_index": 0,
        "agent_id": "support-bot",
        "agent_version": "1.0",
        "model": "m",
        "event_time": 1_767_225_600_000,
        "prompt": "hi",
        "response": "hello",
        "latency_ms": 5,
        "prompt_tokens": 1,
        "completion_tokens": 1,
        "cost_usd": 0.0,
    }
    decoded = SingleObjectSerializer(INTERACTION).decode(v1.encode(record))
    assert decoded["retry_of"] is None
    assert decoded["tools_used"] == [] and decoded["context"] == {}


def with_field(source: dict[str, Any], field: dict[str, Any]) -> dict[str, Any]:
    changed = copy.deepcopy(source)
    changed["fields"].append(field)
    return changed


def without_field(source: dict[str, Any], name: str) -> dict[str, Any]:
    changed = copy.deepcopy(source)
    changed["fields"] = [f for f in changed["fields"] if f["name"] != name]
    return changed


def with_type(source: dict[str, Any], name: str, new_type: Any) -> dict[str, Any]:
    changed = copy.deepcopy(source)
    for field in changed["fields"]:
        if field["name"] == name:
            field["type"] = new_type
    return changed


def test_a_new_optional_field_with_a_default_is_fully_compatible() -> None:
    current = latest_source()
    newer = with_field(current, {"name": "region", "type": ["null", "string"], "default": None})
    assert check_pair(current, newer, "FULL") == []


def test_a_new_field_without_default_is_caught() -> None:
    current = latest_source()
    [problem] = check_pair(current, with_field(current, {"name": "region", "type": "string"}))
    assert (problem.writer, problem.reader) == ("older", "newer")
    assert "region" in problem.reason


def test_a_removed_field_without_default_breaks_forward_compatibility() -> None:
    current = latest_source()
    newer = without_field(current, "prompt")
    assert check_pair(current, newer, "BACKWARD") == []  # new readers simply ignore it
    [problem] = check_pair(current, newer, "FULL")  # but old readers need it
    assert (problem.writer, problem.reader) == ("newer", "older")
    assert "prompt" in problem.reason


@pytest.mark.parametrize(
    ("field", "new_type"),
    [
        ("model", "int"),
        ("turn_index", "string"),
        ("latency_ms", "boolean"),
        ("user_id", ["null", "int"]),
    ],
)
def test_a_changed_type_is_caught(field: str, new_type: Any) -> None:
    current = latest_source()
    assert check_pair(current, with_type(current, field, new_type), "FULL") != []


def test_type_promotion_is_backward_but_not_forward_compatible() -> None:
    current = latest_source()
    newer = with_type(current, "latency_ms", "long")
    assert check_pair(current, newer, "BACKWARD") == []
    assert check_pair(current, newer, "FORWARD") != []


def test_a_removed_enum_symbol_falls_back_to_the_default_and_a_renamed_record_is_caught() -> None:
    feedback = latest_source("agentfeedback.events.Feedback")
    fewer = copy.deepcopy(feedback)
    kind = next(f for f in fewer["fields"] if f["name"] == "kind")
    kind["type"]["symbols"] = [s for s in kind["type"]["symbols"] if s != "comment"]
    # The enum's default symbol is what makes removing (or adding) kinds compatible.
    assert check_pair(feedback, fewer, "FULL") == []
    kind["type"].pop("default")
    assert check_pair(feedback, fewer, "BACKWARD") != []
    renamed = copy.deepcopy(feedback)
    renamed["name"] = "Opinion"
    assert check_pair(feedback, renamed, "BACKWARD") != []


def test_a_catalog_with_an_incompatible_release_fails_the_check() -> None:
    """What happens when someone adds a breaking v3 under schemas/avro/interaction/."""
    versions = [CATALOG.versions(INTERACTION)[-1]]
    bad = with_field(latest_source(), {"name": "region", "type": "string"})
    versions.append(load_version(bad, versions[0].version + 1))
    [problem] = check_catalog(SchemaCatalog(versions))
    assert "region" in str(problem)


def test_a_release_may_claim_only_backward_compatibility() -> None:
    base = CATALOG.versions(INTERACTION)[-1]
    newer_source = without_field(latest_source(), "prompt")
    newer_source["compatibility"] = "BACKWARD"
    newer = load_version(newer_source, base.version + 1)
    assert claimed_compatibility(newer) == "BACKWARD"
    assert check_catalog(SchemaCatalog([base, newer])) == []
    newer_source["compatibility"] = "SOMETIMES"
    with pytest.raises(ValueError, match="SOMETIMES"):
        claimed_compatibility(load_version(newer_source, base.version + 1))
