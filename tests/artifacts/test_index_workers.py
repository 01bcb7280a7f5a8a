"""Index builds in worker processes (`indexworkers`, setting INDEX_PROCESSES).

Real worker processes over real zips: the index a worker writes is
the one a thread writes, refusals and storage errors come back as themselves, and a build
whose caller goes away, or whose worker is killed, ends without leaving a worker that could
answer the next build out of turn. Through the service, an upload's index is built in a
process that is not the server.
"""

from __future__ import annotations

import os
import signal
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from artifactsvc.errors import CorruptArchive, IndexWorkerLost, InvalidArchive, ObjectNotFound
from artifactsvc.indexing import IndexLimits, build_here
from artifactsvc.indexworkers import IndexWorkers, _portable
from artifactsvc.ziprange import BytesSource, IndexDirectory, RangeSource, lookup
from artifactsvc.ziprange.control import WorkCancelled, WorkControl
from tests.ops.test_metrics import scrape, value
from tests.support.service import Service
from tests.support.zips import central_directory_span, make_zip, stream_zip_bytes, tiny_members

LIMITS = IndexLimits(max_depth=64, max_name_bytes=4096, seek_spacing=1 << 16, seek_budget=1 << 30)


@pytest.fixture
def workers() -> Iterator[IndexWorkers]:
    pool = IndexWorkers()
    yield pool
    pool.close()


def build(
    builder: object, source: RangeSource, control: WorkControl | None = None
) -> tuple[IndexDirectory, bytes]:
    assert callable(builder)
    with tempfile.TemporaryFile() as out:
        directory = builder(source, out, '"etag"', LIMITS, control or WorkControl())
        out.seek(0)
        return directory, out.read()


def many_entries(count: int) -> bytes:
    return stream_zip_bytes(tiny_members(count))


class Wrapped:
    """A source that reads `inner`; subclasses change how it streams."""

    def __init__(self, inner: RangeSource) -> None:
        self.inner = inner

    @property
    def size(self) -> int:
        return self.inner.size

    def read(self, start: int, length: int) -> bytes:
        return self.inner.read(start, length)


class SlowSource(Wrapped):
    """A source whose stream waits `pause` seconds before each chunk (a slow store)."""

    def __init__(self, inner: RangeSource, pause: float) -> None:
        super().__init__(inner)
        self.pause = pause
        self.streaming = threading.Event()

    def stream(self, start: int, length: int) -> Iterator[bytes]:
        for chunk in self.inner.stream(start, length):
            self.streaming.set()
            time.sleep(self.pause)
            yield chunk


class FailingSource(Wrapped):
    """A source whose stream raises `error` after its first chunk (a store gone mid-read)."""

    def __init__(self, inner: RangeSource, error: Exception) -> None:
        super().__init__(inner)
        self.error = error

    def stream(self, start: int, length: int) -> Iterator[bytes]:
        chunks = self.inner.stream(start, length)
        yield next(iter(chunks))
        raise self.error


def test_a_worker_writes_the_index_a_thread_writes(workers: IndexWorkers) -> None:
    # Deflated and stored members, a large deflated one (seek points), folders.
    big = os.urandom(1 << 18).hex().encode()  # compressible, 512 KiB
    archive = make_zip(
        [("a/b/c.txt", b"hello", 8), ("a/raw.bin", b"\x00" * 999, 0), ("big.txt", big, 8)]
        + [(f"d{i}/f{i}", str(i).encode(), 8) for i in range(300)]
    )
    here, here_sidecar = build(build_here, BytesSource(archive))
    there, there_sidecar = build(workers, BytesSource(archive))
    assert workers.alive == 1
    assert os.getpid() not in workers.pids()
    # The bucket salt is random per build, so compare what the index says, not its bytes.
    assert there.entry_count == here.entry_count == 303
    assert len(there_sidecar) == len(here_sidecar)
    assert there.seek is not None and here.seek is not None
    assert there.seek[1] == here.seek[1] > 0  # the same seek points, found in the worker
    sidecar = BytesSource(there_sidecar)
    for name in ("a/b/c.txt", "a/raw.bin", "big.txt", "d299/f299"):
        found = lookup(there, sidecar, name)
        expected = lookup(here, BytesSource(here_sidecar), name)
        assert found is not None and found == expected
    assert lookup(there, sidecar, "missing") is None


