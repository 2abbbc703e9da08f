"""Run the GLM emulator in the foreground: ``python -m glm_emulator --port 8000`` (from the
repository root).

Point a client at the printed base URL with any non-empty key, e.g.
``ZHIPUAI_BASE_URL=http://127.0.0.1:8000/api/paas/v4 ZHIPUAI_API_KEY=local``.
Stop it with Ctrl-C.
"""

from __future__ import annotations

import argparse
import signal
from types import FrameType

from .server import base_url_of, make_server


def main(argv: list[str] | None = None) -> None:
    """Parse the arguments, print the base URL and serve until interrupted."""
    parser = argparse.ArgumentParser(
        prog="python -m glm_emulator",
        description="A local emulator of Zhipu's GLM chat-completions API (not a real model).",
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="interface to bind (default: %(default)s)"
    )
    parser.add_argument("--port", type=int, default=0, help="port to bind (default: a free one)")
    parser.add_argument("--verbose", action="store_true", help="log each request to stderr")
    args = parser.parse_args(argv)
    server = make_server(args.host, args.port, verbose=args.verbose)
    print(base_url_of(server), flush=True)
    # `kill <pid>` stops it as cleanly as Ctrl-C does.
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


if __name__ == "__main__":
    main()
