"""Stream processors: Faust workers that join sessions, label turns and compute live metrics.

State lives in Redis through the `redis://` Faust store (`stream_processors.redis_store`); the
joining, labelling and metric logic are plain classes over dicts (`sessions`, `labels`,
`metrics`, `partition`) so they are tested without a broker.

Those modules run compiled with mypyc when `make setup` built them and they still match their
sources (docs/compiled.md); `COMPILED_MODULES` names the ones in use.
"""

from plumbing.compiled import use_compiled

# Before any submodule import: decides where `stream_processors.sessions` etc. come from.
COMPILED_MODULES: tuple[str, ...] = use_compiled(__name__, __path__)

__all__ = ["COMPILED_MODULES"]
