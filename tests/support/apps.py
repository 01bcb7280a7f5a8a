"""The real app in this process: `create_app(Settings(...))` behind Starlette's TestClient, over
a database URL and a storage, and seeding exactly as `artifactsvc import` does."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from starlette.testclient import TestClient

from artifactsvc import cli
from artifactsvc.app import create_app
from artifactsvc.objects import ObjectStore
from artifactsvc.settings import Settings
from tests.support.storage import Storage

EXTERNAL = "http://artifacts.test"


def app_settings(database_url: str, storage: str | Path | Storage, **overrides: Any) -> Settings:
    """Settings over `database_url` and `storage` (a directory, a storage URL, or a `Storage`),
    answering as EXTERNAL unless `external_url` is among the overrides."""
    where: dict[str, Any] = (
        storage.settings if isinstance(storage, Storage) else {"storage_url": str(storage)}
    )
    values: dict[str, Any] = {"external_url": EXTERNAL, **where, **overrides}
    return Settings(database_url=database_url, **values)


@contextlib.contextmanager
def app_client(
    settings: Settings, *, objects: ObjectStore | None = None, base_url: str | None = None
) -> Iterator[TestClient]:
    """The real app (lifespan included) behind a TestClient that calls it as `base_url`
    (the external URL by default); `objects` replaces the store the settings name."""
    app = create_app(settings, objects=objects)
    with TestClient(app, base_url=base_url or settings.external_url) as client:
        yield client


def import_document(settings: Settings | str, document: dict[str, Any], directory: Path) -> None:
    """Import `document` with the code `artifactsvc import FILE` runs (same validation, same
    upsert, artifact files stored through the upload path); fails the test if it refuses.

    `settings` may be a database URL alone: the store is then `directory/objects`, where
    `app_settings(url, directory / "objects")` looks.
    """
    if isinstance(settings, str):
        settings = app_settings(settings, directory / "objects")
    path = directory / f"import-{uuid.uuid4().hex}.json"
    path.write_text(json.dumps(document))
    said = io.StringIO()
    with contextlib.redirect_stdout(said), contextlib.redirect_stderr(said):
        code = asyncio.run(cli.import_file(settings, str(path)))
    assert code == 0, said.getvalue()
