"""The coverage of plugins/ in one line each for lines, branches and both (coverage's own total),
from a data file that `make coverage` wrote: the numbers tests/README.md records.

    coverage_summary.py DATA_FILE
"""

from __future__ import annotations

import os
import sys

import coverage

HERE = os.path.dirname(os.path.abspath(__file__))


def summary(data_file: str) -> dict:
    cov = coverage.Coverage(data_file=data_file, config_file=os.path.join(HERE, "coverage.ini"))
    cov.load()
    totals = dict(statements=0, missing=0, branches=0, partial=0, missing_branches=0)
    for path in sorted(cov.get_data().measured_files()):
        if f"{os.sep}plugins{os.sep}" not in path:
            continue
        # coverage has no public per-file API for these counts
        analysis = cov._analyze(path)  # pylint: disable=protected-access
        nums = analysis.numbers
        totals["statements"] += nums.n_statements
        totals["missing"] += nums.n_missing
        totals["branches"] += nums.n_branches
        totals["partial"] += nums.n_partial_branches
        totals["missing_branches"] += nums.n_missing_branches
    return totals


def main(argv: list[str]) -> int:
    totals = summary(argv[0])
    lines = totals["statements"] - totals["missing"]
    branches = totals["branches"] - totals["missing_branches"]
    both = (lines + branches) / (totals["statements"] + totals["branches"])
    print(f"plugins/ lines:    {lines}/{totals['statements']} = {100 * lines / totals['statements']:.1f}%")
    print(f"plugins/ branches: {branches}/{totals['branches']} = {100 * branches / totals['branches']:.1f}%"
          f" ({totals['partial']} lines with a branch not taken)")
    print(f"plugins/ total:    {100 * both:.1f}% (lines and branches, as coverage report counts them)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
