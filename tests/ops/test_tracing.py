"""OpenTelemetry end to end: a real `artifactsvc serve` exporting over OTLP/HTTP to a real
receiver in this process. An incoming `traceparent` becomes the request span's parent and
comes back naming it; the metadata transactions and storage calls the request made are its
children; the background commands are traced too. With no endpoint nothing is exported and
opentelemetry is not even imported."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx2

from tests.support.apps import import_document
from tests.support.otlp import ReceivedSpan, otlp_receiver
from tests.support.processes import REPO, run_artifactsvc, server_process, wait_for
from tests.support.zips import sample_zip
from tests.test_ops import JOB_TOKEN, ROOT_TOKEN, P, world

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID = "00f067aa0ba902b7"
TRACEPARENT = f"00-{TRACE_ID}-{PARENT_ID}-01"
SERVER, CLIENT = 2, 3  # opentelemetry.proto's Span.SpanKind
DOWNLOAD_ROUTE = "/api/v4/projects/{id}/jobs/{job_id}/artifacts"


def environment(tmp_path: Path) -> dict[str, str]:
    url = f"sqlite:///{tmp_path}/meta.db"
    import_document(url, world(), tmp_path)
    return {
        "ARTIFACTSVC_DATABASE_URL": url,
        "ARTIFACTSVC_STORAGE_URL": str(tmp_path / "objects"),
        "OTEL_BSP_SCHEDULE_DELAY": "50",  # milliseconds: the test need not wait 5 s a batch
    }


def in_trace(spans: list[ReceivedSpan], trace_id: str) -> list[ReceivedSpan]:
    return [span for span in spans if span.trace_id == trace_id]


def test_a_request_span_continues_the_callers_trace_with_metadata_and_storage_children(
    tmp_path: Path,
) -> None:
    env = environment(tmp_path)
    with (
        otlp_receiver() as receiver,
        server_process(
            {
                **env,
                "ARTIFACTSVC_OTLP_ENDPOINT": receiver.url,
                "OTEL_SERVICE_NAME": "artifacts-a",
                "ARTIFACTSVC_LOG_FORMAT": "json",
            },
            cwd=tmp_path,
        ) as server,
    ):
        upload = httpx2.post(
            f"{server.base_url}/api/v4/jobs/8/artifacts",
            headers={"JOB-TOKEN": JOB_TOKEN},
            files={"file": ("artifacts.zip", sample_zip())},
            timeout=10,
        )
        assert upload.status_code == 201, upload.text
        download = httpx2.get(
            f"{server.base_url}{P}/jobs/8/artifacts",
            headers={
                "PRIVATE-TOKEN": ROOT_TOKEN,
                "traceparent": TRACEPARENT,
                "X-Request-Id": "traced",
            },
            timeout=10,
        )
        assert download.status_code == 200

        def request_span() -> list[ReceivedSpan]:
            return [s for s in in_trace(receiver.received(), TRACE_ID) if s.kind == SERVER]

        wait_for(lambda: bool(request_span()), what="the request's span at the receiver")
        (span,) = request_span()
        # The children end before their parent, so they were exported with it or before.
        trace = in_trace(receiver.received(), TRACE_ID)
        log = server.log.read_text().splitlines()
        lines = [json.loads(line) for line in log if line.startswith("{")]

    assert span.name == f"GET {DOWNLOAD_ROUTE}"
    assert span.parent_span_id == PARENT_ID
    assert span.attributes["http.route"] == DOWNLOAD_ROUTE
    assert span.attributes["http.response.status_code"] == 200
    assert span.service == "artifacts-a"
    assert download.headers["traceparent"] == f"00-{TRACE_ID}-{span.span_id}-01"
    (access,) = [line for line in lines if line.get("request_id") == "traced"]
    assert access["trace_id"] == TRACE_ID  # a log line leads to its trace
    children = {s.name for s in trace if s.parent_span_id == span.span_id and s.kind == CLIENT}
    assert "metadata read" in children, children
    assert "storage get" in children, children
    # The upload had no traceparent: a trace of its own, with its storage put under it.
    upload_id = upload.headers["traceparent"].split("-")[1]
    assert upload_id != TRACE_ID
    uploaded = {s.name for s in in_trace(receiver.received(), upload_id)}
    assert {"POST /api/v4/jobs/{id}/artifacts", "storage put", "metadata write"} <= uploaded


def test_background_commands_are_traced_and_flushed_before_they_exit(tmp_path: Path) -> None:
    env = environment(tmp_path)
    with otlp_receiver() as receiver:
        traced = {**env, "ARTIFACTSVC_OTLP_ENDPOINT": receiver.url}
        for command in ("migrate", "expire", "gc"):
            done = run_artifactsvc(command, env=traced, cwd=tmp_path)
            assert done.returncode == 0, done.stderr
        spans = receiver.received()  # no wait: each command flushed before exiting

    roots = {s.name: s for s in spans if not s.parent_span_id}
    assert {"artifactsvc migrate", "artifactsvc expire", "artifactsvc gc"} <= set(roots)

    def children(command: str) -> set[str]:
        root = roots[f"artifactsvc {command}"]
        return {s.name for s in spans if s.parent_span_id == root.span_id}

    assert "storage list" in children("gc")
    assert "metadata read" in children("expire")
    assert "metadata write" in children("migrate")


def test_without_an_endpoint_nothing_is_exported(tmp_path: Path) -> None:
    env = environment(tmp_path)
    with otlp_receiver() as receiver:
        # The SDK's own variable alone does not switch tracing on: ARTIFACTSVC_OTLP_ENDPOINT does.
        quiet = {**env, "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url}
        with server_process(quiet, cwd=tmp_path) as server:
            answer = httpx2.get(
                f"{server.base_url}{P}/jobs",
                headers={"PRIVATE-TOKEN": ROOT_TOKEN, "traceparent": TRACEPARENT},
            )
            assert answer.status_code == 200
            assert "traceparent" not in answer.headers
        assert run_artifactsvc("gc", env=quiet, cwd=tmp_path).returncode == 0
        assert receiver.posts == 0


IMPORTED = """
import json, sys
from starlette.testclient import TestClient
from artifactsvc.app import create_app
from artifactsvc.settings import Settings

with TestClient(create_app(Settings.from_env())) as client:
    assert client.get("/api/v4/projects/foo%2Fbar/jobs").status_code == 401
    assert client.get("/-/liveness").status_code == 200
print(json.dumps(sorted(m for m in sys.modules if m.startswith("opentelemetry"))))
"""


def imported_opentelemetry(env: dict[str, str], cwd: Path) -> list[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("ARTIFACTSVC_")}
    done = subprocess.run(
        [sys.executable, "-c", IMPORTED],
        env={**clean, **env, "PYTHONPATH": str(REPO)},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    modules: list[str] = json.loads(done.stdout.splitlines()[-1])
    return modules


def test_without_an_endpoint_opentelemetry_is_never_imported(tmp_path: Path) -> None:
    env = {
        "ARTIFACTSVC_DATABASE_URL": f"sqlite:///{tmp_path}/meta.db",
        "ARTIFACTSVC_STORAGE_URL": str(tmp_path / "objects"),
    }
    assert imported_opentelemetry(env, tmp_path) == []
    # The same app with an endpoint does import it: the check above can tell.
    with otlp_receiver() as receiver:
        on = imported_opentelemetry({**env, "ARTIFACTSVC_OTLP_ENDPOINT": receiver.url}, tmp_path)
    assert "opentelemetry.sdk.trace" in on
