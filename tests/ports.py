"""Ports for the services tests start: free now, and out of the kernel's ephemeral range."""

import random
import socket

__all__ = ["bindable", "free_port"]


def free_port(attempts: int = 200) -> int:
    """A TCP port for a service a test starts: nothing listens on it now, and it lies below the
    kernel's ephemeral range (32768-60999 here), so no outgoing connection can take it as its
    source port before the service binds it. A port the kernel picks with bind(0) is an
    ephemeral one: between the pick and the service's bind, a client's connection once took it
    and the gateway could not listen ("address already in use"). 23000-29999 stays clear of
    the private stacks' port runs (20000-22000 and the same +10000)."""
    for _ in range(attempts):
        port = random.randrange(23000, 30000)
        if bindable(port):
            return port
    raise AssertionError("no free port found below the ephemeral range")


def bindable(port: int) -> bool:
    """Whether a listener could bind 127.0.0.1:`port` now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True
