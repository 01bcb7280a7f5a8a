"""schemathesis against GET /openapi.json of a real `artifactsvc serve` over the fuzz world.

    python -m tests.fuzz.api [--examples N] [--seed S] [--database-url URL] [--keep DIR]

Starts the server on a free loopback port (SQLite and a storage directory in a temporary
folder unless told otherwise), seeds `tests.fuzz.world` with `artifactsvc import`, writes
a schemathesis.toml that supplies the world's tokens per security scheme and its ids,
paths and names as dictionaries, then runs `schemathesis run` with every check that
concerns the contract. The exit status is schemathesis' (0: no failure). `make fuzz` runs
this with many examples; tests/fuzz/test_api.py with a few per operation.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from tests.fuzz import hooks, world
from tests.support.processes import REPO, run_artifactsvc, server_process

# Every check schemathesis has, but two (reasons in docs/RELIABILITY.md):
# positive_data_acceptance expects every schema-valid request to succeed, while GitLab answers
# 400 to requests no schema can tell apart (playing a job that is not manual, bytes that are
# not a zip, a keyset cursor this server did not issue); allow_header_conformance compares a
# 405's Allow with the one operation it tested, while a path like `.../artifacts/keep` is
# also a file path (GET `.../artifacts/*artifact_path`), which Allow rightly names.
# tests/test_openapi.py checks Allow against every template that matches the path instead.
UNCHECKED = ("positive_data_acceptance", "allow_header_conformance")
# Path parameters drawn from the world most of the time (random values the rest).
BINDINGS = {
    "path.job_id": "jobs",
    "path.pipeline_id": "pipelines",
    "path.artifact_path": "files",
    "path.ref_name": "refs",
    "query.job": "names",
    "query.path": "folders",
}


# Per operation: on the runner routes `:id` is the running job (the token's own) or, for a
# dependency download, any job; what destroys archives (deleting them, erasing or retrying
# a job, which hides its archive from by-ref reads) is pointed at the world's scratch rows.
OPERATIONS = (
    ("^(upload_artifacts|patch_trace|update_job)_", "path.id", "runner_jobs"),
    ("^download_artifacts_", "path.id", "jobs"),
    ("^delete_project_artifacts_", "path.id", "scratch_projects"),
    ("^(delete_job_artifacts|erase|retry)_", "path.job_id", "scratch_jobs"),
)


def config(examples: int, seed: int | None) -> str:
    """schemathesis.toml: tokens by security scheme, the world's values as dictionaries."""
    lines = [
        "workers = 1",
        'hooks = "tests.fuzz.hooks"',
        f"seed = {seed}" if seed is not None else "",
        "[generation]",
        f"max-examples = {examples}",
        "[checks]",
        "enabled = true",
        *(f"{check}.enabled = false" for check in UNCHECKED),
        "[auth.openapi.privateToken]",
        f'api_key = "{world.ROOT_TOKEN}"',
        "[auth.openapi.privateTokenQuery]",
        f'api_key = "{world.ROOT_TOKEN}"',
        "[auth.openapi.bearer]",
        f'bearer = "{world.ROOT_TOKEN}"',
        *(
            line
            for scheme in ("jobToken", "jobTokenQuery", "runnerToken")
            for line in (f"[auth.openapi.{scheme}]", f'api_key = "{world.JOB_TOKEN}"')
        ),
        *(
            line
            for name, values in world.DICTIONARIES.items()
            for line in (f"[dictionaries.{name}]", f"values = {json.dumps(values)}")
        ),
        "[parameters]",
        *(
            f'"{key}" = {{ dictionary = "{name}", probability = 0.8 }}'
            for key, name in BINDINGS.items()
        ),
        '"path.id" = { dictionary = "projects", probability = 0.8 }',
        *(
            line
            for operations, key, name in OPERATIONS
            for line in (
                "[[operations]]",
                f'include-operation-id-regex = "{operations}"',
                f'parameters = {{ "{key}" = {{ dictionary = "{name}", probability = 0.8 }} }}',
            )
        ),
    ]
    return "\n".join(line for line in lines if line) + "\n"


def run(examples: int, *, seed: int | None, database_url: str | None, directory: Path) -> int:
    env = {
        "ARTIFACTSVC_DATABASE_URL": database_url or f"sqlite:///{directory}/fuzz.db",
        "ARTIFACTSVC_STORAGE_URL": str(directory / "objects"),
        "ARTIFACTSVC_LOG_FORMAT": "text",
    }
    database = env["ARTIFACTSVC_DATABASE_URL"]
    imported = run_artifactsvc("import", str(world.write(directory)), env=env, cwd=directory)
    if imported.returncode != 0:
        raise RuntimeError(imported.stdout + imported.stderr)
    settings = directory / "schemathesis.toml"
    settings.write_text(config(examples, seed))
    with server_process(env, cwd=directory) as server:
        command = [
            str(Path(sys.executable).parent / "schemathesis"),
            "--config-file",
            str(settings),
            "--no-color",
            "run",
            f"{server.base_url}/openapi.json",
            "--report",
            "junit",
            "--report-dir",
            str(directory / "reports"),
        ]
        hooks_env = {**os.environ, "PYTHONPATH": str(REPO), hooks.DATABASE_VARIABLE: database}
        finished = subprocess.run(command, cwd=directory, env=hooks_env, check=False)
        if finished.returncode != 0:
            print(f"server log: {server.log}", file=sys.stderr)
        return finished.returncode


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=200, help="examples per operation")
    parser.add_argument("--seed", type=int, default=None, help="hypothesis seed (repeatable)")
    parser.add_argument("--database-url", default=None, help="default: SQLite in the folder")
    parser.add_argument("--keep", type=Path, default=None, help="work here and keep it")
    args = parser.parse_args(argv)
    if args.keep is not None:
        args.keep.mkdir(parents=True, exist_ok=True)
        return run(
            args.examples, seed=args.seed, database_url=args.database_url, directory=args.keep
        )
    with tempfile.TemporaryDirectory(prefix="artifactsvc-fuzz-api-") as scratch:
        return run(
            args.examples, seed=args.seed, database_url=args.database_url, directory=Path(scratch)
        )


if __name__ == "__main__":
    sys.exit(main())
