"""A real server over the pages' world, and Chromium (tests/support/browser.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.browser import browser
from tests.support.pages import pages_server
from tests.support.processes import ServerProcess

__all__ = ["browser", "site"]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with pages_server(tmp_path_factory.mktemp("browser")) as server:
        yield server
