"""Assemble BENCHMARKS.md (from benchmarks/BENCHMARKS.in.md) and docs/findings.md (from
benchmarks/findings.in.md) out of the generated tables in benchmarks/results/.

    python benchmarks/render.py

A line ``<!-- include results/NAME.md -->`` in the template is replaced by that file as the benchmark
scripts wrote it, so no number in BENCHMARKS.md is typed by hand. A missing file is an error.
"""

from __future__ import annotations

import re
import sys

from common import ROOT

# template -> document; the document's links to benchmarks/plots/ are written relative to where it lies
DOCUMENTS = {ROOT / "benchmarks" / "BENCHMARKS.in.md": ROOT / "BENCHMARKS.md",
             ROOT / "benchmarks" / "findings.in.md": ROOT / "docs" / "findings.md"}
INCLUDE = re.compile(r"^<!-- include (\S+) -->$")


def render(template: str, plots: str = "benchmarks/plots/") -> str:
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
        out.append(path.read_text().rstrip("\n").replace("](../plots/", f"]({plots}"))
    return "\n".join(out) + "\n"


def main() -> None:
    for template, target in DOCUMENTS.items():
        up = "../" * (len(target.relative_to(ROOT).parts) - 1)
        target.write_text(render(template.read_text(), f"{up}benchmarks/plots/"))
        print(f"wrote {target}")


if __name__ == "__main__":
    main()
