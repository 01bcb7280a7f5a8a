"""`artifactsvc ls PROJECT JOB [PATH]` and `artifactsvc cat PROJECT JOB PATH` as the real
commands: the listing and single-file services the API uses, a project by id or full path,
bytes streamed to stdout as stored (binary-safe, not held whole), and every failure one line
on stderr with exit status 1 (not found) or 2 (usage)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.apps import import_document
from tests.support.documents import job, pipeline, project, user
from tests.support.processes import run_artifactsvc
from tests.support.zips import DEFLATED, STORED, Member, make_zip, noise

BINARY = bytes(range(256)) * 64 + b"\r\n\x00\x1a\r"  # every byte value, CRLFs, NUL, ^Z
BIG = 48 * 1024 * 1024
MEMBERS = [
    Member("README.md", b"# readme\n", DEFLATED),
    Member("bin/data.bin", BINARY, DEFLATED),
    Member("bin/big.bin", noise(1 << 20, 7) * (BIG >> 20), STORED),
    Member("docs/", b""),
    Member("docs/guide/intro.txt", "é € 😀\n".encode(), DEFLATED),
    Member("docs/latest", b"guide/intro.txt", symlink=True),
    Member("odd name (1).txt", b"spaces\n", STORED),
]
ARCHIVE = make_zip(MEMBERS)
ARCHIVE_FILE = "artifacts.zip"
NO_FILE = "no file {!r} in job {}'s archive (or no archive)"


@pytest.fixture
def env(sqlite_url: str, tmp_path: Path) -> dict[str, str]:
    (tmp_path / ARCHIVE_FILE).write_bytes(ARCHIVE)
    document = {
        "users": [user(1, "root", admin=True)],
        "projects": [project(1, "ops/app", "private")],
        "pipelines": [pipeline(10, 1, ref="main")],
        "jobs": [
            job(
                100, 10, name="build", artifacts=[{"file_type": "archive", "path": "artifacts.zip"}]
            ),
            job(101, 10, name="lint"),
        ],
    }
    import_document(sqlite_url, document, tmp_path)
    return {
        "ARTIFACTSVC_DATABASE_URL": sqlite_url,
        "ARTIFACTSVC_STORAGE_URL": str(tmp_path / "objects"),
    }


def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("ARTIFACTSVC_")}


def paths(output: str) -> list[str]:
    """The PATH column (the fourth, which may hold spaces) of `ls` lines."""
    return [line.split(None, 3)[3] for line in output.splitlines()]


@pytest.mark.parametrize("project_ref", ["1", "ops/app", "OPS/App"])
def test_ls_lists_the_archives_root_by_project_id_or_path(
    env: dict[str, str], tmp_path: Path, project_ref: str
) -> None:
    result = run_artifactsvc("ls", project_ref, "100", env=env, cwd=tmp_path)

    assert (result.returncode, result.stderr) == (0, "")
    assert paths(result.stdout) == ["README.md", "bin/", "docs/", "odd name (1).txt"]


def test_ls_shows_mode_size_and_time_of_each_entry(env: dict[str, str], tmp_path: Path) -> None:
    result = run_artifactsvc("ls", "1", "100", "docs", env=env, cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    assert [line.split(None, 3) for line in result.stdout.splitlines()] == [
        ["d?????????", "-", "-", "docs/guide/"],  # implied by a deeper path only
        ["lrwxrwxrwx", "15", "2024-05-06T07:08:10Z", "docs/latest"],  # make_zip's time
    ]


def test_ls_of_a_nested_folder_with_a_trailing_slash(env: dict[str, str], tmp_path: Path) -> None:
    result = run_artifactsvc("ls", "1", "100", "docs/guide/", env=env, cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    assert paths(result.stdout) == ["docs/guide/intro.txt"]
    assert result.stdout.split()[1] == str(len("é € 😀\n".encode()))


def test_cat_writes_a_binary_member_byte_for_byte(env: dict[str, str], tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "artifactsvc", "cat", "ops/app", "100", "bin/data.bin"],
        env={**clean_env(), **env},
        cwd=tmp_path,
        capture_output=True,
        timeout=60,
    )

    assert (result.returncode, result.stderr) == (0, b"")
    assert result.stdout == BINARY


def test_cat_streams_a_large_member_without_holding_it(env: dict[str, str], tmp_path: Path) -> None:
    """48 MiB through a process whose peak memory grows far less than that: a fresh parent
    runs `cat` into a file and reports its only child's peak RSS (RUSAGE_CHILDREN)."""
    out = tmp_path / "big.out"
    probe = (
        "import resource, subprocess, sys\n"
        "with open(sys.argv[1], 'wb') as out:\n"
        "    code = subprocess.run(sys.argv[2:], stdout=out).returncode\n"
        "print(code, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024)\n"
    )

    def peak(path: str, target: Path) -> int:
        command = [sys.executable, "-m", "artifactsvc", "cat", "1", "100", path]
        result = subprocess.run(
            [sys.executable, "-c", probe, str(target), *command],
            env={**clean_env(), **env},
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
        )
        code, rss = result.stdout.split()
        assert code == "0", result.stderr
        return int(rss)

    small = peak("README.md", tmp_path / "small.out")
    big = peak("bin/big.bin", out)

    assert out.stat().st_size == BIG
    assert out.read_bytes() == MEMBERS[2].data
    assert big - small < BIG // 3, (small, big)


