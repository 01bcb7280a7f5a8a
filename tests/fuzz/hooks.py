"""schemathesis hooks (loaded by `tests.fuzz.api`'s schemathesis.toml): keep the world's
runner jobs running, so that the runner routes are exercised with a valid token all run
long, however often schemathesis has finished, canceled or erased them."""

from __future__ import annotations

import os
from typing import Any

import schemathesis
from schemathesis import Case, HookContext, Response

from tests.fuzz.world import RUNNING_JOBS
from tests.support.database import execute

DATABASE_VARIABLE = "ARTIFACTSVC_FUZZ_DATABASE_URL"
RESTART = (
    "UPDATE jobs SET status = 'running', erased_at = NULL, finished_at = NULL"
    f" WHERE id IN ({', '.join(str(job_id) for job_id in RUNNING_JOBS)})"
)


@schemathesis.hook
def after_call(context: HookContext, case: Case[Any], response: Response) -> None:
    if case.method not in ("GET", "HEAD"):
        execute(os.environ[DATABASE_VARIABLE], RESTART)
