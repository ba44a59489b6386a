import polars as pl

from curation.split import assign_split, session_split


def test_split_is_stable_and_near_the_requested_share() -> None:
    sessions = [f"s-{i}" for i in range(4000)]
    splits = [session_split(s, 0.1, "salt") for s in sessions]
    assert splits == [session_split(s, 0.1, "salt") for s in sessions]
    assert 0.08 < splits.count("eval") / len(splits) < 0.12


def test_salt_changes_the_assignment() -> None:
    sessions = [f"s-{i}" for i in range(500)]
    a = [session_split(s, 0.5, "one") for s in sessions]
    b = [session_split(s, 0.5, "two") for s in sessions]
    assert a != b


def test_every_row_of_a_session_lands_in_the_same_split() -> None:
    frame = pl.DataFrame({"session_id": [f"s-{i % 300}" for i in range(3000)]})
    out = assign_split(frame, 0.3, "salt")
    per_session = out.group_by("session_id").agg(pl.col("split").n_unique())
    assert per_session["split"].max() == 1
    assert set(out["split"].unique()) == {"train", "eval"}


def test_edge_shares() -> None:
    assert session_split("s", 0.0, "x") == "train"
    assert session_split("s", 1.0, "x") == "eval"