def test_one_worker_serves_build_after_build(workers: IndexWorkers) -> None:
    for n in (1, 50, 2000):
        directory, _ = build(workers, BytesSource(many_entries(n)))
        assert directory.entry_count == n
    assert workers.alive == 1


def test_a_refusal_comes_back_as_itself_and_the_worker_stays(workers: IndexWorkers) -> None:
    with pytest.raises(InvalidArchive):
        build(workers, BytesSource(b"not a zip at all" * 100))
    deep = make_zip([("/".join(["d"] * 100) + "/f", b"x", 8)])
    with pytest.raises(InvalidArchive, match="is 101 folders deep, more than 64$") as refused:
        build(workers, BytesSource(deep))
    # Word for word what a thread raises: the same answer reaches the client.
    with pytest.raises(InvalidArchive) as here:
        build(build_here, BytesSource(deep))
    assert str(refused.value) == str(here.value)
    assert not hasattr(refused.value, "__notes__")
    pid = workers.pids()
    directory, _ = build(workers, BytesSource(many_entries(10)))
    assert directory.entry_count == 10
    assert workers.pids() == pid


class TwoArgumentError(Exception):
    """An exception that pickles but cannot be unpickled (its __init__ wants two)."""

    def __init__(self, what: str, where: int) -> None:
        super().__init__(f"{what} at {where}")


def test_what_a_worker_raises_crosses_as_the_parent_should_raise_it() -> None:
    """The worker's side of "raised": a refusal as itself and without a note (its text is the
    client's answer), a bug with the worker's stack, one that cannot cross as a RuntimeError
    that names it."""
    refusal = _portable(InvalidArchive("not a zip"))
    assert type(refusal) is InvalidArchive and str(refusal) == "not a zip"
    assert not hasattr(refusal, "__notes__")
    try:
        found: dict[str, int] = {}
        found["missing"]
    except KeyError as error:
        bug = _portable(error)
    assert type(bug) is KeyError
    [note] = bug.__notes__
    assert note.startswith("in the index worker") and 'found["missing"]' in note
    odd = _portable(TwoArgumentError("stuck", 7))
    assert type(odd) is RuntimeError and str(odd) == "TwoArgumentError: stuck at 7"
    assert odd.__notes__[0].startswith("in the index worker")


