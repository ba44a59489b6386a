"""Out-of-tree mypyc builds of pure-logic modules, used only while they match their sources.

Only the loader is imported here: building needs mypy and setuptools, which the worker does not.
"""

from plumbing.compiled.loader import StaleCompiledWarning, use_compiled

__all__ = ["StaleCompiledWarning", "use_compiled"]
