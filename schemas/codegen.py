"""Generated lines of Python made into a function: shared by the compiled Avro writer and reader."""

from collections.abc import Callable
from typing import Any

__all__ = ["GeneratedFunction"]


class GeneratedFunction:
    """Collects a function body line by line, with the constants it refers to."""

    def __init__(self, constants: dict[str, Any]) -> None:
        self.lines: list[str] = []
        self.constants = dict(constants)
        self.counter = 0

    def name(self, prefix: str) -> str:
        """A fresh local name."""
        self.counter += 1
        return f"{prefix}{self.counter}"

    def emit(self, indent: int, line: str) -> None:
        self.lines.append("    " * indent + line)

    def source(self, signature: str, first: str, last: str) -> str:
        """`def {signature}:`, then `first`, the emitted lines, then `last` (each line of those
        two indented once)."""
        body = "\n".join([*(f"    {line}" for line in first.splitlines()), *self.lines])
        body += "".join(f"\n    {line}" for line in last.splitlines())
        return f"def {signature}:\n{body}\n"

    def build(self, name: str, parameters: str, first: str, last: str, filename: str) -> Any:
        """The function `name(parameters)` (see `source`), made here."""
        # Constants become default arguments: locals are faster to read than globals.
        constants = ", ".join(f"{constant}={constant}" for constant in self.constants)
        source = self.source(f"{name}({parameters}, {constants})", first, last)
        namespace = dict(self.constants)
        exec(compile(source, filename, "exec"), namespace)
        function: Callable[..., Any] = namespace[name]
        return function
