from stream_processors.labels import derive_label, explicit_score, implicit_score


def test_explicit_feedback_outweighs_the_outcome() -> None:
    thumbs_down = [{"kind": "thumbs", "thumbs_up": False, "source": "end_user"}]
    label = derive_label(thumbs_down, "completed", retried=False)
    assert label.source == "explicit"
    assert label.reward == round(0.8 * -1 + 0.2 * 0.5, 6)
    assert label.reward < 0 < implicit_score("completed", False)


def test_rating_maps_to_minus_one_to_one() -> None:
    for rating, expected in [(1, -1.0), (3, 0.0), (5, 1.0)]:
        score, _ = explicit_score([{"kind": "rating", "rating": rating, "source": "end_user"}])
        assert score == expected


def test_correction_gives_target_and_negative_reward() -> None:
    feedback = [
        {"kind": "correction", "correction": "first", "source": "end_user"},
        {"kind": "correction", "correction": "better", "source": "human_reviewer"},
    ]
    label = derive_label(feedback, "completed", retried=False)
    assert label.corrected_response == "better"
    assert label.reward < 0


def test_session_level_and_source_weights() -> None:
    turn_up = {"kind": "thumbs", "thumbs_up": True, "source": "human_reviewer"}
    session_down = {
        "kind": "thumbs",
        "thumbs_up": False,
        "source": "end_user",
        "session_level": True,
    }
    score, weight = explicit_score([turn_up, session_down])
    assert weight == 1.5 + 0.5
    assert score == (1.5 - 0.5) / 2.0


def test_implicit_only_and_comments() -> None:
    comment_only = [{"kind": "comment", "comment": "hi", "source": "end_user"}]
    label = derive_label(comment_only, "abandoned", retried=True)
    assert label.source == "implicit"
    assert label.reward == -0.8
    assert label.confidence == 0.2
    assert derive_label([], "unknown", retried=False).source == "none"
