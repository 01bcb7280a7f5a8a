"""`python -m bench [--quick] [--workdir DIR] [--only PART,...] [--out FILE]`."""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from bench.results import LATEST, render_table, write_results
from bench.run import PARTS, log, run
from bench.sizes import FULL, QUICK


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="about 1/8 of the full sizes")
    parser.add_argument(
        "--workdir",
        type=Path,
        default=Path(tempfile.gettempdir()),
        help="where archives and SeaweedFS data go (a fresh subdirectory, removed at the end)",
    )
    parser.add_argument(
        "--only",
        default=",".join(PARTS),
        help=f"comma-separated subset of {', '.join(PARTS)}; a partial run writes no results "
        "unless --out is given",
    )
    parser.add_argument("--out", type=Path, help=f"results file (default {LATEST})")
    args = parser.parse_args(argv)
    parts = {p.strip() for p in args.only.split(",") if p.strip()}
    if unknown := parts - set(PARTS):
        parser.error(f"unknown parts: {', '.join(sorted(unknown))}")

    figures = run(QUICK if args.quick else FULL, args.workdir, parts=parts)
    print(render_table(figures))
    out = args.out if args.out is not None else (LATEST if parts == set(PARTS) else None)
    if out is not None:
        write_results(figures, out)
        log(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
