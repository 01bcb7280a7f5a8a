"""GET /metrics of a real `artifactsvc serve` in prometheus-client's multiprocess mode (as
`serve --workers N` runs it), parsed with prometheus-client's own parser: the counters move
with the requests made, labelled by route template."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import httpx2
from prometheus_client.parser import text_string_to_metric_families

from tests.support.apps import import_document
from tests.support.processes import server_process
from tests.support.zips import sample_zip
from tests.test_ops import JOB_TOKEN, ROOT_TOKEN, P, world

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(base: str) -> Samples:
    response = httpx2.get(f"{base}/metrics", timeout=10)
    assert response.status_code == 200
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def test_metrics_from_a_real_multiprocess_server_move_with_requests(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/meta.db"
    import_document(url, world(), tmp_path)
    (tmp_path / "prom").mkdir()
    env = {
        "ARTIFACTSVC_DATABASE_URL": url,
        "ARTIFACTSVC_STORAGE_URL": str(tmp_path / "objects"),
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "prom"),
    }
    archive = sample_zip()
    member_path = zipfile.ZipFile(io.BytesIO(archive)).namelist()[0]
    jobs = "/api/v4/projects/{id}/jobs"
    with server_process(env, cwd=tmp_path) as server:
        before = scrape(server.base_url)
        for _ in range(3):
            answer = httpx2.get(f"{server.base_url}{P}/jobs", headers={"PRIVATE-TOKEN": ROOT_TOKEN})
            assert answer.status_code == 200
        assert httpx2.get(f"{server.base_url}{P}/jobs").status_code == 401
        upload = httpx2.post(
            f"{server.base_url}/api/v4/jobs/8/artifacts",
            headers={"JOB-TOKEN": JOB_TOKEN},
            files={"file": ("artifacts.zip", archive)},
            timeout=10,
        )
        assert upload.status_code == 201, upload.text
        download = httpx2.get(
            f"{server.base_url}{P}/jobs/8/artifacts", headers={"PRIVATE-TOKEN": ROOT_TOKEN}
        )
        assert download.content == archive
        for _ in range(2):  # one member of the new archive: cold (index bucket GET), then warm
            member = httpx2.get(
                f"{server.base_url}{P}/jobs/8/artifacts/{member_path}",
                headers={"PRIVATE-TOKEN": ROOT_TOKEN},
            )
            assert member.status_code == 200, member.text
        missing = httpx2.get(
            f"{server.base_url}{P}/jobs/7/artifacts", headers={"PRIVATE-TOKEN": ROOT_TOKEN}
        )
        assert missing.status_code == 404
        # Storage broken under the server: the objects directory replaced by a file.
        (tmp_path / "objects").rename(tmp_path / "gone")
        (tmp_path / "objects").write_bytes(b"")
        again = httpx2.post(
            f"{server.base_url}/api/v4/jobs/8/artifacts",
            headers={"JOB-TOKEN": JOB_TOKEN},
            files={"file": ("artifacts.zip", archive)},
            timeout=10,
        )
        assert again.status_code == 502, again.text
        after = scrape(server.base_url)

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    route = {"route": jobs, "method": "GET"}
    assert moved("artifactsvc_http_route_requests_total", **route, status="200") == 3
    assert moved("artifactsvc_http_route_requests_total", **route, status="401") == 1
    assert moved("artifactsvc_http_requests_total", method="GET", status="2xx") >= 4
    assert moved("artifactsvc_http_request_duration_seconds_count", **route) == 4
    assert moved("artifactsvc_http_response_bytes_total") >= len(archive)
    assert moved("artifactsvc_http_request_bytes_total") >= len(archive)
    assert moved("artifactsvc_upload_size_bytes_count") == 1
    assert moved("artifactsvc_upload_size_bytes_sum") >= len(archive)
    assert sum(v for (n, _), v in after.items() if n == "artifactsvc_storage_requests_total") > 0
    errors = {
        dict(labels)["verb"]: v
        for (n, labels), v in after.items()
        if n == "artifactsvc_storage_errors_total"
    }
    assert errors.get("put", 0) >= 1, errors
    lookups = "artifactsvc_index_cache_lookups_total"
    assert moved(lookups, result="miss") >= 1 and moved(lookups, result="hit") >= 1
    # The scrape itself is in flight while it renders.
    assert value(after, "artifactsvc_http_in_flight") >= 1
