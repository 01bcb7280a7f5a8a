"""Every command README.md shows, run as written against the service started as `make run`
starts it.

The README's fenced `sh` blocks are run in order, each as one `bash -eo pipefail` script,
and `python` blocks with the venv's Python, in a scratch folder that looks like a checkout
(`.venv` linked, `examples/` copied), against `artifactsvc serve` with no ARTIFACTSVC_*
setting but the port: so its SQLite database and objects land in `./var`, where the
commands' `artifactsvc import`, `usage`, `ls`... find them, as after `make run`.

The port: the README says `http://127.0.0.1:8080`; the server here listens on a free port
(another test may hold 8080), and that one literal, and nothing else, is replaced in each
block before it runs; a block that talks HTTP without it fails the test. Blocks made only of
`make TARGET` lines (`make run`, `make test`, `make fuzz`) are not run here (they would
install and start or test everything); the targets are checked to exist in the Makefile.

Each block must match exactly one entry of CHECKS, so a command added to the README without
an assertion on its output fails here.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.processes import REPO, server_process

README = REPO / "README.md"
EXAMPLES = REPO / "examples"
ARCHIVE = (EXAMPLES / "artifacts.zip").read_bytes()
JUNIT = zipfile.ZipFile(EXAMPLES / "artifacts.zip").read("junit.xml")
README_URL = "http://127.0.0.1:8080"

pytestmark = pytest.mark.timeout(180)


@dataclass(frozen=True)
class Block:
    language: str
    text: str
    line: int  # where it starts in README.md, for failure messages


def blocks(markdown: str) -> list[Block]:
    """The fenced code blocks of a Markdown document, with their language."""
    found = []
    for match in re.finditer(r"^```(\w*)\n(.*?)^```$", markdown, re.MULTILINE | re.DOTALL):
        line = markdown.count("\n", 0, match.start()) + 1
        found.append(Block(match.group(1), match.group(2), line))
    return found


def runnable(block: Block) -> bool:
    return block.language in ("sh", "shell", "bash", "python")


def make_targets(block: Block) -> list[str] | None:
    """The targets when every command line of the block is `make TARGET`, else None."""
    commands = [line.split("#")[0].strip() for line in block.text.splitlines()]
    commands = [command for command in commands if command]
    if not commands or not all(re.fullmatch(r"make [\w-]+", c) for c in commands):
        return None
    return [command.split()[1] for command in commands]


@dataclass
class Ran:
    """A block's run: what it printed, and the scratch checkout it ran in."""

    result: subprocess.CompletedProcess[bytes]
    workspace: Path

    @property
    def out(self) -> str:
        return self.result.stdout.decode()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def imported(ran: Ran) -> None:
    assert ran.out.strip() == "imported 2 users, 1 projects, 2 pipelines, 5 jobs, 1 artifacts"


def jobs_and_trace(ran: Ran) -> None:
    # curl prints the listing (no newline after it), then the log.
    listing, end = json.JSONDecoder().raw_decode(ran.out)
    assert [(j["id"], j["status"]) for j in listing] == [(8, "success"), (7, "failed")]
    assert ran.out[end:] == "Running with gitlab-runner\n$ rake teaspoon\nfailed\n"


def downloads(ran: Ran) -> None:
    assert (ran.workspace / "artifacts.zip").read_bytes() == ARCHIVE
    assert (ran.workspace / "latest.zip").read_bytes() == ARCHIVE


def one_file(ran: Ran) -> None:
    assert ran.result.stdout == JUNIT


def tree(ran: Ran) -> None:
    with zipfile.ZipFile(EXAMPLES / "artifacts.zip") as archive:
        expected = [
            (info.filename, info.file_size)
            for info in archive.infolist()
            if info.filename.startswith("coverage/")
        ]
    assert [(e["path"], e["size"]) for e in json.loads(ran.out)] == sorted(expected)


def python_gitlab(ran: Ran) -> None:
    assert ran.out.splitlines() == [
        "11 package running",
        "9 deploy manual",
        "8 rubocop success",
        "7 teaspoon failed",
        "Running with gitlab-runner",
        "$ rake teaspoon",
        "failed",
        f"job 8: {sha256(ARCHIVE)}",
        f"master: {sha256(ARCHIVE)}",
        JUNIT.decode().splitlines()[1],
    ]


