"""ARTIFACTSVC_LOG_FORMAT=json end to end: a real server and the background commands write
one JSON object a line, a request's line says who asked (ids) and which route answered, and
no token used anywhere (headers, query strings, upload fields) reaches the log."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx2

from tests.support.apps import import_document
from tests.support.processes import run_artifactsvc, server_process
from tests.support.zips import sample_zip
from tests.test_ops import GUEST_TOKEN, JOB_TOKEN, ROOT_TOKEN, P, world

TOKENS = (ROOT_TOKEN, JOB_TOKEN, GUEST_TOKEN, "glpat-wrong-0d9c7e6b5a")


def json_lines(text: str) -> list[dict[str, Any]]:
    records = [json.loads(line) for line in text.splitlines() if line.strip()]
    assert all(isinstance(record, dict) for record in records)
    return records


def access_records(log: Path, count: int) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 10
    while True:
        records = json_lines(log.read_text())
        access = [r for r in records if r.get("logger") == "artifactsvc.access"]
        if len(access) >= count or time.monotonic() > deadline:
            return access
        time.sleep(0.05)


def test_json_logs_are_one_object_a_line_with_ids_and_never_a_token(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/meta.db"
    document = world()
    (running,) = [j for j in document["jobs"] if j["id"] == 8]
    running["user"] = "guest"  # a job token acts for its job's user
    import_document(url, document, tmp_path)
    env = {
        "ARTIFACTSVC_DATABASE_URL": url,
        "ARTIFACTSVC_STORAGE_URL": str(tmp_path / "objects"),
        "ARTIFACTSVC_LOG_FORMAT": "json",
    }
    requests = [
        ("GET", f"{P}/jobs?scope=failed", {"PRIVATE-TOKEN": ROOT_TOKEN}, None),
        ("GET", f"{P}/jobs/7/trace?private_token={ROOT_TOKEN}", {}, None),
        ("GET", f"{P}/jobs?private%5Ftoken={GUEST_TOKEN}", {}, None),
        ("GET", f"{P}/jobs", {"PRIVATE-TOKEN": TOKENS[3]}, None),
        ("GET", "/api/v4/job", {"JOB-TOKEN": JOB_TOKEN}, None),
        ("POST", f"/api/v4/jobs/8/artifacts?token={JOB_TOKEN}", {}, sample_zip()),
        ("GET", "/-/readiness", {}, None),
    ]
    with server_process(env, cwd=tmp_path) as server:
        for i, (method, path, headers, upload) in enumerate(requests):
            response = httpx2.request(
                method,
                server.base_url + path,
                headers={**headers, "X-Request-Id": f"json-{i}"},
                files={"file": ("artifacts.zip", upload)} if upload else None,
                timeout=10,
            )
            assert response.status_code < 500, (path, response.text)
        access = access_records(server.log, len(requests))
        server_log = server.log.read_text()

    by_id = {record["request_id"]: record for record in access}
    assert set(by_id) >= {f"json-{i}" for i in range(len(requests))}
    for record in by_id.values():
        assert {"route", "status", "duration_ms", "bytes_sent", "method"} <= set(record)
    assert by_id["json-0"]["route"] == "/api/v4/projects/{id}/jobs"
    assert by_id["json-0"]["user_id"] == 1 and by_id["json-0"]["status"] == 200
    assert by_id["json-3"]["status"] == 401 and "user_id" not in by_id["json-3"]
    assert (by_id["json-4"]["status"], by_id["json-4"]["job_id"]) == (200, 8)
    assert by_id["json-4"]["user_id"] == 2
    assert by_id["json-5"]["route"] == "/api/v4/jobs/{id}/artifacts"
    assert by_id["json-5"]["bytes_received"] > 0
    assert by_id["json-6"]["route"] == "/-/readiness"

    outputs = [server_log]
    for command in ("migrate", "expire", "gc"):
        done = run_artifactsvc(command, env=env, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        (record,) = json_lines(done.stdout)
        assert record["command"] == command and record["level"] == "info"
        json_lines(done.stderr)
        outputs += [done.stdout, done.stderr]
    for output in outputs:
        for token in TOKENS:
            assert token not in output
