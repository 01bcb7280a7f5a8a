"""Replicas starting at once on a fresh database: N `artifactsvc migrate` processes released
together migrate exactly once, one applying every migration under the migration lock
(pg_advisory_xact_lock; SQLite's BEGIN IMMEDIATE), the others waiting for it and finding
nothing left, with no error anywhere.

Started one after the other, the processes would not overlap at all (a Python start-up
takes far longer than the migrations), and the test would pass without any lock. So each
process first imports everything, says it is ready, and waits on its stdin; all are
released at the same moment, and their migrations run into each other."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from artifactsvc.metadata.migrations import LATEST, MIGRATIONS
from tests.support.database import query
from tests.support.processes import REPO

PROCESSES = 4
# `artifactsvc migrate` exactly (its main), once every import is done.
MIGRATE_WHEN_RELEASED = """
import sys
import artifactsvc.cli, artifactsvc.metadata.postgres, artifactsvc.metadata.sqlite
from artifactsvc.__main__ import main
print("ready", flush=True)
sys.stdin.readline()
sys.exit(main(["migrate"]))
"""


def test_migrate_processes_released_together_apply_each_migration_once(
    database_url: str, tmp_path: Path
) -> None:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("ARTIFACTSVC_")}
    env = {**clean, "ARTIFACTSVC_DATABASE_URL": database_url, "PYTHONPATH": str(REPO)}
    runs = [
        subprocess.Popen(
            [sys.executable, "-c", MIGRATE_WHEN_RELEASED],
            env=env,
            cwd=tmp_path,
            text=True,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for _ in range(PROCESSES)
    ]
    for run in runs:
        assert run.stdout is not None and run.stdout.readline() == "ready\n"
    for run in runs:
        assert run.stdin is not None
        run.stdin.write("go\n")
        run.stdin.flush()
    outputs = [run.communicate(timeout=60) for run in runs]

    assert [run.returncode for run in runs] == [0] * PROCESSES, [err for _, err in outputs]
    applied = ", ".join(str(m.version) for m in MIGRATIONS)
    assert sorted(out for out, _ in outputs) == sorted(
        [f"schema at version {LATEST}; migrations applied now: {applied}\n"]
        + [f"schema at version {LATEST}; migrations applied now: none\n"] * (PROCESSES - 1)
    )
    versions = [row["version"] for row in query(database_url, "SELECT version FROM schema_version")]
    assert sorted(versions) == [m.version for m in MIGRATIONS]
