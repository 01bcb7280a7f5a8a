"""Runner uploads (POST /api/v4/jobs/:id/artifacts), as gitlab-runner and curl send them.

Every refusal is checked behind the service too: no object (nor temporary file, nor open
multipart upload) in storage, no row in the database, nothing in the Job JSON.
"""

from __future__ import annotations

import random
import socket
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest

from artifactsvc.models import parse_time
from tests.artifacts.world import token
from tests.support.processes import wait_for
from tests.support.service import Service
from tests.support.wire import BOUNDARY, MULTIPART, multipart_stream
from tests.support.zips import MiB, sample_zip, sized_zip

RUNNER_QUERY = {"artifact_format": "zip", "artifact_type": "archive", "expire_in": "1 week"}


def assert_nothing_stored(service: Service, job_id: int = 100) -> None:
    assert service.storage.stored() == []
    assert service.storage.uploads() == []
    assert service.rows() == []
    body = service.job(job_id)
    assert "artifacts_file" not in body
    assert body["artifacts"] == []


def test_runner_upload_is_stored_indexed_and_downloadable(service: Service) -> None:
    data = sample_zip(seed=1)
    before = datetime.now(UTC)
    response = service.upload(100, data, params=RUNNER_QUERY)
    assert response.status_code == 201, response.text
    assert response.json() == {
        "file_type": "archive",
        "size": len(data),
        "filename": "artifacts.zip",
        "file_format": "zip",
    }
    assert service.download(100).content == data
    body = service.job(100)
    assert body["artifacts_file"] == {"filename": "artifacts.zip", "size": len(data)}
    assert body["artifacts"] == [
        {"file_type": "archive", "size": len(data), "filename": "artifacts.zip",
         "file_format": "zip"},
    ]  # fmt: skip
    expire_at = parse_time(body["artifacts_expire_at"])
    assert expire_at is not None
    assert before + timedelta(weeks=1) - timedelta(seconds=5) <= expire_at
    assert expire_at <= datetime.now(UTC) + timedelta(weeks=1)
    # The archive and its index, both under the job's prefix.
    [row] = service.rows()
    assert row["index_key"] == row["object_key"] + ".index"
    keys = service.storage.stored()
    assert keys == sorted(service.storage.name(k) for k in (row["object_key"], row["index_key"]))
    assert row["object_key"].startswith("projects/1/jobs/100/")


def test_form_fields_before_the_file_are_honoured(service: Service) -> None:
    data = sample_zip(seed=2)
    response = service.upload(
        100, data, before={"artifact_type": "archive", "artifact_format": "zip",
                           "expire_in": "never"},
    )  # fmt: skip
    assert response.status_code == 201, response.text
    body = service.job(100)
    assert body["artifacts_file"]["size"] == len(data)
    assert body["artifacts_expire_at"] is None


def test_form_fields_after_the_file_are_honoured(make_service: Callable[..., Service]) -> None:
    """curl -F file=@x -F artifact_type=junit: on a real connection the type arrives after
    2 MiB of the file's bytes, long after the upload started."""
    service = make_service(real=True)
    archive = sized_zip(2 * MiB, seed=3)
    response = service.upload(100, archive, after={"expire_in": "3 mins 4 sec"}, chunked=True)
    assert response.status_code == 201, response.text
    report = b"\x1f\x8b" + random.Random(3).randbytes(2 * MiB)
    response = service.upload(
        100,
        report,
        filename="junit.xml.gz",
        after={"artifact_type": "junit", "artifact_format": "gzip", "expire_in": "2 days"},
        chunked=True,
    )
    assert response.status_code == 201, response.text
    assert response.json()["file_type"] == "junit"
    assert response.json()["file_format"] == "gzip"
    rows = {row["file_type"]: row for row in service.rows()}
    assert set(rows) == {"archive", "junit"}
    archive_expiry = parse_time(rows["archive"]["expire_at"])
    junit_expiry = parse_time(rows["junit"]["expire_at"])
    assert archive_expiry is not None and junit_expiry is not None
    assert abs((junit_expiry - archive_expiry) - timedelta(days=2, seconds=-184)) < timedelta(
        seconds=30
    )
    types = [a["file_type"] for a in service.job(100)["artifacts"]]
    assert sorted(types) == ["archive", "junit"]
    assert service.download(100).content == archive


def test_without_expire_in_the_default_applies(make_service: Callable[..., Service]) -> None:
    service = make_service(default_expire_in=3600)
    assert service.upload(100, sample_zip(seed=17)).status_code == 201
    expire_at = parse_time(service.job(100)["artifacts_expire_at"])
    assert expire_at is not None
    assert abs(expire_at - (datetime.now(UTC) + timedelta(hours=1))) < timedelta(seconds=30)