def uploaded(ran: Ran) -> None:
    reply = json.loads(ran.out)
    assert reply == {
        "file_type": "archive",
        "size": len(ARCHIVE),
        "filename": "artifacts.zip",
        "file_format": "zip",
    }


def usage_all(ran: Ran) -> None:
    # Plain text off a terminal: a line per project and type, the largest archives, and
    # job 11's upload of a moment ago, which expires within the week.
    lines = ran.out.splitlines()
    assert f"foo/bar  archive  2 artifacts  {2 * len(ARCHIVE)} bytes" in lines
    assert f"foo/bar  job 8 rubocop  archive  {len(ARCHIVE)} bytes  never" in lines
    assert any(line.startswith("foo/bar  job 11 package  archive") for line in lines)
    expiring = lines[lines.index("expiring within 7 days:") + 1 :]
    assert [line.split("  ")[1] for line in expiring] == ["job 11 package"]


def usage_json(ran: Ran) -> None:
    report = json.loads(ran.out)
    assert report["projects"] == [
        {
            "project_id": 1,
            "path_with_namespace": "foo/bar",
            "file_type": "archive",
            "artifacts": 2,
            "bytes": 2 * len(ARCHIVE),
        }
    ]
    assert [(a["job_id"], a["size"]) for a in report["largest"]] == [
        (11, len(ARCHIVE)),
        (8, len(ARCHIVE)),
    ]
    assert [a["job_id"] for a in report["expiring"]] == [11]


def listed_root(ran: Ran) -> None:
    names = [line.split()[-1] for line in ran.out.splitlines()]
    assert names == ["README.txt", "build/", "coverage/", "junit.xml", "reports/"]


def listed_folder(ran: Ran) -> None:
    rows = [line.split() for line in ran.out.splitlines()]
    sizes = {row[-1]: int(row[1]) for row in rows}
    with zipfile.ZipFile(EXAMPLES / "artifacts.zip") as archive:
        expected = {
            info.filename: info.file_size
            for info in archive.infolist()
            if info.filename.startswith("coverage/")
        }
    assert sizes == expected


def catted(ran: Ran) -> None:
    assert ran.result.stdout == b""
    assert (ran.workspace / "junit.xml").read_bytes() == JUNIT


def expired(ran: Ran) -> None:
    # Nothing has expired yet: job 8's archive never does, job 11's in a week.
    assert ran.out.strip() == "expired 0 artifacts (0 bytes); 0 objects left for gc"


def collected(ran: Ran) -> None:
    assert ran.out.strip() == "removed 0 orphaned objects; aborted 0 stale uploads"


# (a piece of the block's text that names it, what its run must show)
CHECKS: list[tuple[str, Callable[[Ran], None]]] = [
    ("artifactsvc import examples/sample.json", imported),
    ("jobs/7/trace", jobs_and_trace),
    ("jobs/artifacts/master/download?job=rubocop", downloads),
    ("raw/junit.xml?job=rubocop", one_file),
    ("artifacts/tree?path=coverage", tree),
    ("import gitlab", python_gitlab),
    ("JOB-TOKEN: glcbt-example-job-token", uploaded),
    ("artifactsvc usage\n", usage_all),
    ("artifactsvc usage foo/bar --json", usage_json),
    ("artifactsvc ls foo/bar 8\n", listed_root),
    ("artifactsvc ls 1 8 coverage", listed_folder),
    ("artifactsvc cat foo/bar 8 junit.xml > junit.xml", catted),
    ("artifactsvc expire", expired),
    ("artifactsvc gc", collected),
]


def check_for(block: Block) -> Callable[[Ran], None]:
    matching = [check for needle, check in CHECKS if needle in block.text]
    assert len(matching) == 1, f"README.md line {block.line}: {len(matching)} checks match"
    return matching[0]


def workspace(tmp_path: Path) -> Path:
    """A folder that looks like a checkout after `make install`."""
    root = tmp_path / "checkout"
    root.mkdir()
    (root / ".venv").symlink_to(Path(sys.executable).parents[1])
    shutil.copytree(EXAMPLES, root / "examples")
    return root


