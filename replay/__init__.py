"""Replay and reprocessing: copy a range of the input topics (or of the lake's raw events) into a
separate namespace, reset a group's offsets, and compare two namespaces' outputs."""

from replay.exceptions import ReplayError

__all__ = ["ReplayError"]
