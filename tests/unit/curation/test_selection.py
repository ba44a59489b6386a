"""Each SFT filter removes what it documents, and only that."""

import polars as pl
import pytest

from curation.features import add_turn_features
from curation.options import CurationOptions
from curation.selection import FilterLog, rejected_label, sft_filter_steps
from curation.source import latest_revisions
from schemas.lake import ENRICHED_INTERACTIONS
from tests.unit.curation.enriched_factory import feedback, make_turn, signal

PRAISE = [feedback(thumbs_up=True)]
TOOL = {"name": "search", "arguments": "{}", "latency_ms": 3}


def _turns(rows: list[dict]) -> pl.DataFrame:
    schema = ENRICHED_INTERACTIONS.arrow_schema()
    import pyarrow as pa

    frame = pl.from_arrow(pa.Table.from_pylist(rows, schema=schema))
    assert isinstance(frame, pl.DataFrame)
    return add_turn_features(latest_revisions(frame))


def _kept(rows: list[dict], **options: object) -> list[str]:
    candidates = _turns(rows).with_columns(
        target=pl.lit("response"), target_text=pl.col("response")
    )
    log = FilterLog()
    for name, description, keep in sft_filter_steps(
        CurationOptions(**{"selection": "explicit_praise", **options})
    ):
        candidates = log.apply(candidates, name, description, keep)
    return sorted(candidates["session_id"].to_list())


def test_a_praised_confident_clean_turn_is_kept() -> None:
    assert _kept([make_turn("ok", feedback=PRAISE)]) == ["ok"]


@pytest.mark.parametrize(
    ("overrides", "options"),
    [
        ({"reward": 0.4}, {}),
        ({"reward_confidence": 0.3}, {}),
        ({"feedback": []}, {}),
        ({"feedback": [*PRAISE, feedback(thumbs_up=False)]}, {}),
        ({"feedback": [*PRAISE, feedback(thumbs_up=False, session_level=True)]}, {}),
        ({"session_outcome": "abandoned"}, {}),
        ({"session_outcome": "unknown"}, {}),
        ({"tools_used": [{**TOOL, "status": "error"}]}, {}),
        ({"prompt": "x" * 9_000}, {}),
        ({"response": "x"}, {}),
    ],
)
def test_each_rule_drops_its_turns(overrides: dict, options: dict) -> None:
    row = make_turn("bad", **{"feedback": PRAISE, **overrides})
    assert _kept([row], **options) == []


def test_options_switch_rules_off() -> None:
    rows = [
        make_turn("unknown", feedback=PRAISE, session_outcome="unknown"),
        make_turn("tool", feedback=PRAISE, tools_used=[{**TOOL, "status": "timeout"}]),
        make_turn("silent", feedback=[]),
    ]
    assert _kept(rows, completed_only=False) == ["unknown"]
    assert _kept(rows, drop_tool_errors=False) == ["tool"]
    assert _kept(rows, require_explicit_positive=False) == ["silent"]


def test_a_retried_turn_is_never_accepted() -> None:
    first = make_turn("s", 0, feedback=PRAISE, session_turns=2)
    retry = make_turn("s", 1, feedback=PRAISE, session_turns=2, retry_of=first["event_id"])
    retry["signals"] = first["signals"] = [signal("retried", first["event_id"], "client")]
    kept = _turns([first, retry]).filter(pl.col("retried"))
    assert kept["event_id"].to_list() == [first["event_id"]]
    assert _kept([first, retry]) == ["s"]  # only the retry


def test_session_level_praise_vouches_only_for_one_turn_sessions() -> None:
    praise = [feedback(thumbs_up=True, session_level=True)]
    single = make_turn("single", feedback=praise)
    multi = [make_turn("multi", i, feedback=praise, session_turns=2) for i in range(2)]
    assert _kept([single, *multi]) == ["single"]


def test_filter_log_counts_rows_in_and_out() -> None:
    rows = [make_turn("a", feedback=PRAISE), make_turn("b", reward=0.0, feedback=PRAISE)]
    candidates = _turns(rows).with_columns(target=pl.lit("response"), target_text="response")
    log = FilterLog()
    for name, description, keep in sft_filter_steps(CurationOptions(selection="explicit_praise")):
        candidates = log.apply(candidates, name, description, keep)
    first = log.as_list()[0]
    assert (first["name"], first["rows_in"], first["rows_out"], first["dropped"]) == (
        "label",
        2,
        1,
        1,
    )


def test_rejected_needs_an_action_or_a_corroborated_low_rating() -> None:
    down = [feedback(thumbs_up=False)]
    rows = [
        make_turn("rated_only", reward=-0.8, feedback=down),
        make_turn(
            "rated_and_tool", reward=-0.8, feedback=down, tools_used=[{**TOOL, "status": "error"}]
        ),
        make_turn("corrected", reward=-0.8, corrected_response="better"),
        make_turn("praised_but_corrected", feedback=PRAISE, corrected_response="better"),
    ]
    turns = _turns(rows).filter(rejected_label(CurationOptions(selection="explicit_praise")))
    assert sorted(turns["session_id"].to_list()) == ["corrected", "rated_and_tool"]
