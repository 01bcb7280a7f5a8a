"""schemathesis against the OpenAPI document of a real server over the fuzz world, on SQLite and
on PostgreSQL: a bounded run (a few examples per operation, a fixed seed, so a failure here
replays). `make fuzz` runs the same for far longer with a fresh seed."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest

from tests.fuzz import api
from tests.support.database import postgres_schema

EXAMPLES = 5  # per operation and phase: about 3,500 requests, half a minute a backend
SEED = 20261202


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
@pytest.mark.slow
def test_schemathesis_finds_no_server_error_and_no_contract_violation(
    backend: str, tmp_path: Path
) -> None:
    with contextlib.ExitStack() as stack:
        database = (
            []
            if backend == "sqlite"
            else ["--database-url", stack.enter_context(postgres_schema())]
        )
        code = api.main(
            ["--examples", str(EXAMPLES), "--seed", str(SEED), "--keep", str(tmp_path), *database]
        )
    assert code == 0, "schemathesis found failures: see its report above"
