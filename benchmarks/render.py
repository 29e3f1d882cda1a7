"""Assemble BENCHMARKS.md from benchmarks/BENCHMARKS.in.md and the generated tables in benchmarks/results/.

    python benchmarks/render.py

A line ``<!-- include results/NAME.md -->`` in the template is replaced by that file as the benchmark
scripts wrote it, so no number in BENCHMARKS.md is typed by hand. A missing file is an error.
"""

from __future__ import annotations

import re
import sys

from common import ROOT

TEMPLATE = ROOT / "benchmarks" / "BENCHMARKS.in.md"
TARGET = ROOT / "BENCHMARKS.md"
INCLUDE = re.compile(r"^<!-- include (\S+) -->$")


def render(template: str) -> str:
    out = []
    for line in template.splitlines():
        match = INCLUDE.match(line.strip())
        if not match:
            out.append(line)
            continue
        path = ROOT / "benchmarks" / match.group(1)
        if not path.is_file():
            sys.exit(f"render.py: {path} is missing; run the benchmark that writes it first")
        # links written relative to benchmarks/results/ point from the root once included
        out.append(path.read_text().rstrip("\n").replace("](../plots/", "](benchmarks/plots/"))
    return "\n".join(out) + "\n"


def main() -> None:
    TARGET.write_text(render(TEMPLATE.read_text()))
    print(f"wrote {TARGET}")


if __name__ == "__main__":
    main()
