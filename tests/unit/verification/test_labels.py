"""The reference's labels (docs/labels.md) on hand-made feedback."""

from verification.labels import TurnLabel, label_turn


def _item(kind: str, session_level: bool = False, **fields: object) -> dict[str, object]:
    return {"kind": kind, "session_level": session_level, "correction": None, **fields}


def test_weighted_mean_of_scored_feedback_then_explicit_share() -> None:
    feedback = [
        _item("rating", rating=5, source="human_reviewer"),  # +1, weight 1.5
        _item("thumbs", thumbs_up=False, source="automatic_evaluator"),  # -1, weight 0.75
        _item("thumbs", True, thumbs_up=True, source="nobody"),  # +1, weight 0.5 / 2
        _item("comment", comment="ignored", source="end_user"),
    ]
    # explicit = (1.5 - 0.75 + 0.25) / 2.5 = 0.4; reward = 0.8 * 0.4 + 0.2 * 0.5
    assert label_turn(feedback, "completed", retried=False) == TurnLabel(
        0.42, "explicit", 1.0, None
    )


def test_latest_turn_level_correction_is_the_target_and_scores_minus_one() -> None:
    feedback = [
        _item("correction", correction="first", source="end_user"),
        _item("correction", correction="second", source="end_user"),
        _item("correction", True, correction="session-wide", source="end_user"),
    ]
    label = label_turn(feedback, "failed", retried=True)
    # explicit -1; implicit -0.5 - 0.5 = -1; weight 2.5 -> confidence 1
    assert label == TurnLabel(-1.0, "explicit", 1.0, "second")


def test_without_scored_feedback_the_outcome_decides() -> None:
    assert label_turn([], "abandoned", retried=True) == TurnLabel(-0.8, "implicit", 0.2, None)
    assert label_turn([], "escalated", retried=False) == TurnLabel(-0.5, "implicit", 0.3, None)
    assert label_turn([], "unknown", retried=False) == TurnLabel(0.0, "none", 0.0, None)


def test_rewards_are_rounded_to_six_decimals() -> None:
    feedback = [
        _item("rating", rating=4, source="end_user"),  # +0.5, weight 1
        _item("rating", rating=1, source="x"),  # -1, weight 0.5
        _item("thumbs", thumbs_up=True, source="automatic_evaluator"),  # +1, weight 0.75
    ]
    label = label_turn(feedback, "completed", retried=False)
    # explicit = (0.5 - 0.5 + 0.75) / 2.25 = 1/3; reward = 0.8 / 3 + 0.1 = 0.3666666...
    assert label.reward == 0.366667
