"""Every artifact type GitLab knows, uploaded as gitlab-runner uploads it (GitLab's
Enums::Ci::JobArtifact INTERNAL_TYPES + REPORT_TYPES, each in its one format)."""

from __future__ import annotations

import pytest

from artifactsvc.artifact_types import FILE_TYPES
from tests.runner.conftest import Runners
from tests.runner.world import payload, token
from tests.support.runner import ArtifactsOptions, UploadState

# gitlab-runner names the file `<name>` + the format's extension (artifactFilename).
EXTENSIONS = {"zip": ".zip", "gzip": ".gz", "raw": ""}


def options_for(file_type: str, file_format: str, **extra: str) -> ArtifactsOptions:
    return ArtifactsOptions(
        base_name=f"{file_type}{EXTENSIONS[file_format]}",
        expire_in="1 week",
        format=file_format,
        type=file_type,
        **extra,
    )


def test_the_upload_is_one_chunked_file_part_with_the_job_token(runners: Runners) -> None:
    job_id = runners.job()
    state, answer = runners.runner.upload_raw_artifacts(
        job_id, token(job_id), [payload("archive", "zip")], options_for("archive", "zip")
    )
    assert state is UploadState.SUCCEEDED, answer.body
    sent = dict(answer.request_headers)
    assert sent["Transfer-Encoding"] == "chunked"
    assert "Content-Length" not in sent
    assert sent["Job-Token"] == token(job_id)
    assert answer.target == (
        f"/api/v4/jobs/{job_id}/artifacts"
        "?artifact_format=zip&artifact_type=archive&expire_in=1+week"
    )


def test_every_artifact_type_gitlab_knows_is_accepted_in_its_format(runners: Runners) -> None:
    job_id = runners.job()
    for file_type, (_, file_format) in FILE_TYPES.items():
        options = options_for(file_type, file_format)
        state, answer = runners.runner.upload_raw_artifacts(
            job_id, token(job_id), [payload(file_type, file_format)], options
        )
        assert state is UploadState.SUCCEEDED, (file_type, answer.status, answer.body)
    listed = {a["file_type"]: a for a in runners.job_json(job_id)["artifacts"]}
    assert set(listed) == set(FILE_TYPES)
    for file_type, (_, file_format) in FILE_TYPES.items():
        assert listed[file_type]["file_format"] == file_format
        assert listed[file_type]["filename"] == f"{file_type}{EXTENSIONS[file_format]}"
    assert len(FILE_TYPES) == 34  # Ci::JobArtifact.file_types, every one of them


@pytest.mark.parametrize(
    ("file_type", "file_format"),
    [("junit", "raw"), ("sast", "gzip"), ("archive", "gzip"), ("lsif", "raw"), ("dotenv", "zip")],
)
def test_a_type_in_another_format_is_refused_as_gitlab_refuses_it(
    runners: Runners, file_type: str, file_format: str
) -> None:
    job_id = runners.job()
    options = options_for(file_type, file_format)
    state, answer = runners.runner.upload_raw_artifacts(
        job_id, token(job_id), [payload(file_type, file_format)], options
    )
    assert (state, answer.status) == (UploadState.FAILED, 400)
    assert answer.json() == {
        "message": "Validation failed: Invalid file format with specified file type"
    }
    assert runners.rows(job_id) == []


def test_a_report_sent_without_its_format_is_a_mismatch_as_in_gitlab(runners: Runners) -> None:
    """Grape's default `artifact_format` is `zip` whatever the type."""
    job_id = runners.job()
    options = ArtifactsOptions(base_name="junit.gz", type="junit")
    _, answer = runners.runner.upload_raw_artifacts(
        job_id, token(job_id), [payload("junit", "gzip")], options
    )
    assert answer.status == 400
    assert runners.rows(job_id) == []


def test_the_trace_type_takes_any_format_as_gitlab_exempts_it(runners: Runners) -> None:
    job_id = runners.job()
    options = ArtifactsOptions(base_name="job.log", type="trace", format="zip")
    state, _ = runners.runner.upload_raw_artifacts(job_id, token(job_id), [b"log\n"], options)
    assert state is UploadState.SUCCEEDED


@pytest.mark.parametrize(
    ("options", "body"),
    [
        (
            ArtifactsOptions(type="nonsense", format="raw"),
            {"error": "artifact_type does not have a valid value"},
        ),
        (
            ArtifactsOptions(type="archive", format="tar"),
            {"error": "artifact_format does not have a valid value"},
        ),
    ],
    ids=["unknown-type", "unknown-format"],
)
def test_an_unknown_type_or_format_is_gitlabs_400(
    runners: Runners, options: ArtifactsOptions, body: dict[str, str]
) -> None:
    job_id = runners.job()
    _, answer = runners.runner.upload_raw_artifacts(
        job_id, token(job_id), [payload("archive", "zip")], options
    )
    assert answer.status == 400
    assert answer.json() == body
