"""One real `artifactsvc serve` over the pages' world (tests/support/pages.py) per module."""

from __future__ import annotations

from collections.abc import Iterator

import httpx2
import pytest

from tests.support.pages import pages_server
from tests.support.processes import ServerProcess


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with pages_server(tmp_path_factory.mktemp("pages")) as server:
        yield server


@pytest.fixture
def web(site: ServerProcess) -> Iterator[httpx2.Client]:
    """An anonymous browser: no redirects followed, cookies kept."""
    with httpx2.Client(base_url=site.base_url, timeout=30, follow_redirects=False) as client:
        yield client
