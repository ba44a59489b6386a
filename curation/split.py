"""Deterministic train/eval split by a salted hash of the session: a session is never in both."""

import hashlib

import polars as pl

__all__ = ["SPLITS", "assign_split", "session_split"]

SPLITS = ("train", "eval")
_SCALE = float(2**64)


def session_split(session_id: str, eval_share: float, salt: str) -> str:
    """'eval' for a stable `eval_share` of sessions, else 'train' (SHA-256, not Python's hash)."""
    digest = hashlib.sha256(f"{salt}\x00{session_id}".encode()).digest()
    return "eval" if int.from_bytes(digest[:8], "big") / _SCALE < eval_share else "train"


def assign_split(
    frame: pl.DataFrame, eval_share: float, salt: str, column: str = "session_id"
) -> pl.DataFrame:
    """Add a `split` column decided by the session in `column`."""
    sessions = frame.get_column(column).unique().sort()
    mapping = pl.DataFrame(
        {
            column: sessions,
            "split": [session_split(s, eval_share, salt) for s in sessions.to_list()],
        },
        schema={column: pl.String, "split": pl.String},
    )
    return frame.join(mapping, on=column, how="left", maintain_order="left")
