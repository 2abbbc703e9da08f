"""``python -m zhipu_flash``: the README's main job (``zhipu-flash demo``); with arguments, the
``zhipu-flash`` command itself (``python -m zhipu_flash chat "Hi"``)."""

from __future__ import annotations

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:] or ["demo"]))
