"""Stream processors: Faust workers that join sessions, label turns and compute live metrics.

State lives in Redis through the `redis://` Faust store (`stream_processors.redis_store`); the
joining, labelling and metric logic are plain classes over dicts (`sessions`, `labels`,
`metrics`, `partition`) so they are tested without a broker.
"""

__all__: list[str] = []