def test_upload_of_exactly_the_limit_is_accepted(make_service: Callable[..., Service]) -> None:
    data = sized_zip(64 * 1024, seed=4)
    service = make_service(max_artifact_size=len(data))
    assert service.upload(100, data).status_code == 201
    assert service.download(100).content == data


def test_upload_one_byte_over_the_limit_is_413(make_service: Callable[..., Service]) -> None:
    data = sized_zip(64 * 1024, seed=5)
    service = make_service(max_artifact_size=len(data) - 1)
    response = service.upload(100, data)
    assert response.status_code == 413
    assert response.json() == {"message": "413 Request Entity Too Large"}
    assert_nothing_stored(service)


def test_content_length_over_the_limit_is_413_before_storing(
    make_service: Callable[..., Service],
) -> None:
    """Refused from the headers; the client still gets the 413 after sending its body."""
    service = make_service(max_artifact_size=MiB, real=True)
    response = service.upload(100, sized_zip(24 * MiB, seed=6))
    assert response.status_code == 413
    assert response.json() == {"message": "413 Request Entity Too Large"}
    assert_nothing_stored(service)


def test_chunked_body_growing_past_the_limit_is_413(
    make_service: Callable[..., Service],
) -> None:
    """No Content-Length: the limit is counted while streaming. 9 MiB is past one S3 part,
    so on S3 a multipart upload is open when the limit trips, and must be aborted."""
    service = make_service(max_artifact_size=9 * MiB, real=True)
    rng = random.Random(7)

    def body() -> Iterator[bytes]:
        yield from multipart_stream(rng.randbytes(256 * 1024) for _ in range(48))

    response = service.client.post(
        "/api/v4/jobs/100/artifacts",
        content=body(),
        headers={"Content-Type": MULTIPART, **token(100)},
    )
    assert response.request.headers.get("transfer-encoding") == "chunked"
    assert "content-length" not in response.request.headers
    assert response.status_code == 413
    assert response.json() == {"message": "413 Request Entity Too Large"}
    assert_nothing_stored(service)


def test_not_a_zip_is_400_and_leaves_nothing(service: Service) -> None:
    response = service.upload(100, b"this is not a zip archive\n" * 1000)
    assert response.status_code == 400
    assert response.json()["message"].startswith("400 Bad request")
    assert_nothing_stored(service)


def test_damaged_zip_is_400_and_leaves_nothing(service: Service) -> None:
    """A zip whose central directory is damaged is a bad upload (400), not a server error."""
    data = bytearray(sample_zip(seed=8))
    directory = data.rfind(b"PK\x01\x02")
    data[directory : directory + 4] = b"XX\x01\x02"
    response = service.upload(100, bytes(data))
    assert response.status_code == 400, response.text
    assert_nothing_stored(service)


@pytest.mark.parametrize(
    ("params", "body"),
    [
        # Grape's `values:` validation, and GitLab's model validation for the pairing.
        ({"artifact_type": "nonsense"}, {"error": "artifact_type does not have a valid value"}),
        ({"artifact_format": "rar"}, {"error": "artifact_format does not have a valid value"}),
        (
            {"artifact_format": "gzip"},
            {"message": "Validation failed: Invalid file format with specified file type"},
        ),
        ({"expire_in": "a fortnight or so"}, {"error": "expire_in is invalid"}),
        ({"accessibility": "friends"}, {"error": "accessibility does not have a valid value"}),
    ],
)
def test_bad_upload_parameters_are_400(
    service: Service, params: dict[str, str], body: dict[str, str]
) -> None:
    response = service.upload(100, sample_zip(), params=params)
    assert response.status_code == 400
    assert response.json() == body
    assert_nothing_stored(service)


def test_upload_without_a_file_part_is_400(service: Service) -> None:
    body = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="artifact_type"\r\n\r\n'
        f"archive\r\n--{BOUNDARY}--\r\n"
    ).encode()
    response = service.client.post(
        "/api/v4/jobs/100/artifacts",
        content=body,
        headers={"Content-Type": MULTIPART, **token(100)},
    )
    assert response.status_code == 400
    assert response.json() == {"error": "file is missing"}
    assert_nothing_stored(service)


def test_the_token_may_come_as_a_form_field(service: Service) -> None:
    data = sample_zip(seed=14)
    response = service.upload(100, data, headers={}, before={"token": "job-100"})
    assert response.status_code == 201
    assert service.download(100).content == data


def test_unknown_artifact_type_after_the_file_is_400_and_leaves_nothing(
    make_service: Callable[..., Service],
) -> None:
    """Known only once the whole file was streamed into storage: that object is removed."""
    service = make_service(real=True)
    response = service.upload(
        100, sized_zip(2 * MiB), after={"artifact_type": "nonsense"}, chunked=True
    )
    assert response.status_code == 400
    assert response.json() == {"error": "artifact_type does not have a valid value"}
    assert_nothing_stored(service)