def run_block(block: Block, base_url: str, cwd: Path, env: dict[str, str]) -> Ran:
    text = block.text.replace(README_URL, base_url)
    talks_http = "curl " in text or "gitlab.Gitlab(" in text
    assert not talks_http or base_url in text, f"README.md line {block.line}: not {README_URL}"
    if block.language == "python":
        command = [str(cwd / ".venv" / "bin" / "python"), "-c", text]
    else:
        command = ["bash", "-eo", "pipefail", "-c", text]
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, timeout=60)
    assert result.returncode == 0, (
        f"README.md line {block.line} exited {result.returncode}:\n{block.text}\n"
        f"{result.stderr.decode(errors='replace')}"
    )
    return Ran(result, cwd)


def test_every_readme_command_runs_as_written(tmp_path: Path) -> None:
    root = workspace(tmp_path)
    # As `make run` in a shell without ARTIFACTSVC_* settings: every default applies.
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARTIFACTSVC_")}
    to_run = [block for block in blocks(README.read_text()) if runnable(block)]
    commands = [block for block in to_run if make_targets(block) is None]
    checks = [check_for(block) for block in commands]
    # Every check is used: one that matches no block means the README lost a command.
    assert sorted(c.__name__ for c in checks) == sorted(c.__name__ for _, c in CHECKS)

    saved = {k: os.environ.pop(k) for k in list(os.environ) if k.startswith("ARTIFACTSVC_")}
    try:
        with server_process({}, cwd=root) as server:
            for block, check in zip(commands, checks, strict=True):
                ran = run_block(block, server.base_url, root, env)
                try:
                    check(ran)
                except AssertionError as error:
                    raise AssertionError(
                        f"README.md line {block.line}:\n{block.text}\nprinted:\n"
                        f"{ran.result.stdout.decode(errors='replace')}"
                    ) from error
    finally:
        os.environ.update(saved)
    # Where `make run` keeps its data: the server and the commands shared it.
    assert (root / "var" / "artifactsvc.db").is_file()


def test_the_readme_make_commands_are_makefile_targets() -> None:
    makefile = (REPO / "Makefile").read_text()
    targets = set(re.findall(r"^([\w-]+):", makefile, re.MULTILINE))
    shown = [
        target
        for block in blocks(README.read_text())
        if runnable(block)
        for target in make_targets(block) or []
    ]
    assert {"run", "test"} <= set(shown)
    assert set(shown) <= targets


def test_the_committed_archive_is_a_fresh_build(tmp_path: Path) -> None:
    fresh = tmp_path / "artifacts.zip"
    subprocess.run(
        [sys.executable, str(EXAMPLES / "make_archive.py"), str(fresh)], check=True, timeout=60
    )
    assert fresh.read_bytes() == ARCHIVE, "rebuild it: python examples/make_archive.py"
    with zipfile.ZipFile(fresh) as archive:
        assert archive.testzip() is None
        assert archive.read("junit.xml") == archive.read("reports/junit.xml")
        assert archive.read("coverage/badge.png").startswith(b"\x89PNG\r\n\x1a\n")


def test_the_browse_link_names_the_sample_job() -> None:
    sample = json.loads((EXAMPLES / "sample.json").read_text())
    project = sample["projects"][0]["path_with_namespace"]
    [job] = [j for j in sample["jobs"] if j.get("artifacts")]
    link = f"{README_URL}/{project}/-/jobs/{job['id']}/artifacts/browse"
    assert f"<{link}>" in README.read_text()
    assert job["status"] == "success" and job["name"] == "rubocop"


def test_the_readme_commands_table_names_every_subcommand(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "artifactsvc", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    choices = re.search(r"\{([\w,-]+)\}", result.stdout)
    assert choices is not None, result.stdout
    readme = README.read_text()
    table = readme[readme.index("## Commands") : readme.index("## Configuration")]
    listed = set(re.findall(r"^\| `artifactsvc ([\w-]+)", table, re.MULTILINE))
    assert set(choices.group(1).split(",")) == listed


def test_the_readme_uses_the_samples_tokens() -> None:
    sample = json.loads((EXAMPLES / "sample.json").read_text())
    tokens = {t for u in sample["users"] for t in u.get("tokens", [])}
    tokens |= {j["token"] for j in sample["jobs"] if "token" in j}
    shown = set(re.findall(r"(?:TOKEN: |private_token=\")([\w-]+)", README.read_text()))
    assert shown and shown <= tokens
    assert "glpat-alice-example-token" in shown and "glcbt-example-job-token" in shown
