"""The sessions compare reads: enriched turns of a pinned lake version, one agent's."""

import polars as pl

from curation.impact.observations import TURN_COLUMNS, SessionObservation, observations_from_turns
from curation.source import open_table, read_columns

__all__ = ["read_sessions"]


def read_sessions(
    lake_uri: str,
    agent_id: str,
    versions: tuple[str, ...],
    *,
    prefix: str = "",
    lake_version: int | None = None,
    since_ms: int | None = None,
    until_ms: int | None = None,
) -> tuple[list[SessionObservation], int]:
    """Sessions of `agent_id` at the given agent versions, and the Delta version read.

    All turns of the sessions they served are read: whether a version served a session's first
    turn (and so owns its outcome) depends on the turns of other agents and versions."""
    table = open_table(lake_uri, prefix, lake_version)
    turns = read_columns(table, TURN_COLUMNS)
    served = turns.filter(
        (pl.col("agent_id") == agent_id) & pl.col("agent_version").is_in(list(versions))
    ).select("session_id")
    sessions = [
        s
        for s in observations_from_turns(turns.join(served.unique(), on="session_id", how="semi"))
        if s.agent_id == agent_id and s.agent_version in versions
    ]
    if since_ms is not None:
        sessions = [s for s in sessions if s.started_ms >= since_ms]
    if until_ms is not None:
        sessions = [s for s in sessions if s.started_ms < until_ms]
    return sessions, table.version()
