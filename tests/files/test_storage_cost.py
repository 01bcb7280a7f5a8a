"""What a single-file read costs in storage requests and bytes (issue #4, CONTRACT 8).

The real app over the real adapters (a directory, and S3 on moto), each wrapped in a store
that counts every call behind the same Protocol. A 10,000-entry archive is uploaded through
the runner endpoint, then files are read:

- warm (bucket cached in-process): exactly one GET, of the member, at most its compressed
  size + 4 KiB;
- fresh app (new create_app over the same database and storage): at most two small GETs,
  the index bucket and the member;
- never any read of the central directory;
- a missing index (sidecar object deleted, row columns nulled) or one built for another
  version of the archive (ETag changed) is rebuilt once, recorded, and reads are cheap again.
"""

from __future__ import annotations

import asyncio
import io
import zipfile
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from starlette.testclient import TestClient

from artifactsvc.objects import ObjectInfo, ObjectStore
from artifactsvc.objects.instrumented import StorageCall
from artifactsvc.ziprange import IndexDirectory
from tests.files.world import one_project_world
from tests.support.apps import app_client, app_settings, import_document
from tests.support.database import artifact_row, execute, postgres_schema
from tests.support.processes import server_process
from tests.support.service import finish, upload_archive
from tests.support.storage import READS, CallLog, Storage, counting_store
from tests.support.streams import chunks
from tests.support.wire import raw_request
from tests.support.zips import Member, central_directory_span, infos, make_zip, noise, text

ENTRIES = 10_000
SLACK = 4096
TARGET = "big/text.log"  # deflated, ~57 KiB compressed
STORED = "big/noise.bin"
URL = "/api/v4/projects/1/jobs/7/artifacts/"
RAW_URL = "/api/v4/projects/1/jobs/artifacts/master/raw/"


def _contents(version: int) -> dict[str, tuple[bytes, int]]:
    files: dict[str, tuple[bytes, int]] = {}
    for i in range(ENTRIES - 2):
        method = zipfile.ZIP_DEFLATED if i % 3 else zipfile.ZIP_STORED
        files[f"tree{i % 40:02d}/member-{i:05d}.txt"] = (text(40 + (i * 37) % 900, i), method)
        if i == ENTRIES // 2:
            files[TARGET] = (text(500_000, 1000 + version), zipfile.ZIP_DEFLATED)
            files[STORED] = (noise(300_000, 2000), zipfile.ZIP_STORED)
    return files


@dataclass(frozen=True)
class Archive:
    data: bytes
    files: dict[str, bytes]

    @classmethod
    def build(cls, version: int) -> Archive:
        contents = _contents(version)
        members = [Member(name, data, method) for name, (data, method) in contents.items()]
        return cls(make_zip(members), {name: data for name, (data, _) in contents.items()})


@pytest.fixture(scope="module")
def archive() -> Archive:
    return Archive.build(1)


@dataclass
class Stage:
    """One database and one storage location; `open` builds a fresh app over them."""

    backend: str
    database_url: str
    storage: Storage
    _stack: ExitStack

    def open(self) -> tuple[TestClient, CallLog]:
        """A fresh app over the stage, its store behind the production instrumentation."""
        pool = self._stack.enter_context(ThreadPoolExecutor(8, thread_name_prefix="test-objects"))
        counted, log = counting_store(self.storage.adapter(pool))
        settings = app_settings(self.database_url, self.storage)
        return self._stack.enter_context(app_client(settings, objects=counted)), log

    def behind(self, action: Callable[[ObjectStore], Any]) -> Any:
        """Run `action(store)` on a plain adapter, behind the service's back."""

        async def go() -> Any:
            with ThreadPoolExecutor(2) as pool:
                return await action(self.storage.adapter(pool))

        return asyncio.run(go())


def _stage(
    request: pytest.FixtureRequest, tmp_path: Path, database_url: str, backend: str
) -> Iterator[Stage]:
    import_document(database_url, one_project_world([7]), tmp_path)
    if backend == "filesystem":
        storage = Storage.directory(tmp_path / "objects")
    else:
        endpoint: str = request.getfixturevalue("moto_endpoint")
        bucket: str = request.getfixturevalue("s3_bucket")
        storage = Storage.s3(endpoint, bucket, "pre/fix")
    with ExitStack() as stack:
        yield Stage(backend, database_url, storage, stack)