@pytest.mark.parametrize(
    ("args", "reader", "expected"),
    [
        ("cat 1 100 bin/big.bin", "head -c 5", MEMBERS[2].data[:5]),
        ("ls 1 100", "head -n 0", b""),
    ],
)
def test_a_reader_that_stops_early_leaves_the_command_quiet(
    env: dict[str, str], tmp_path: Path, args: str, reader: str, expected: bytes
) -> None:
    # `head -n 0` exits at once: the listing is written to a pipe nobody reads. stdout
    # buffered as Python buffers a pipe by default, so the failing write may be the flush
    # at exit.
    command = f"{sys.executable} -m artifactsvc {args} | {reader}"
    buffered = {k: v for k, v in clean_env().items() if k != "PYTHONUNBUFFERED"}
    result = subprocess.run(
        ["bash", "-o", "pipefail", "-c", command],
        env={**buffered, **env},
        cwd=tmp_path,
        capture_output=True,
        timeout=60,
    )

    assert result.stdout == expected
    assert (result.returncode, result.stderr) == (0, b"")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("ls", "ops/none", "100"), "project not found: ops/none"),
        (("ls", "1", "999"), "job 999 not found in 1"),
        (("ls", "1", "101"), "job 101 has no archive"),
        (("ls", "1", "100", "nope"), "no folder 'nope' in job 100's archive"),
        (("ls", "1", "100", "README.md"), "no folder 'README.md' in job 100's archive"),
        (
            ("cat", "1", "100", "nope.txt"),
            "no file 'nope.txt' in job 100's archive (or no archive)",
        ),
        (("cat", "1", "100", "docs"), "no file 'docs' in job 100's archive (or no archive)"),
        (
            ("cat", "1", "101", "README.md"),
            "no file 'README.md' in job 101's archive (or no archive)",
        ),
        (("cat", "2", "100", "README.md"), "project not found: 2"),
    ],
)
def test_what_is_not_there_is_one_line_and_exit_status_1(
    env: dict[str, str], tmp_path: Path, args: tuple[str, ...], message: str
) -> None:
    result = run_artifactsvc(*args, env=env, cwd=tmp_path)

    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == f"artifactsvc {args[0]}: {message}\n"


@pytest.mark.parametrize(
    "args",
    [
        ("cat", "1", "100", "../etc/passwd"),
        ("ls", "1", "100", "docs//guide"),
        ("cat", "1", "x", "README.md"),
        ("ls", "1", "-5"),
        ("cat", "1", "100"),
        ("ls",),
    ],
)
def test_a_bad_argument_is_a_usage_error(
    env: dict[str, str], tmp_path: Path, args: tuple[str, ...]
) -> None:
    result = run_artifactsvc(*args, env=env, cwd=tmp_path)

    assert (result.returncode, result.stdout) == (2, "")
    assert len(result.stderr.strip().splitlines()) <= 2 and "Traceback" not in result.stderr
