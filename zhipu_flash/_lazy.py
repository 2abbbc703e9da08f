"""Names a module defines on first use (PEP 562), so ``import zhipu_flash`` skips their cost.

The module keeps the import that loads them, as a function of its own: the import stays a
statement the layer check (tests/unit/test_imports.py) reads.
"""

from collections.abc import Callable, Collection, MutableMapping
from types import ModuleType
from typing import Any


def lazy_attributes(
    namespace: MutableMapping[str, Any], names: Collection[str], load: Callable[[], ModuleType]
) -> Callable[[str], Any]:
    """A module ``__getattr__`` that reads each of ``names`` from the module ``load()``
    returns, and keeps it in ``namespace`` (the module's ``globals()``) so later reads are
    plain attribute reads."""
    module = namespace["__name__"]

    def __getattr__(name: str) -> Any:
        if name in names:
            value = namespace[name] = getattr(load(), name)
            return value
        raise AttributeError(f"module {module!r} has no attribute {name!r}")

    return __getattr__