@pytest.fixture(params=["filesystem", "s3"])
def stage(request: pytest.FixtureRequest, tmp_path: Path, sqlite_url: str) -> Iterator[Stage]:
    yield from _stage(request, tmp_path, sqlite_url, request.param)


@dataclass
class Read:
    calls: list[StorageCall]
    body: bytes

    @property
    def reads(self) -> list[StorageCall]:
        return [c for c in self.calls if c.verb in READS]

    def figures(self) -> dict[str, int]:
        return {
            "requests": len(self.reads),
            "bytes": sum(c.bytes for c in self.reads),
            "puts": sum(c.verb == "put_stream" for c in self.calls),
            "put_bytes": sum(c.bytes for c in self.calls if c.verb == "put_stream"),
        }


def read(
    client: TestClient, counter: CallLog, name: str, expected: bytes, *, raw: bool = False
) -> Read:
    """GET one file (by job id, or by ref on the `raw` route) and keep the calls it cost."""
    counter.reset()
    url = f"{RAW_URL}{name}?job=job-7" if raw else URL + name
    response = client.get(url)
    assert response.status_code == 200, response.text
    assert response.content == expected
    return Read(list(counter.calls), response.content)


@dataclass(frozen=True)
class Layout:
    key: str
    index_key: str
    directory: IndexDirectory
    cd: tuple[int, int]  # the central directory's (offset, end), end records included
    infos: dict[str, zipfile.ZipInfo]

    @classmethod
    def of(cls, database_url: str, data: bytes, *, indexed: bool = True) -> Layout:
        """The archive `data` as stored for job 7; `indexed`: the row's index describes it."""
        row = artifact_row(database_url, 7)
        directory = IndexDirectory.from_bytes(row["index_directory"])
        offset, size = central_directory_span(data)
        assert ((directory.cd_offset, directory.cd_size) == (offset, size)) is indexed
        return cls(row["object_key"], row["index_key"], directory, (offset, len(data)), infos(data))

    def same_bucket(self, name: str) -> str:
        bucket = self.directory.bucket_of(name)
        return next(n for n in self.infos if n != name and self.directory.bucket_of(n) == bucket)

    def other_bucket(self, name: str) -> str:
        bucket = self.directory.bucket_of(name)
        return next(n for n in self.infos if self.directory.bucket_of(n) != bucket)

    def assert_member_read(self, call: StorageCall, name: str) -> None:
        info = self.infos[name]
        assert (call.key, call.start) == (self.key, info.header_offset)
        assert 0 < call.bytes <= info.compress_size + SLACK
        assert call.end <= self.cd[0], "a member read reached into the central directory"

    def assert_bucket_read(self, call: StorageCall, name: str) -> None:
        start, length = self.directory.bucket_range(name)
        assert (call.key, call.start, call.bytes) == (self.index_key, start, length)
        assert length <= 128 << 10


def test_single_file_read_costs_one_get_warm_and_two_small_gets_cold(
    stage: Stage, archive: Archive, capsys: pytest.CaptureFixture[str]
) -> None:
    client, counter = stage.open()
    upload_archive(client, 7, archive.data)
    layout = Layout.of(stage.database_url, archive.data)
    neighbour = layout.same_bucket(TARGET)
    small = layout.other_bucket(TARGET)
    files = archive.files

    assert len(layout.infos) == ENTRIES
    first = read(client, counter, TARGET, files[TARGET])
    warm = read(client, counter, TARGET, files[TARGET])
    read(client, counter, STORED, files[STORED])
    warm_stored = read(client, counter, STORED, files[STORED])
    warm_neighbour = read(client, counter, neighbour, files[neighbour])
    finish(client, 7)
    warm_raw = read(client, counter, neighbour, files[neighbour], raw=True)
    fresh_client, fresh_counter = stage.open()
    cold = read(fresh_client, fresh_counter, TARGET, files[TARGET])
    cold_small = read(fresh_client, fresh_counter, small, files[small])

    assert len(first.reads) == 2
    warm_reads = [
        (warm, TARGET),
        (warm_stored, STORED),
        (warm_neighbour, neighbour),
        (warm_raw, neighbour),
    ]
    for done, name in warm_reads:
        assert len(done.calls) == 1, done.calls  # one GET and nothing else
        layout.assert_member_read(done.calls[0], name)
    for done, name in ((cold, TARGET), (cold_small, small)):
        assert [c.verb for c in done.calls] == ["get_range", "stream"], done.calls
        layout.assert_bucket_read(done.calls[0], name)
        layout.assert_member_read(done.calls[1], name)
    figures = {
        "backend": stage.backend,
        "archive_bytes": len(archive.data),
        "central_directory_bytes": layout.directory.cd_size,
        "target_compressed": layout.infos[TARGET].compress_size,
        "warm": warm.figures(),
        "warm_stored_300k": warm_stored.figures(),
        "warm_same_bucket": warm_neighbour.figures(),
        "cold": cold.figures(),
        "cold_small_member": cold_small.figures(),
    }
    with capsys.disabled():
        print("\nsingle-file read cost", figures)