@pytest.mark.parametrize(
    "params",
    [
        pytest.param({"artifact_type": "archive"}, id="type-known-up-front"),
        pytest.param({}, id="type-known-after-the-body"),
    ],
)
def test_other_bytes_for_an_uploaded_type_are_400_and_keep_the_first(
    service: Service, params: dict[str, str]
) -> None:
    """GitLab's message (CreateService#persist_artifact); identical bytes are a 201 instead
    (tests/runner/test_retries.py)."""
    first, second = sample_zip(seed=9), sample_zip(seed=10)
    assert service.upload(100, first).status_code == 201
    stored = service.storage.stored()
    response = service.upload(100, second, params=params)
    assert response.status_code == 400
    assert response.json() == {"message": "another artifact of the same type already exists"}
    assert service.storage.stored() == stored
    assert service.storage.uploads() == []
    assert len(service.rows()) == 1
    assert service.download(100).content == first


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({"JOB-TOKEN": "not-a-token"}, id="unknown-token"),
        pytest.param(token(101), id="another-jobs-token"),
        pytest.param(token(102), id="finished-jobs-token"),
        pytest.param({}, id="no-token"),
        pytest.param({"PRIVATE-TOKEN": "root-token"}, id="user-token"),
    ],
)
def test_upload_without_this_running_jobs_token_is_403(
    service: Service, headers: dict[str, str]
) -> None:
    response = service.upload(100, sample_zip(), headers=headers)
    assert response.status_code == 403
    assert response.json() == {"message": "403 Forbidden"}
    assert_nothing_stored(service)


def test_finished_jobs_token_no_longer_uploads(service: Service) -> None:
    service.finish(100, "failed")
    response = service.upload(100, sample_zip())
    assert response.status_code == 403
    assert service.rows() == []
    assert service.storage.stored() == []


# -- what only a real server shows -------------------------------------------------------


def test_two_uploads_of_one_type_at_once_store_one(make_service: Callable[..., Service]) -> None:
    """Both pass the early check; the row decides, and the loser's objects are removed."""
    service = make_service(real=True)
    archives = [sized_zip(3 * MiB, seed=n) for n in (15, 16)]

    def send(data: bytes) -> int:
        return service.upload(100, data, params={"artifact_type": "archive"}).status_code

    with ThreadPoolExecutor(2) as pool:
        statuses = list(pool.map(send, archives))
    assert sorted(statuses) == [201, 400]
    winner = archives[statuses.index(201)]
    assert service.download(100).content == winner
    [row] = service.rows()
    expected = sorted(service.storage.name(k) for k in (row["object_key"], row["index_key"]))
    assert service.storage.stored() == expected
    assert service.storage.uploads() == []


def test_damaged_zip_does_not_stall_the_server(make_service: Callable[..., Service]) -> None:
    """The index builder gave up mid-stream; its abandoned reader must not block the loop."""
    service = make_service(real=True)
    data = bytearray(sample_zip(seed=8))
    directory = data.rfind(b"PK\x01\x02")
    data[directory : directory + 4] = b"XX\x01\x02"
    for _ in range(2):
        assert service.upload(100, bytes(data)).status_code == 400
        assert service.client.get("/-/liveness", timeout=5).status_code == 200
    good = sample_zip(seed=13)
    assert service.upload(100, good).status_code == 201
    assert service.download(100, timeout=5).content == good
    assert len(service.storage.stored()) == 2


def test_client_disconnect_mid_upload_leaves_nothing(
    make_service: Callable[..., Service],
) -> None:
    """Headers and 10 MiB of a 20 MiB body, then the socket closes. 10 MiB is past one S3 part,
    so a multipart upload (a temporary file on disk) is seen open before the client leaves."""
    service = make_service(real=True)
    storage = service.storage
    port = service.client.base_url.port
    assert port is not None
    head = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; '
        'filename="artifacts.zip"\r\nContent-Type: application/octet-stream\r\n\r\n'
    ).encode()
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(
            (
                "POST /api/v4/jobs/100/artifacts?artifact_type=archive HTTP/1.1\r\n"
                f"Host: 127.0.0.1:{port}\r\nJOB-TOKEN: job-100\r\n"
                f"Content-Type: {MULTIPART}\r\nContent-Length: {20 * MiB}\r\n\r\n"
            ).encode()
            + head
        )
        rng = random.Random(11)
        for _ in range(40):
            sock.sendall(rng.randbytes(256 * 1024))
        wait_for(lambda: storage.uploads() != [], what="an upload in progress")
    # The socket is closed: the server must abort the upload and record nothing.
    wait_for(lambda: storage.stored() == [], what="storage to be empty")
    wait_for(lambda: storage.uploads() == [], what="no open uploads")
    assert_nothing_stored(service)
    # Nothing half-recorded blocks the job's next (complete) upload.
    data = sample_zip(seed=12)
    assert service.upload(100, data).status_code == 201
    assert service.download(100).content == data
