"""A `dotenv` report (`artifacts:reports:dotenv`, sent as artifact_type=dotenv,
artifact_format=gzip) is validated as GitLab's Ci::ParseDotenvArtifactService validates it:
refused with its message, and nothing stored."""

from __future__ import annotations

import gzip

import pytest

from tests.runner.conftest import Runners
from tests.runner.world import token
from tests.support.runner import Answer, ArtifactsOptions, UploadState

DOTENV = ArtifactsOptions(base_name="dotenv.gz", format="gzip", type="dotenv")


def send(runners: Runners, job_id: int, data: bytes) -> tuple[UploadState, Answer]:
    return runners.runner.upload_raw_artifacts(job_id, token(job_id), [data], DOTENV)


@pytest.mark.parametrize(
    "text",
    [
        b"BUILD_VERSION=1.2.3\nDEPLOY_URL=https://example.com/?a=b\n",
        b"\xef\xbb\xbfKEY=value with spaces \r\nOTHER = spaced\n",  # BOM, CRLF, spaces
        b"LAST=line without newline",
        b"".join(b"K%d=%d\n" % (n, n) for n in range(20)),  # exactly the limit
        b"",
    ],
    ids=["plain", "bom-crlf-spaces", "no-final-newline", "twenty-variables", "empty"],
)
def test_a_valid_dotenv_report_is_accepted(runners: Runners, text: bytes) -> None:
    job_id = runners.job()
    state, answer = send(runners, job_id, gzip.compress(text))
    assert state is UploadState.SUCCEEDED, answer.body
    assert [row["file_type"] for row in runners.rows(job_id)] == ["dotenv"]


def test_a_dotenv_in_several_gzip_members_is_read_whole(runners: Runners) -> None:
    job_id = runners.job()
    state, _ = send(runners, job_id, gzip.compress(b"A=1\n") + gzip.compress(b"B=2\n"))
    assert state is UploadState.SUCCEEDED


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (gzip.compress(b"A=1\n\nB=2\n"), "Invalid Format"),  # an empty line is not KEY=VALUE
        (gzip.compress(b"export A\n"), "Invalid Format"),
        (
            gzip.compress(b"MY KEY=1\n"),
            "Validation failed: Key can contain only letters, digits and '_'.",
        ),
        (
            gzip.compress(b"=1\n"),
            "Validation failed: Key can't be blank, "
            "Key can contain only letters, digits and '_'.",
        ),
        (
            gzip.compress(b"".join(b"K%d=%d\n" % (n, n) for n in range(21))),
            "Dotenv files cannot have more than 20 variables",
        ),
        (
            gzip.compress(bytes(range(256)) * 40, compresslevel=0),
            "Dotenv Artifact Too Big. Maximum Allowable Size: 5120",
        ),
        (b"KEY=not gzip at all\n", "not in gzip format"),
    ],
    ids=["empty-line", "no-equals", "space-in-key", "blank-key", "21-variables", "too-big",
         "not-gzip"],
)  # fmt: skip
def test_a_dotenv_report_gitlab_refuses_is_a_400_with_its_message(
    runners: Runners, data: bytes, message: str
) -> None:
    job_id = runners.job()
    objects = runners.storage.stored()
    state, answer = send(runners, job_id, data)
    assert (state, answer.status) == (UploadState.FAILED, 400)
    assert answer.json() == {"message": message}
    assert runners.rows(job_id) == []
    assert runners.storage.stored() == objects
