"""atheris (coverage-guided, libFuzzer) over the zip index builder and the member reader.

    python -m tests.fuzz.zips CORPUS_DIR [libFuzzer flags: -runs=N -max_total_time=S ...]

Writes the seed corpus (`tests.fuzz.seeds`) into CORPUS_DIR, instruments artifactsvc.ziprange
for coverage, and fuzzes `tests.fuzz.zip_target.check` with it. Memory is bounded by
libFuzzer's -rss_limit_mb (default here 1024), each input's time by -timeout (20 s). A
finding is an exception other than the zip layer's domain errors, or a broken invariant
(`Finding`): libFuzzer then writes the input as crash-<sha1> (in -artifact_prefix, else
the current directory) and exits non-zero. Replay one with `python -m tests.fuzz.zips
crash-<sha1>`. `make fuzz` runs this for long; tests/fuzz/test_zips.py for a bounded run.
"""

from __future__ import annotations

import sys
from pathlib import Path

import atheris

DEFAULTS = ("-rss_limit_mb=1024", "-timeout=20", "-max_len=2097152")


def main(argv: list[str]) -> None:
    with atheris.instrument_imports(include=["artifactsvc.ziprange", "tests.fuzz.zip_target"]):
        from tests.fuzz import zip_target
    from tests.fuzz import seeds

    # The first path that is not a file is the corpus (created); files are inputs to replay.
    folders = [arg for arg in argv[1:] if not arg.startswith("-") and not Path(arg).is_file()]
    for folder in folders[:1]:
        print(f"seeds: {seeds.write(Path(folder))} written to {folder}", file=sys.stderr)
    given = {arg.split("=", 1)[0] for arg in argv[1:] if arg.startswith("-")}
    flags = [flag for flag in DEFAULTS if flag.split("=", 1)[0] not in given]
    atheris.Setup([argv[0], *flags, *argv[1:]], zip_target.check)
    atheris.Fuzz()


if __name__ == "__main__":
    main(sys.argv)
