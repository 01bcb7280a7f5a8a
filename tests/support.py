"""Test helpers that build real parts: SQLite files, PostgreSQL schemas, uvicorn processes."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from artifactsvc.importing import import_with_artifacts, plan_import
from artifactsvc.settings import Settings
from artifactsvc.wiring import build_runtime

ROOT = Path(__file__).resolve().parent.parent
POSTGRES_URL = os.environ.get(
    "ARTIFACTSVC_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def import_document(
    database_url: str,
    document: dict[str, Any],
    directory: Path,
    *,
    storage_url: str | None = None,
) -> None:
    """Imports `document` exactly as `artifactsvc import` does: same validation, same upsert,
    artifact files stored through the upload path (into `storage_url`, by default
    `directory/objects`, where the `make_client` fixture looks)."""
    path = directory / f"import-{uuid.uuid4().hex}.json"
    path.write_text(json.dumps(document))
    settings = Settings(
        database_url=database_url, storage_url=storage_url or str(directory / "objects")
    )

    async def go() -> None:
        runtime = build_runtime(settings)
        try:
            await runtime.store.migrate()
            plan = await plan_import(path, runtime.store)
            await import_with_artifacts(runtime, plan)
        finally:
            runtime.close()

    run(go())


@contextmanager
def postgres_schema() -> Iterator[str]:
    """A fresh PostgreSQL schema; yields a database URL whose search_path points at it."""
    import psycopg

    schema = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    try:
        yield f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


@dataclass(frozen=True)
class ServerProcess:
    base_url: str
    pid: int
    log: Path


@contextmanager
def server_process(
    env: dict[str, str], *, cwd: Path, start_timeout: float = 30.0
) -> Iterator[ServerProcess]:
    """`artifactsvc serve` as a real process on a free loopback port, with its pid and log.
    Stopped afterwards (SIGTERM, then SIGKILL)."""
    port = free_port()
    full_env = {**os.environ, **env, "ARTIFACTSVC_PORT": str(port)}
    full_env.setdefault("ARTIFACTSVC_EXTERNAL_URL", f"http://127.0.0.1:{port}")
    log_path = cwd / f"server-{port}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "artifactsvc", "serve"],
            env=full_env,
            cwd=cwd,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + start_timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError(log_path.read_text())
            try:
                with urllib.request.urlopen(f"{base}/-/liveness", timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        yield ServerProcess(base, process.pid, log_path)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@contextmanager
def serve_process(env: dict[str, str], *, cwd: Path) -> Iterator[str]:
    """`server_process`, for tests that need only the base URL."""
    with server_process(env, cwd=cwd) as server:
        yield server.base_url
