"""`python -m stream_processors [--namespace NS]`: one worker, settings from FEEDBACK_PROCESSOR_*.

The same as `feedbackctl process`, without the rest of the CLI (used by tests and benchmarks).
"""

import argparse
import logging
import sys

from local_stack.topics import ensure_topics
from plumbing.environment import UnknownSettingError, check_environment
from plumbing.logs import configure_logging
from stream_processors.app import internal_topics, run_worker
from stream_processors.settings import PROCESSOR_ENV_PREFIX, ProcessorSettings


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m stream_processors")
    parser.add_argument("--namespace", default=None, help="replay namespace")
    parser.add_argument("--loglevel", default="info")
    args = parser.parse_args()
    try:
        # Its own variables only: a shared ConfigMap also holds the other services' ones.
        check_environment(prefixes=(PROCESSOR_ENV_PREFIX,))
    except UnknownSettingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)
    overrides = {"namespace": args.namespace} if args.namespace is not None else {}
    configure_logging(args.loglevel)
    logging.getLogger(__name__).debug("starting")
    settings = ProcessorSettings(**overrides)
    ensure_topics(settings.bootstrap_servers, internal_topics(settings))
    run_worker(settings, loglevel=args.loglevel)


if __name__ == "__main__":
    main()