def test_reading_the_last_member_overreads_at_most_the_header_slack(
    stage: Stage, archive: Archive
) -> None:
    client, counter = stage.open()
    upload_archive(client, 7, archive.data)
    layout = Layout.of(stage.database_url, archive.data)
    last = max(layout.infos.values(), key=lambda info: info.header_offset).filename

    done = read(client, counter, last, archive.files[last])

    member = done.reads[-1]
    assert (member.key, member.start) == (layout.key, layout.infos[last].header_offset)
    # The one ranged read covers the local header's possible extra field (1 KiB of slack), so
    # for the last member it may run that far into the directory; it never parses it.
    assert member.end - layout.cd[0] <= 1024 + len(last.encode())


def _rebuilt(
    stage: Stage, archive: Archive, layout: Layout, name: str
) -> tuple[Read, dict[str, Any]]:
    client, counter = stage.open()
    done = read(client, counter, name, archive.files[name])
    row = artifact_row(stage.database_url, 7)
    assert (
        row["index_key"].startswith(f"{layout.key}.index") and row["index_key"] != layout.index_key
    )
    assert [c.key for c in done.calls if c.verb == "put_stream"] == [row["index_key"]]
    directory = IndexDirectory.from_bytes(row["index_directory"])
    assert directory.archive_etag == row["etag"]
    assert directory.entry_count == len(layout.infos) and directory.salt != layout.directory.salt
    archive_reads = [c for c in done.reads if c.key == layout.key]
    assert sum(c.bytes for c in archive_reads) >= layout.directory.cd_size  # it was parsed
    return done, row


def _cheap_again(stage: Stage, archive: Archive, name: str) -> Read:
    client, counter = stage.open()
    done = read(client, counter, name, archive.files[name])
    assert [c.verb for c in done.calls] == ["get_range", "stream"]
    return done


async def _truncate(store: ObjectStore, key: str) -> None:
    head = await store.get_range(key, 0, 100)
    await store.put_stream(key, chunks([head]))


@pytest.mark.parametrize("loss", ["sidecar", "row", "both", "truncated-sidecar", "garbled-row"])
def test_missing_index_is_rebuilt_once_and_recorded(
    stage: Stage, archive: Archive, loss: str, capsys: pytest.CaptureFixture[str]
) -> None:
    client, _ = stage.open()
    upload_archive(client, 7, archive.data)
    layout = Layout.of(stage.database_url, archive.data)
    if loss in ("sidecar", "both"):
        stage.behind(lambda store: store.delete(layout.index_key))
    if loss in ("row", "both"):
        execute(
            stage.database_url,
            "UPDATE artifacts SET index_key = NULL, index_directory = NULL WHERE job_id = 7",
        )
    if loss == "truncated-sidecar":
        stage.behind(lambda store: _truncate(store, layout.index_key))
    if loss == "garbled-row":
        garbled = bytearray(layout.directory.to_bytes())
        garbled[60] ^= 0xFF
        execute(
            stage.database_url,
            "UPDATE artifacts SET index_directory = ? WHERE job_id = 7",
            (bytes(garbled),),
        )

    rebuild, row = _rebuilt(stage, archive, layout, TARGET)
    again = _cheap_again(stage, archive, layout.other_bucket(TARGET))

    sidecar: ObjectInfo = stage.behind(lambda store: store.head(row["index_key"]))
    assert sidecar.size > layout.directory.entry_count * 40
    with capsys.disabled():
        print(
            f"\nindex rebuild ({stage.backend}, {loss} lost)",
            {"rebuild_read": rebuild.figures(), "next_read": again.figures()},
        )


