"""Fixtures that build real parts: a temp SQLite file or PostgreSQL schema, the app, a server."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.support.apps import app_client, app_settings, import_document
from tests.support.database import postgres_schema

pytest_plugins = ["tests.support.s3", "tests.support.seaweed"]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Modules with a `slow` test first: under `make test` (pytest-xdist, a module per
    worker) a long module started last would leave the other workers idle at the end."""
    slow = {item.path for item in items if item.get_closest_marker("slow")}
    items.sort(key=lambda item: item.path not in slow)  # stable: the rest keep their order


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Every metadata-backed test runs on both adapters."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/meta.db"
    else:
        with postgres_schema() as url:
            yield url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path}/meta.db"


@pytest.fixture
def seed(tmp_path: Path) -> Callable[[str, dict[str, Any]], None]:
    def go(url: str, document: dict[str, Any]) -> None:
        import_document(url, document, tmp_path)

    return go


@pytest.fixture
def make_client(tmp_path: Path) -> Iterator[Callable[..., TestClient]]:
    """Builds the real app over a given database URL (and `tmp_path/objects`, where `seed`
    stores artifacts) and opens a TestClient on it; closed at teardown."""
    with ExitStack() as stack:

        def build(database_url: str, **overrides: Any) -> TestClient:
            settings = app_settings(database_url, tmp_path / "objects", **overrides)
            return stack.enter_context(app_client(settings))

        yield build


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def module_database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """`database_url` for a whole module: one seeded store shared by many read-mostly tests."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('meta')}/meta.db"
    else:
        with postgres_schema() as url:
            yield url
