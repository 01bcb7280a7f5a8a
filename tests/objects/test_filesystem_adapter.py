"""What only the filesystem adapter does: confinement to its root, files, descriptors."""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from artifactsvc.errors import ObjectNotFound, StorageError, StorageUnavailable
from artifactsvc.objects.filesystem import TEMP_PREFIX, FilesystemObjectStore
from tests.support.streams import chunks, payload, read_all, run


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "objects"


@pytest.fixture
def store(root: Path, executor: ThreadPoolExecutor) -> FilesystemObjectStore:
    return FilesystemObjectStore(root, executor=executor)


def open_descriptors() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.mark.parametrize(
    "key",
    [
        "../outside",
        "a/../../outside",
        "/tmp/outside",
        "a/./b",
        f"{TEMP_PREFIX}x",
        f"a/{TEMP_PREFIX}b/c",
    ],
)
def test_keys_that_could_escape_or_collide_are_refused(
    store: FilesystemObjectStore, tmp_path: Path, key: str
) -> None:
    with pytest.raises(ValueError):
        run(store.put_stream(key, chunks([b"x"])))
    with pytest.raises(ValueError):
        run(store.delete(key))
    assert list(tmp_path.iterdir()) == []


def test_an_object_is_a_file_under_the_root_in_created_directories(
    store: FilesystemObjectStore, root: Path
) -> None:
    info = run(store.put_stream("p/1/jobs/7/archive.zip", chunks([b"zip", b"bytes"])))
    assert (root / "p/1/jobs/7/archive.zip").read_bytes() == b"zipbytes"
    assert info.size == 8
    assert [p.name for p in (root / "p/1/jobs/7").iterdir()] == ["archive.zip"]


def test_replacing_with_the_same_size_changes_the_etag(store: FilesystemObjectStore) -> None:
    first = run(store.put_stream("k", chunks([b"aaaa"])))
    second = run(store.put_stream("k", chunks([b"bbbb"])))
    assert first.etag != second.etag
    assert run(store.head("k")).etag == second.etag


def test_a_reader_keeps_the_version_it_opened(store: FilesystemObjectStore) -> None:
    async def scenario() -> None:
        await store.put_stream("k", chunks([b"old" * 1000]))
        stream = store.stream("k", chunk_size=3)
        assert await anext(stream) == b"old"
        await store.put_stream("k", chunks([b"new" * 1000]))
        assert set((await read_all(stream)).split(b"old")) == {b""}

    run(scenario())


def test_stream_closed_early_releases_its_descriptor(store: FilesystemObjectStore) -> None:
    async def scenario() -> None:
        await store.put_stream("k", chunks([payload(100_000)]))
        before = open_descriptors()
        stream = store.stream("k", chunk_size=1000)
        await anext(stream)
        assert open_descriptors() == before + 1
        await stream.aclose()  # type: ignore[attr-defined]
        assert open_descriptors() == before

    run(scenario())


def test_a_directory_is_not_an_object(store: FilesystemObjectStore, root: Path) -> None:
    run(store.put_stream("a/b", chunks([b"x"])))
    with pytest.raises(ObjectNotFound):
        run(store.head("a"))
    with pytest.raises(ObjectNotFound):
        run(store.get_range("a", 0, 1))
    run(store.delete("a"))
    assert (root / "a/b").exists()


def test_writing_below_an_object_is_a_storage_error(store: FilesystemObjectStore) -> None:
    run(store.put_stream("a", chunks([b"x"])))
    with pytest.raises(StorageError) as raised:
        run(store.put_stream("a/b", chunks([b"y"])))
    assert not isinstance(raised.value, ObjectNotFound)
    with pytest.raises(ObjectNotFound):
        run(store.head("a/b"))


def test_presign_is_not_offered(store: FilesystemObjectStore) -> None:
    run(store.put_stream("k", chunks([b"x"])))
    assert not store.can_presign
    with pytest.raises(StorageError):
        run(store.presign("k", disposition="attachment"))


def test_stale_cleanup_removes_only_old_temporary_files(
    store: FilesystemObjectStore, root: Path
) -> None:
    run(store.put_stream("a/object", chunks([b"x"])))
    old, fresh = root / "a" / f"{TEMP_PREFIX}old", root / "a" / f"{TEMP_PREFIX}fresh"
    old.write_bytes(b"partial")
    fresh.write_bytes(b"partial")
    two_days_ago = time.time() - 2 * 86400
    os.utime(old, (two_days_ago, two_days_ago))
    os.utime(root / "a/object", (two_days_ago, two_days_ago))

    async def keys() -> list[str]:
        return [info.key async for info in store.list()]

    assert run(keys()) == ["a/object"]
    assert run(store.abort_stale_uploads(datetime.now(UTC) - timedelta(days=1))) == 1
    assert sorted(p.name for p in (root / "a").iterdir()) == [f"{TEMP_PREFIX}fresh", "object"]


def test_ping_creates_the_root_and_fails_when_it_cannot(
    store: FilesystemObjectStore, root: Path, tmp_path: Path, executor: ThreadPoolExecutor
) -> None:
    run(store.ping())
    assert root.is_dir()
    (tmp_path / "file").write_bytes(b"")
    with pytest.raises(StorageUnavailable):
        run(FilesystemObjectStore(tmp_path / "file" / "objects", executor=executor).ping())
