"""The batch reference of the processor's contract (docs/semantics.md) and `feedbackctl verify`.

`verification.reference.expected_results` recomputes, from a complete set of input events, what
the stream processor must have produced; `verification.lake_check.verify_lake` compares it with
a lake's output tables. Written independently of `stream_processors/` on purpose: two
implementations of one contract, so a bug in one shows as a difference.
"""
