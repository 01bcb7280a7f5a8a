"""atheris (coverage-guided, libFuzzer) over the zip index builder and the member reader.

    python -m tests.fuzz.zips CORPUS_DIR [libFuzzer flags: -runs=N -max_total_time=S ...]

Writes the seed corpus (`tests.fuzz.seeds`) into CORPUS_DIR, instruments artifactsvc.ziprange
for coverage, and fuzzes `tests.fuzz.zip_target.check` with it. Memory is bounded by
libFuzzer's -rss_limit_mb (default here 1024), each input's time by -timeout (20 s). A
finding is an exception other than the zip layer's domain errors, or a broken invariant
(`Finding`): libFuzzer then writes the input as crash-<sha1> (in -artifact_prefix, else
the current directory) and exits non-zero. Replay one with `python -m tests.fuzz.zips
crash-<sha1>`. `make fuzz` runs this for long; tests/fuzz/test_zips.py for a bounded run.
It fuzzes in a forked child (`fuzz_with_a_fresh_peak`), so that the RSS limit counts its own
memory.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
from pathlib import Path

import atheris

DEFAULTS = ("-rss_limit_mb=1024", "-timeout=20", "-max_len=2097152")
# Set in the forked child that fuzzes, so that it does not fork again.
FRESH = "ARTIFACTSVC_FUZZ_FRESH_PEAK"
PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def fuzz_with_a_fresh_peak(argv: list[str]) -> int:
    """Run the fuzzer in a forked child and return its exit status.

    libFuzzer's -rss_limit_mb compares the limit with the *peak* RSS (getrusage's ru_maxrss),
    and Linux carries that peak across execve from the process that started this one. Started
    by a pytest worker that had once held 1 GiB, the fuzzer counted the worker's peak as its
    own and stopped with "out-of-memory" on its first RSS check, whatever the inputs did (CI,
    stop 16). A forked child starts its own count from this process's own pages (a fresh
    interpreter's), which the exec that follows keeps."""
    parent = os.getpid()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - replaced by the exec
        # Dies with this process (a test's timeout kills only the process it started); the
        # setting survives the exec.
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != parent:  # it died before the setting took
            os._exit(1)
        os.environ[FRESH] = "1"
        os.execv(sys.executable, [sys.executable, "-m", "tests.fuzz.zips", *argv[1:]])
    # Ctrl-C reaches both; the child stops and prints libFuzzer's summary, this one waits.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    return code if code >= 0 else 128 - code


def main(argv: list[str]) -> None:
    if os.environ.get(FRESH) != "1":
        sys.exit(fuzz_with_a_fresh_peak(argv))
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
