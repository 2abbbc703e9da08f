"""Import httpx without its command-line module.

``import httpx`` runs ``from ._main import main`` to offer ``httpx.main``, the ``httpx``
command's entry point. When click and rich are installed (langchain and many tool chains pull
them in), that one line imports both and pygments, about 60 ms of a library's start-up for a
command nobody runs from inside it. So the first import of httpx by zhipu-flash sees the
module as absent (a ``None`` entry in ``sys.modules``, which the import system reports as an
``ImportError``, the case httpx already handles), and ``httpx.main`` becomes a small function
that imports the real entry point when it is called. Importing ``httpx._main`` yourself later
still works: the entry is removed at once. If httpx was imported before zhipu-flash, nothing
changes.
"""

from __future__ import annotations

import sys
from typing import Any

_CLI = "httpx._main"

if "httpx" in sys.modules:
    import httpx
else:
    _absent = _CLI not in sys.modules
    if _absent:
        sys.modules[_CLI] = None  # type: ignore[assignment]
    try:
        import httpx
    finally:
        if _absent and sys.modules.get(_CLI, 0) is None:
            del sys.modules[_CLI]
    if _CLI not in sys.modules:
        _fallback = httpx.main

        def main(*args: Any, **kwargs: Any) -> Any:
            """httpx's command line, imported on first call (see the module docstring)."""
            try:
                from httpx._main import main as cli
            except ImportError:  # click or rich missing: httpx's own message
                return _fallback()
            return cli(*args, **kwargs)

        httpx.main = main  # type: ignore[assignment]

__all__ = ["httpx"]
