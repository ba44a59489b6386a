"""The exact-dedup pre-pass of `curate sft` on raw texts: the hashed-history key (short
histories) keeps the same candidates as the key built from the texts themselves."""

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

import curation.sft as sft
from curation.labels import LABEL_COLUMN
from curation.options import CurationOptions

# Few distinct texts, so that histories and answers repeat and dedup has work to do.
_TEXTS = st.sampled_from(["hi", "help me", "thanks", "Hi"])


@st.composite
def _turns(draw: st.DrawFn) -> pl.DataFrame:
    rows = []
    for session in range(draw(st.integers(1, 6))):
        for index in range(draw(st.integers(1, 5))):
            rows.append(
                {
                    "event_id": f"e{session}-{index}",
                    "session_id": f"s{session}",
                    "turn_index": index,
                    "system_prompt": draw(st.sampled_from([None, "sys"])),
                    "prompt": draw(_TEXTS),
                    "response": draw(_TEXTS),
                    LABEL_COLUMN: draw(st.sampled_from([0.5, 0.9, 0.99])),
                    "reward": 0.0,
                    "reward_confidence": 0.0,
                    "corrected_response": draw(st.sampled_from([None, "fixed"])),
                }
            )
    return pl.DataFrame(rows)


def _winners(
    turns: pl.DataFrame, candidates: pl.DataFrame, history: int, hashed: bool
) -> set[tuple[str, str]]:
    limit = sft._HASHED_HISTORY
    sft._HASHED_HISTORY = limit if hashed else -1  # -1: every history keyed by its texts
    try:
        kept = sft._distinct_raw_conversations(turns, candidates, history, CurationOptions())
    finally:
        sft._HASHED_HISTORY = limit
    return set(kept.select("event_id", "target").iter_rows())


@settings(max_examples=60, deadline=None)
@given(turns=_turns(), history=st.integers(0, 3))
def test_hashed_history_keeps_the_winners_of_the_text_key(
    turns: pl.DataFrame, history: int
) -> None:
    own = turns.select("event_id", "session_id", "turn_index").with_columns(
        target=pl.lit("response")
    )
    fixed = (
        turns.filter(pl.col("corrected_response").is_not_null())
        .select("event_id", "session_id", "turn_index")
        .with_columns(target=pl.lit("correction"))
    )
    candidates = pl.concat([own, fixed])
    hashed = _winners(turns, candidates, history, hashed=True)
    assert hashed == _winners(turns, candidates, history, hashed=False)
    # One winner per distinct (history, prompt, answer): fewer rows only when texts repeat.
    assert 0 < len(hashed) <= candidates.height
