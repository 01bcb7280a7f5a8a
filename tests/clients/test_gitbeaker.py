"""@gitbeaker/rest (the JavaScript client) against a real server: scopes, a pipeline's jobs and
bridges, pipelines of a ref, the latest pipeline, play and retry. `make install` installs it
(tests/clients/package.json, pinned by its lock file)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conformance.conftest import seed
from tests.support.processes import server_process

HERE = Path(__file__).resolve().parent


def test_gitbeaker_calls_get_gitlabs_answers(sqlite_url: str, tmp_path: Path) -> None:
    node = shutil.which("node")
    assert node is not None, "node is needed (Debian's nodejs); .ci/run installs it"
    assert (HERE / "node_modules" / "@gitbeaker" / "rest").is_dir(), "run make install"
    seed(sqlite_url, tmp_path)
    env = {
        "ARTIFACTSVC_DATABASE_URL": sqlite_url,
        "ARTIFACTSVC_STORAGE_URL": str(tmp_path / "objects"),
    }
    with server_process(env, cwd=tmp_path) as server:
        result = subprocess.run(
            [node, str(HERE / "gitbeaker_calls.mjs"), server.base_url, "tok-root"],
            cwd=HERE,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 0, result.stderr
    answered = json.loads(result.stdout)

    assert answered["scoped"] == [103, 106]
    assert answered["pipelineJobs"] == [107, 106, 103, 102, 101, 100]  # newest first
    assert answered["masterPipelines"] == [15, 12, 10]
    assert answered["latest"] == {"id": 13, "ref": "feature", "status": "success"}
    assert answered["played"] == {"id": 103, "status": "pending"}
    assert answered["retried"]["status"] == "pending" and answered["retried"]["id"] != 100
    assert answered["bridges"] == [105, 104]
    assert answered["refused"]["status"] == 400


pytestmark = pytest.mark.timeout(120)
