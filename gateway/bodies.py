"""Reading a request body within the limits: size (413), time (408), JSON depth and batch size."""

import asyncio
from typing import Any

import orjson
from aiohttp import web

__all__ = ["BodyError", "json_depth", "read_body", "read_json"]


class BodyError(Exception):
    """A body refused before its events are looked at: HTTP status and message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


async def read_body(request: web.Request, timeout_s: float) -> bytes:
    """The whole body (decompressed by aiohttp when Content-Encoding says so). The application's
    `client_max_size` bounds it: aiohttp stops reading and raises 413 past it."""
    try:
        async with asyncio.timeout(timeout_s):
            return await request.read()
    except TimeoutError:
        raise BodyError(408, f"the request body did not arrive within {timeout_s:g}s") from None


def json_depth(value: Any, limit: int) -> int:
    """Nesting depth of arrays and objects, counting stops past `limit` (orjson parses up to
    1024 levels without a recursion limit of ours; events need far fewer)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    deepest = 0
    while stack:
        node, depth = stack.pop()
        if depth > deepest:
            deepest = depth
            if deepest > limit:
                return deepest
        children = node.values() if type(node) is dict else node
        for child in children:
            kind = type(child)
            if kind is dict or kind is list:
                stack.append((child, depth + 1))
    return deepest


def read_json(body: bytes, max_depth: int) -> Any:
    """Parse a JSON body; BodyError 400 when it is not JSON or nests deeper than `max_depth`."""
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BodyError(400, f"the body is not JSON: {exc}") from None
    if type(document) in (dict, list) and json_depth(document, max_depth) > max_depth:
        raise BodyError(400, f"the JSON nests deeper than {max_depth} levels")
    return document
