"""Presigned URLs fetched for real, on moto and on SeaweedFS: a GET-signed URL downloads, a
HEAD-signed one answers a HEAD with the object's size.

SeaweedFS checks signatures as S3 does (the method is signed), so only there does a HEAD on
a GET-signed URL get the 403 that made HEAD redirects need their own URL; moto signs nothing
and accepts either, and leaves the response-* overrides out of a HEAD's answer.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest

from artifactsvc.objects.port import PresignMethod
from artifactsvc.objects.s3 import S3ObjectStore
from tests.support.s3 import create_bucket
from tests.support.seaweed import SeaweedS3
from tests.support.streams import chunks, payload, run

DISPOSITION = "attachment; filename=\"artifacts.zip\"; filename*=UTF-8''artifacts.zip"
KEY = "dl/archive"


@dataclass
class Presigner:
    server: str  # "moto" or "seaweed"
    store: S3ObjectStore
    data: bytes

    def url(self, method: PresignMethod) -> str:
        return run(self.store.presign(KEY, disposition=DISPOSITION, method=method, expires_in=60))


def fetch(url: str, method: str) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as refused:
        return refused.code, dict(refused.headers), refused.read()


@pytest.fixture(params=["moto", "seaweed"])
def presigner(
    request: pytest.FixtureRequest, executor: ThreadPoolExecutor, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Presigner]:
    if request.param == "moto":
        endpoint: str = request.getfixturevalue("moto_endpoint")
        bucket = create_bucket(endpoint)
    else:
        seaweed: SeaweedS3 = request.getfixturevalue("seaweed")
        for name, value in seaweed.env.items():
            if name.startswith("AWS_"):
                monkeypatch.setenv(name, value)  # the adapter finds credentials as boto3 does
        endpoint, bucket = seaweed.endpoint_url, seaweed.create_bucket()
    store = S3ObjectStore(bucket, "pre/fix", executor=executor, endpoint_url=endpoint)
    data = payload(10_000)
    run(store.put_stream(KEY, chunks([data])))
    yield Presigner(request.param, store, data)


def test_a_url_presigned_for_head_answers_a_head_with_the_objects_size(
    presigner: Presigner,
) -> None:
    status, headers, body = fetch(presigner.url("HEAD"), "HEAD")

    assert (status, body) == (200, b"")
    assert headers["Content-Length"] == str(len(presigner.data))
    if presigner.server == "seaweed":  # moto leaves the overrides out of a HEAD's answer
        assert headers["Content-Disposition"] == DISPOSITION


def test_a_url_presigned_for_get_still_downloads_the_object(presigner: Presigner) -> None:
    status, headers, body = fetch(presigner.url("GET"), "GET")

    assert (status, body) == (200, presigner.data)
    assert headers["Content-Disposition"] == DISPOSITION


@pytest.mark.parametrize("presigner", ["seaweed"], indirect=True)  # moto checks no signature
def test_a_store_that_checks_signatures_refuses_a_head_on_a_get_url(
    presigner: Presigner,
) -> None:
    head_on_get, _, _ = fetch(presigner.url("GET"), "HEAD")
    get_on_head, _, _ = fetch(presigner.url("HEAD"), "GET")

    assert (head_on_get, get_on_head) == (403, 403)
