"""Evidence read from enriched rows: anonymous retries, votes and the probability column."""

import polars as pl

from curation.features import add_turn_features
from curation.labels import LABEL_COLUMN, add_label_probability
from curation.labels.evidence import extract_evidence
from curation.source import read_enriched
from tests.unit.curation.enriched_factory import (
    BASE_MS,
    feedback,
    make_turn,
    signal,
    write_enriched,
)


def _turns(rows, tmp_path):
    write_enriched(tmp_path, rows)
    return add_turn_features(read_enriched(str(tmp_path)).turns)


def test_an_anonymous_retry_counts_against_the_latest_earlier_turn(tmp_path):
    retry = {**signal("retried", None, source="client"), "event_time": BASE_MS + 25_000}
    rows = [
        make_turn("s1", i, session_turns=3, signals=[retry], event_time=BASE_MS + i * 10_000)
        for i in range(3)
    ]
    turns = _turns(rows, tmp_path).sort("turn_index")
    # Turns at 0 s, 10 s, 20 s; the retry at 25 s rejects the turn at 20 s.
    assert turns.get_column("retried").to_list() == [False, False, True]


def test_named_retry_and_votes_become_codes(tmp_path):
    rows = [
        make_turn(
            "s1",
            0,
            session_turns=2,
            feedback=[feedback(thumbs_up=True), feedback("rating", rating=2, rater_id="r9")],
        ),
        make_turn(
            "s1",
            1,
            session_turns=2,
            signals=[signal("retried", None)],
            feedback=[feedback(thumbs_up=False, session_level=True)],
        ),
    ]
    rows[0]["signals"] = [signal("retried", rows[0]["event_id"])]
    rows[0]["feedback"].append(rows[1]["feedback"][0])  # a session's feedback is on every turn
    turns = _turns(rows, tmp_path).sort("turn_index")
    evidence = extract_evidence(turns)
    assert evidence.features["after"].tolist()[0] == 1  # retried, not the last turn
    # Thumbs up 4, rating 2 -> 1, the session's thumbs down 0 on both turns.
    assert sorted(evidence.vote_category.tolist()) == [0, 0, 1, 4]
    session_votes = evidence.vote_session_level.sum()
    assert session_votes == 2


def test_every_turn_gets_a_probability(tmp_path):
    rows = [make_turn(f"s{i}", 0, session_outcome="completed") for i in range(20)]
    turns, model = add_label_probability(_turns(rows, tmp_path))
    probabilities = turns.get_column(LABEL_COLUMN)
    assert probabilities.len() == 20
    assert probabilities.is_between(0, 1).all()
    assert model.describe()["iterations"] >= 1
    assert isinstance(turns, pl.DataFrame)
