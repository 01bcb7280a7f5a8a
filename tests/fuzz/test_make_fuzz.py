"""README.md's `make fuzz`, run as written: the same target, bounded through the variables it
documents (FUZZ_EXAMPLES, FUZZ_SECONDS, FUZZ_DIR), so `make test` checks the wiring without
running the long fuzz."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

from tests.support.processes import REPO


def readme_command(name: str) -> str:
    """The line of a ```sh block in README.md that starts with `name`, its comment dropped."""
    readme = (REPO / "README.md").read_text()
    for block in re.findall(r"```sh\n(.*?)```", readme, flags=re.S):
        for line in block.splitlines():
            if line.startswith(name):
                command: str = line.split("#", 1)[0].strip()
                return command
    raise AssertionError(f"README.md shows no `{name}`")


def test_make_fuzz_as_the_readme_shows_it_runs_both_fuzzers(tmp_path: Path) -> None:
    command = readme_command("make fuzz")
    assert command == "make fuzz"
    env = {
        **os.environ,
        "FUZZ_EXAMPLES": "1",
        "FUZZ_SECONDS": "5",
        "FUZZ_DIR": str(tmp_path / "fuzz"),
    }
    finished = subprocess.run(
        command, shell=True, cwd=REPO, env=env, capture_output=True, text=True, timeout=600
    )
    assert finished.returncode == 0, finished.stdout[-3000:] + finished.stderr[-3000:]
    assert "passed" in finished.stdout  # schemathesis' summary
    assert "Done" in finished.stderr  # libFuzzer's last line
    assert list((tmp_path / "fuzz" / "zips").iterdir())  # the seed corpus, grown
    assert not list((tmp_path / "fuzz").glob("crash-*"))