def test_a_directory_broken_midway_leaves_the_worker_in_step(workers: IndexWorkers) -> None:
    # The central directory spans many chunks; a bad header signature half-way stops the
    # build while the parent still holds the rest of the stream. The next build must get its
    # own bytes, not the abandoned stream's.
    archive = bytearray(many_entries(20000))
    start, end = central_directory_span(bytes(archive))
    at = archive.index(b"PK\x01\x02", start + (end - start) // 2)
    archive[at : at + 4] = b"XXXX"
    with pytest.raises(CorruptArchive, match="signature"):
        build(workers, BytesSource(bytes(archive), chunk_size=4096))
    directory, _ = build(workers, BytesSource(many_entries(30), chunk_size=4096))
    assert directory.entry_count == 30
    assert workers.alive == 1


def test_a_failed_read_of_ours_is_raised_as_itself(workers: IndexWorkers) -> None:
    gone = ObjectNotFound("the archive was deleted mid-build")
    source = FailingSource(BytesSource(many_entries(5000), chunk_size=4096), gone)
    with pytest.raises(ObjectNotFound) as raised:
        build(workers, source)
    assert raised.value is gone
    directory, _ = build(workers, BytesSource(many_entries(3)))
    assert directory.entry_count == 3
    assert workers.alive == 1


@dataclass
class Busy:
    """A build running on a thread of its own, its worker busy on a slow source."""

    thread: threading.Thread
    errors: list[BaseException]
    pid: int

    def outcome(self) -> BaseException:
        """What the build raised, once its thread has ended."""
        self.thread.join(30)
        assert not self.thread.is_alive()
        assert len(self.errors) == 1, self.errors
        return self.errors[0]


def busy_build(pool: IndexWorkers, control: WorkControl | None = None) -> Busy:
    source = SlowSource(BytesSource(many_entries(5000), chunk_size=1024), pause=0.05)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            build(pool, source, control)
        except BaseException as error:
            errors.append(error)

    thread = threading.Thread(target=run)
    thread.start()
    assert source.streaming.wait(30)
    [pid] = pool.pids()
    return Busy(thread, errors, pid)


def test_a_cancelled_build_kills_its_worker(workers: IndexWorkers) -> None:
    alive: list[int] = []
    killed: list[None] = []
    workers.on_alive = alive.append
    workers.on_killed = lambda: killed.append(None)
    control = WorkControl()
    busy = busy_build(workers, control)
    started = time.monotonic()
    control.cancel()
    assert isinstance(busy.outcome(), WorkCancelled)
    assert time.monotonic() - started < 10  # a few chunks more, not the whole directory
    assert workers.alive == 0
    assert not Path(f"/proc/{busy.pid}").exists()  # killed and reaped
    directory, _ = build(workers, BytesSource(many_entries(7)))
    assert directory.entry_count == 7
    assert workers.pids() != [busy.pid]
    assert alive == [1, 0, 1]  # what /metrics' gauge was set to
    assert len(killed) == 1


def test_a_killed_worker_is_reported_and_replaced(workers: IndexWorkers) -> None:
    busy = busy_build(workers)
    os.kill(busy.pid, signal.SIGKILL)
    error = busy.outcome()
    assert isinstance(error, IndexWorkerLost)
    assert "SIGKILL" in str(error)
    directory, _ = build(workers, BytesSource(many_entries(4)))
    assert directory.entry_count == 4
    assert workers.alive == 1 and workers.pids() != [busy.pid]


def test_closing_ends_idle_workers_and_refuses_new_builds() -> None:
    pool = IndexWorkers()
    build(pool, BytesSource(many_entries(2)))
    [pid] = pool.pids()
    pool.close()
    assert pool.alive == 0
    assert not Path(f"/proc/{pid}").exists()  # killed and reaped
    with pytest.raises(IndexWorkerLost, match="shut down"):
        build(pool, BytesSource(many_entries(2)))


def test_closing_kills_a_busy_worker_and_its_build_says_so() -> None:
    pool = IndexWorkers()
    busy = busy_build(pool)
    pool.close()
    assert isinstance(busy.outcome(), IndexWorkerLost)
    assert not Path(f"/proc/{busy.pid}").exists()


@pytest.mark.parametrize("processes", [True, False], ids=["processes", "threads"])
def test_the_service_indexes_and_refuses_alike_in_both_modes(
    make_service: Callable[..., Service], processes: bool
) -> None:
    service = make_service(real=True, index_processes=processes)
    assert service.server is not None
    archive = make_zip([("x/y.txt", b"inside", 8)] + [(f"f{i}", b"v", 8) for i in range(100)])
    response = service.upload(100, archive)
    assert response.status_code == 201, response.text
    read = service.client.get(
        "/api/v4/projects/1/jobs/100/artifacts/x/y.txt", headers=service.admin
    )
    assert read.status_code == 200 and read.content == b"inside"
    refused = service.upload(101, b"PK\x03\x04 but no zip after all" * 50)
    assert refused.status_code == 400
    assert "zip" in refused.json()["message"]
    # The build ran in a process of the server's, not in the server: a worker, alive and
    # idle between builds.
    workers = [pid for pid in _children(service.server.pid) if _runs_a_worker(pid)]
    assert len(workers) == (1 if processes else 0)
    # /metrics says so too: one alive, none ended mid-build (a refusal ends in order).
    samples = scrape(service.server.base_url)
    if processes:
        assert value(samples, "artifactsvc_index_workers") == 1
        assert samples[("artifactsvc_index_workers_killed_total", frozenset())] == 0
    else:
        assert not any(name.startswith("artifactsvc_index_workers") for name, _ in samples)


def _children(pid: int) -> set[int]:
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        children = task / "children"
        if children.exists():
            found.update(int(n) for n in children.read_text().split())
    return found


def _runs_a_worker(pid: int) -> bool:
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except FileNotFoundError:
        return False
    return b"artifactsvc.indexworkers" in argv
