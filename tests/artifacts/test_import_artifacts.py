"""`artifactsvc import` with artifact files (CONTRACT section 3), run as the real command: the
files go through the upload path (stored, indexed, downloadable); a bad one imports nothing."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

from tests.artifacts.world import P1, ROOT
from tests.support.documents import job, pipeline
from tests.support.processes import run_artifactsvc
from tests.support.service import Service
from tests.support.zips import DEFLATED, STORED, Member, make_zip, sample_zip


def write_import(directory: Path, document: dict[str, Any]) -> Path:
    path = directory / "import" / "artifacts.json"
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(document))
    return path


def run_import(service: Service, path: Path) -> Any:
    env = {"ARTIFACTSVC_DATABASE_URL": service.database_url, **service.storage.env}
    return run_artifactsvc("import", str(path), env=env, cwd=service.directory)


def document(archive: str, report: str) -> dict[str, Any]:
    return {
        "pipelines": [pipeline(70, 1, ref="import")],
        "jobs": [
            job(700, 70, "success", name="imported", artifacts=[
                {"file_type": "archive", "path": archive, "expire_at": "2999-01-01T00:00:00Z"},
                {"file_type": "junit", "path": report},
            ]),
        ],
    }  # fmt: skip


def test_imported_artifacts_are_stored_indexed_and_downloadable(service: Service) -> None:
    fixtures = service.directory / "import" / "fixtures"
    fixtures.mkdir(parents=True)
    archive = make_zip(
        [Member("README.md", b"imported\n", DEFLATED), Member("dist/app.js", b"x" * 5000, STORED)]
    )
    report = gzip.compress(b"<testsuites/>")
    (fixtures / "a.zip").write_bytes(archive)
    (fixtures / "junit.xml.gz").write_bytes(report)
    path = write_import(service.directory, document("fixtures/a.zip", "fixtures/junit.xml.gz"))

    result = run_import(service, path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("1 jobs, 2 artifacts")
    assert service.download(700).content == archive
    body = service.job(700)
    assert body["artifacts_file"] == {"filename": "artifacts.zip", "size": len(archive)}
    assert body["artifacts_expire_at"] == "2999-01-01T00:00:00.000Z"
    assert sorted(a["file_type"] for a in body["artifacts"]) == ["archive", "junit"]
    rows = {row["file_type"]: row for row in service.rows()}
    assert rows["archive"]["index_key"] == rows["archive"]["object_key"] + ".index"
    assert rows["junit"]["index_key"] is None
    # The index is what serves a single file.
    single = service.client.get(f"{P1}/jobs/700/artifacts/README.md", headers=ROOT)
    assert single.status_code == 200
    assert single.content == b"imported\n"
    stored = service.storage.stored()
    assert len(stored) == 3

    # Idempotent: a second import replaces the rows and gives up the old objects.
    again = run_import(service, path)
    assert again.returncode == 0, again.stderr
    assert len(service.storage.stored()) == 3
    assert service.download(700).content == archive


def test_a_bad_zip_in_an_import_imports_nothing_and_leaves_no_object(service: Service) -> None:
    fixtures = service.directory / "import"
    fixtures.mkdir()
    (fixtures / "good.zip").write_bytes(sample_zip(seed=71))
    (fixtures / "bad.zip").write_bytes(b"PK\x03\x04 but not really a zip" * 100)
    bad = document("good.zip", "good.zip")
    bad["jobs"].append(
        job(701, 70, "success", name="broken",
            artifacts=[{"file_type": "archive", "path": "bad.zip"}])
    )  # fmt: skip
    path = write_import(service.directory, bad)

    result = run_import(service, path)
    assert result.returncode == 1
    assert "jobs[1].artifacts[0].path" in result.stderr
    assert "zip" in result.stderr
    assert "Traceback" not in result.stderr
    assert service.storage.stored() == []
    assert service.storage.uploads() == []
    assert service.rows() == []
    assert service.client.get(f"{P1}/jobs/700", headers=ROOT).status_code == 404
    assert service.client.get(f"{P1}/pipelines/70", headers=ROOT).status_code == 404