def test_changed_archive_etag_rebuilds_the_index_instead_of_trusting_it(
    stage: Stage, archive: Archive, capsys: pytest.CaptureFixture[str]
) -> None:
    client, _ = stage.open()
    upload_archive(client, 7, archive.data)
    layout = Layout.of(stage.database_url, archive.data)
    replacement = Archive.build(2)
    assert replacement.files[TARGET] != archive.files[TARGET]
    info: ObjectInfo = stage.behind(
        lambda store: store.put_stream(layout.key, chunks([replacement.data]))
    )
    old = artifact_row(stage.database_url, 7)
    assert info.etag != old["etag"]

    # The row still pins the old version: refused, never old offsets over new bytes.
    stale_client, _ = stage.open()
    refused = stale_client.get(URL + TARGET)
    assert (refused.status_code, refused.json()) == (503, {"message": "503 Service Unavailable"})

    # The row is brought up to date (as a restore would): the old index must not be trusted.
    execute(
        stage.database_url,
        "UPDATE artifacts SET etag = ?, size = ? WHERE job_id = 7",
        (info.etag, info.size),
    )
    new_layout = Layout.of(stage.database_url, replacement.data, indexed=False)
    assert new_layout.directory.archive_etag == old["etag"]  # still the stale index
    rebuild, row = _rebuilt(stage, replacement, new_layout, TARGET)
    again = _cheap_again(stage, replacement, TARGET)

    assert row["etag"] == info.etag
    with capsys.disabled():
        print(
            f"\nindex rebuild after an ETag change ({stage.backend})",
            {"rebuild_read": rebuild.figures(), "next_read": again.figures()},
        )


def test_rebuilt_index_is_recorded_on_postgresql(
    request: pytest.FixtureRequest, tmp_path: Path, archive: Archive
) -> None:
    with postgres_schema() as url:
        for stage in _stage(request, tmp_path, url, "filesystem"):
            client, _ = stage.open()
            upload_archive(client, 7, archive.data)
            layout = Layout.of(url, archive.data)
            execute(url, "UPDATE artifacts SET index_key = NULL, index_directory = NULL")

            _rebuilt(stage, archive, layout, TARGET)
            _cheap_again(stage, archive, layout.same_bucket(TARGET))


def test_concurrent_first_reads_share_one_rebuild(stage: Stage, archive: Archive) -> None:
    """Sixteen reads racing on a lost index: all served right, one rebuild, one sidecar."""
    client, _ = stage.open()
    upload_archive(client, 7, archive.data)
    layout = Layout.of(stage.database_url, archive.data)
    execute(
        stage.database_url,
        "UPDATE artifacts SET index_key = NULL, index_directory = NULL WHERE job_id = 7",
    )
    stage.behind(lambda store: store.delete(layout.index_key))
    names = list(archive.files)[::625]
    fresh, counter = stage.open()

    with ThreadPoolExecutor(len(names)) as pool:
        responses = list(pool.map(lambda name: fresh.get(URL + name), names))

    assert [(r.status_code, r.content) for r in responses] == [
        (200, archive.files[name]) for name in names
    ]
    assert [c.verb for c in counter.calls].count("put_stream") == 1
    _cheap_again(stage, archive, names[0])


