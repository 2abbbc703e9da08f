"""``python -m benchmarks.plot RESULTS.json OUT.png [scenario]``: a bar chart of client CPU
per chunk, run in the benchmark venv (matplotlib is installed only there)."""

from __future__ import annotations

import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

OURS = ("core", "chatzhipuflash", "zhipuflash")
FLOORS = ("floor", "httpx-sse")


def main() -> None:
    source, out = sys.argv[1], sys.argv[2]
    key = sys.argv[3] if len(sys.argv) > 3 else "big"
    with open(source, encoding="utf-8") as f:
        data = json.load(f)
    rows = [r for r in data["results"].get(key, []) if "us_per_chunk" in r]
    rows.sort(key=lambda r: r["us_per_chunk"])
    labels = [r["label"] for r in rows]
    values = [r["us_per_chunk"] for r in rows]
    colors = [
        "#d62728" if r["client"].split("-async")[0] in OURS
        else "#7f7f7f" if r["client"].split("-async")[0] in FLOORS
        else "#1f77b4"
        for r in rows
    ]  # fmt: skip
    fig, ax = plt.subplots(figsize=(9, 0.42 * len(rows) + 1.4))
    ax.barh(labels, values, color=colors)
    for y, v in enumerate(values):
        ax.text(v, y, f" {v:.0f}", va="center", fontsize=8)
    n = rows[0]["n"] if rows else 0
    ax.set_xlabel("client CPU per chunk (us), lower is better")
    ax.set_title(
        f"One {n:,}-chunk GLM stream over loopback\n"
        "red: zhipu-flash, grey: floors, blue: alternatives",
        fontsize=9,
    )
    ax.margins(x=0.12)
    fig.tight_layout()
    fig.savefig(out, dpi=110)


if __name__ == "__main__":
    main()
