"""`redirect` mode (CONTRACT section 7): a GET goes to a URL presigned for GET, a HEAD to one
presigned for HEAD, and each is then fetched from the store for real.

On moto, which checks no signature, and on SeaweedFS, which refuses a HEAD on a GET-signed
URL as S3 does: there, a HEAD sent to the GET URL would have ended in a 403.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import httpx2
import pytest

from tests.artifacts.world import ROOT
from tests.support.service import Service
from tests.support.zips import sample_zip

DISPOSITION = "attachment; filename=\"artifacts.zip\"; filename*=UTF-8''artifacts.zip"
ROUTES = (
    "/api/v4/projects/1/jobs/100/artifacts",
    "/api/v4/projects/1/jobs/artifacts/master/download?job=build",
)
BOTH_STORES = pytest.mark.parametrize("storage_url", ["s3", "seaweed"], indirect=True)


@dataclass
class Redirecting:
    service: Service
    data: bytes
    store: str  # "s3" (moto) or "seaweed"

    def location(self, method: str, path: str) -> str:
        response = self.service.client.request(method, path, headers=ROOT, follow_redirects=False)
        assert response.status_code == 302, (method, path, response.text)
        location = response.headers["location"]
        assert location.startswith(self.service.storage.endpoint_url or "?")
        assert "X-Amz-Signature=" in location
        return location


@pytest.fixture
def redirecting(
    request: pytest.FixtureRequest, make_service: Callable[..., Service]
) -> Redirecting:
    # A real process: it finds the store's credentials in its environment, as in production.
    service = make_service(download_mode="redirect", real=True)
    data = sample_zip(seed=29)
    assert service.upload(100, data).status_code == 201
    service.finish(100)
    return Redirecting(service, data, request.node.callspec.params["storage_url"])


@BOTH_STORES
def test_a_redirected_head_reaches_the_objects_headers(redirecting: Redirecting) -> None:
    for path in ROUTES:
        head = httpx2.head(redirecting.location("HEAD", path), timeout=10)

        assert head.status_code == 200, path
        assert head.content == b""
        assert head.headers["content-length"] == str(len(redirecting.data))
        if redirecting.store == "seaweed":  # moto leaves response-* overrides out of a HEAD
            assert head.headers["content-disposition"] == DISPOSITION


@BOTH_STORES
def test_a_redirected_get_still_downloads_the_archive(redirecting: Redirecting) -> None:
    for path in ROUTES:
        get = httpx2.get(redirecting.location("GET", path), timeout=10)

        assert get.status_code == 200, path
        assert get.content == redirecting.data
        assert get.headers["content-disposition"] == DISPOSITION


@pytest.mark.parametrize("storage_url", ["seaweed"], indirect=True)
def test_a_head_on_the_get_url_is_what_a_signing_store_refuses(redirecting: Redirecting) -> None:
    get_url = redirecting.location("GET", ROUTES[0])

    assert httpx2.head(get_url, timeout=10).status_code == 403