def test_two_processes_rebuilding_at_once_leave_a_consistent_index(
    request: pytest.FixtureRequest, tmp_path: Path, sqlite_url: str, archive: Archive
) -> None:
    """Rebuilds in different processes never overwrite each other's sidecar."""
    for stage in _stage(request, tmp_path, sqlite_url, "filesystem"):
        client, _ = stage.open()
        upload_archive(client, 7, archive.data)
        execute(sqlite_url, "UPDATE artifacts SET index_key = NULL, index_directory = NULL")
        names = list(archive.files)[::400]
        env = {"ARTIFACTSVC_DATABASE_URL": sqlite_url, **stage.storage.env}
        with server_process(env, cwd=tmp_path) as one, server_process(env, cwd=tmp_path) as two:
            targets = [
                (one.base_url if i % 2 else two.base_url, name) for i, name in enumerate(names)
            ]
            with ThreadPoolExecutor(len(targets)) as pool:
                replies = list(pool.map(lambda t: raw_request(t[0], URL + quote(t[1])), targets))
        assert [(r.status, r.body) for r in replies] == [(200, archive.files[n]) for n in names]
        fresh, counter = stage.open()
        for name in names:
            done = read(fresh, counter, name, archive.files[name])
            assert len(done.reads) <= 2


@pytest.mark.parametrize("loss", ["sidecar", "truncated-sidecar"])
def test_listing_and_folder_zip_rebuild_a_lost_sidecar(
    stage: Stage, archive: Archive, loss: str
) -> None:
    client, _ = stage.open()
    upload_archive(client, 7, archive.data)
    layout = Layout.of(stage.database_url, archive.data)
    if loss == "sidecar":
        stage.behind(lambda store: store.delete(layout.index_key))
    else:
        stage.behind(lambda store: _truncate(store, layout.index_key))
    fresh, counter = stage.open()

    listing = fresh.get("/api/v4/projects/1/jobs/7/artifacts_tree", params={"path": "big"})
    folder = fresh.get("/api/v4/projects/1/jobs/7/artifacts_tree/archive", params={"path": "big"})

    assert listing.status_code == 200, listing.text
    assert [e["path"] for e in listing.json()] == ["big/noise.bin", "big/text.log"]
    assert folder.status_code == 200, folder.text
    with zipfile.ZipFile(io.BytesIO(folder.content)) as copy:
        assert copy.read(TARGET) == archive.files[TARGET]
    assert [c.verb for c in counter.calls].count("put_stream") == 1  # rebuilt once, then reused


def test_folder_zip_streams_members_in_a_few_coalesced_reads(
    stage: Stage, archive: Archive
) -> None:
    """The whole 10,000-entry archive as a folder zip: one streamed read of the central
    directory and runs of neighbouring members (at most 4,096 a run), not a read per member
    and not a list of every entry held in memory."""
    client, counter = stage.open()
    upload_archive(client, 7, archive.data)
    counter.reset()

    folder = client.get("/api/v4/projects/1/jobs/7/artifacts_tree/archive")

    assert folder.status_code == 200, folder.text
    reads = [c for c in counter.calls if c.verb in READS]
    assert 1 < len(reads) <= 2 + ENTRIES // 4096 + 1, [(c.verb, c.start, c.bytes) for c in reads]
    with zipfile.ZipFile(io.BytesIO(folder.content)) as copy:
        assert len(copy.infolist()) == ENTRIES
        assert copy.read(TARGET) == archive.files[TARGET]
        assert copy.testzip() is None


def test_a_folder_page_costs_two_small_index_gets_cold_and_none_warm(
    stage: Stage, archive: Archive
) -> None:
    client, _ = stage.open()
    upload_archive(client, 7, archive.data)
    layout = Layout.of(stage.database_url, archive.data)
    fresh, counter = stage.open()  # a new process: nothing cached
    for listing in ("artifacts_tree", "artifacts/tree"):
        url = f"/api/v4/projects/1/jobs/7/{listing}?path=tree07&per_page=20"
        counter.reset()
        cold = fresh.get(url)
        assert cold.status_code == 200 and len(cold.json()) == 20, cold.text
        reads = [c for c in counter.calls if c.verb in READS]
        # The folder's bucket and its children list (the first listing; the second shares
        # the bucket), never the archive nor a walk of the index's buckets.
        assert {c.key for c in reads} == {layout.index_key}
        assert 1 <= len(reads) <= 2 and sum(c.bytes for c in reads) <= 96 << 10
        counter.reset()
        warm = fresh.get(url)
        assert warm.json() == cold.json()
        assert not [c for c in counter.calls if c.verb in READS]
