"""The stack fails with a clear message, not a stack trace, when something is missing or taken."""

import socket

import pytest

from local_stack import LocalStack, StackError, StackSettings


def _settings(tmp_path, **overrides) -> StackSettings:
    base = dict(state_dir=tmp_path / "state", kafka_port=0, kafka_controller_port=0, redis_port=0)
    return StackSettings(**{**base, **overrides})


def test_missing_redis_server_is_named(tmp_path):
    stack = LocalStack(_settings(tmp_path, redis_server="no-such-redis-server-binary"))
    with pytest.raises(StackError, match=r"no-such-redis-server-binary.*apt-get install"):
        stack.up(say=lambda _m: None)


def test_taken_port_is_named_with_its_variable(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        stack = LocalStack(_settings(tmp_path, redis_port=port))
        with pytest.raises(StackError, match=f"{port}.*FEEDBACK_STACK_REDIS_PORT"):
            stack.up(say=lambda _m: None)


def test_unknown_setting_is_rejected():
    with pytest.raises(ValueError):
        StackSettings(kafka_prot=1)  # type: ignore[call-arg]
