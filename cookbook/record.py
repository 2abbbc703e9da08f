"""Re-record the cookbook's answers against the local GLM emulator, then save replay outputs.

    python cookbook/record.py                  # every notebook
    python cookbook/record.py 03_vision        # only these notebooks (by file stem)
    python cookbook/record.py --replay-only    # keep the recordings, refresh the outputs

For each notebook this runs it twice, with the kernel's working directory in ``cookbook/``:

1. against the emulator in ``glm_emulator/`` with ``ZHIPU_FLASH_RECORD=1``, so that
   ``zhipu_flash.testing.recorded()`` rewrites ``recordings/<notebook stem>/`` (every file says
   in its ``# SOURCE:`` line that it came from the emulator: wire shapes, not model output);
2. offline, with no key and no base URL, as CI runs it; these outputs are saved into the
   notebook, after a check that they hold no absolute path. Each cell's printed text is saved
   as one output per stream (nbclient's ``coalesce_streams``), not one per ``print`` call or
   streamed token, so the notebooks read well wherever they are rendered.

To record the live API instead, run a notebook with ``ZHIPUAI_API_KEY=... ZHIPU_FLASH_RECORD=1``
(see cookbook/README.md), then ``python cookbook/record.py --replay-only <stem>``.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path

import nbformat
from nbclient import NotebookClient

COOKBOOK = Path(__file__).resolve().parent
ROOT = COOKBOOK.parent
#: Variables that would make a notebook call (or record) the live API instead of replaying.
LIVE_ENV_VARS = ("ZHIPUAI_API_KEY", "ZAI_API_KEY", "ZHIPUAI_BASE_URL", "ZHIPU_FLASH_RECORD")
CELL_TIMEOUT = 120
#: Output text that must never be committed: local paths, and anything shaped like a key.
_FORBIDDEN = re.compile(
    r"/(?:work|tmp|root|home|Users)/|Bearer\s|[0-9a-f]{32}\.[0-9A-Za-z]{16}|ZHIPUAI_API_KEY="
)


def notebooks(stems: list[str]) -> list[Path]:
    found = sorted(COOKBOOK.glob("[0-9][0-9]_*.ipynb"))
    if not stems:
        return found
    chosen = [p for p in found if p.stem in stems]
    missing = set(stems) - {p.stem for p in chosen}
    if missing:
        raise SystemExit(f"No such notebook: {', '.join(sorted(missing))}")
    return chosen


def offline_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's environment without the live-API variables, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if k not in LIVE_ENV_VARS}
    env.update(extra or {})
    return env


def execute(path: Path, env: Mapping[str, str]) -> nbformat.NotebookNode:
    """Run the notebook top to bottom in a fresh python3 kernel; raise on the first error.

    A streamed answer arrives as one stdout message per token; JupyterLab merges them on
    screen, but saved as they came, nbconvert and GitHub show one token per line. So the
    outputs are coalesced: one stdout (and one stderr) output per cell."""
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        kernel_name="python3",
        timeout=CELL_TIMEOUT,
        record_timing=False,
        coalesce_streams=True,
        resources={"metadata": {"path": str(COOKBOOK)}},
    )
    client.execute(env=dict(env))
    return nb


def output_texts(nb: nbformat.NotebookNode) -> Iterator[str]:
    """Every piece of text in the notebook's outputs (streams, results, errors)."""
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            if "text" in output:
                yield output["text"]
            for value in output.get("data", {}).values():
                yield value if isinstance(value, str) else str(value)
            if "traceback" in output:
                yield "\n".join(output["traceback"])


def check_outputs(path: Path, nb: nbformat.NotebookNode) -> None:
    for text in output_texts(nb):
        if match := _FORBIDDEN.search(text):
            raise SystemExit(f"{path.name}: an output contains {match.group(0)!r}; not saved.")


def record(path: Path) -> None:
    sys.path.insert(0, str(ROOT))  # glm_emulator/ is a package of the checkout, not of the install
    from glm_emulator.server import running_emulator

    with running_emulator() as base_url:
        env = offline_env(
            {
                "ZHIPUAI_BASE_URL": base_url,
                "ZHIPUAI_API_KEY": "emulator",  # the emulator takes any Bearer token
                "ZHIPU_FLASH_RECORD": "1",
            }
        )
        execute(path, env)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("stems", nargs="*", help="notebook file stems, e.g. 03_vision")
    parser.add_argument(
        "--replay-only", action="store_true", help="keep the recordings; refresh the outputs"
    )
    args = parser.parse_args(argv)
    for path in notebooks(args.stems):
        if not args.replay_only:
            print(f"{path.name}: recording against the GLM emulator", flush=True)
            record(path)
        print(f"{path.name}: replaying offline and saving the outputs", flush=True)
        nb = execute(path, offline_env())
        check_outputs(path, nb)
        nbformat.write(nb, path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
