"""Index builds in worker processes, so that a many-entry upload leaves this process its GIL.

An index build is pure Python for every entry of the central directory: 1.4 s for 125,000
entries. On a thread it holds the interpreter lock most of that time, and every other request
of the process waits behind it: while such archives were uploaded back to back, GET a job
kept 0.34 of its idle rate on threads and keeps 0.86 with workers, its p99 76 ms against 36
(`python -m bench.indexload`). Here each build runs `ziprange.build_index` in a worker
process, and the index thread that asked for it only serves the worker's reads, which wait
on sockets without the lock.

The worker reads nothing itself: it has no storage client and no settings. Its `RangeSource`
asks the parent over a socket pair (`read`, and `stream` pulled one chunk per `next`, so a
stream the build abandons half-way costs nothing to drop), the parent answers from the
archive's real source (a stream one chunk ahead: the next is fetched while the worker parses
the last), and the sidecar is written to the parent's spool file, whose descriptor is passed
over the same socket. So storage errors, deadlines and the ETag pin stay the parent's,
exactly as on a thread, and a worker killed at any moment leaves nothing behind.

Each worker is `python -m artifactsvc.indexworkers`, a fresh interpreter that imports only
the zip code (about 0.14 s to start, once: an idle worker is reused), and shares no threads or
locks with the server. (multiprocessing's spawn and forkserver would run the server's main
module again in every worker; fork would copy a process full of threads.) At most one per
index thread exists. A build whose caller goes away (`WorkControl`), whose worker dies, or
whose conversation breaks off kills that worker rather than trust what it would say next.
The worker's own refusals (InvalidArchive, CorruptArchive) come back as themselves.
"""

from __future__ import annotations

import importlib
import os
import pickle
import signal
import socket
import subprocess
import sys
import threading
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from multiprocessing import reduction
from multiprocessing.connection import Connection
from typing import TYPE_CHECKING, Any, BinaryIO

from artifactsvc.errors import ArtifactsvcError, IndexWorkerLost
from artifactsvc.ziprange.build import build_index
from artifactsvc.ziprange.control import WorkCancelled, WorkControl
from artifactsvc.ziprange.index import IndexDirectory
from artifactsvc.ziprange.source import RangeSource

if TYPE_CHECKING:
    from artifactsvc.indexing import IndexLimits

POLL_SECONDS = 0.05
"""How often a parent waiting on its worker looks at the caller's cancel flag."""
STOP_SECONDS = 2.0
"""How long a closing pool waits for an idle worker to exit before killing it."""

# Replies to the worker's reads: one tag byte, then the bytes.
_DATA = b"d"
_END = b"e"  # the stream has no more chunks
_FAILED = b"f"  # the parent's read raised: the worker stops, the parent raises it


@dataclass(frozen=True)
class _Request:
    size: int
    etag: str
    max_depth: int | None
    max_name_bytes: int | None
    seek_spacing: int
    seek_budget: int


class IndexWorkers:
    """A `BuildIndex` that runs each build in a worker process; called on an index thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._idle: list[_Worker] = []
        self._all: set[_Worker] = set()
        self._closed = False
        # What /metrics shows (Metrics.include_index_workers): the workers alive, after
        # every change, and each worker ended mid-build (cancelled, dead, out of step).
        self.on_alive: Callable[[int], None] = _ignore
        self.on_killed: Callable[[], None] = _nothing

    def __call__(
        self,
        source: RangeSource,
        out: BinaryIO,
        etag: str,
        limits: IndexLimits,
        control: WorkControl,
    ) -> IndexDirectory:
        request = _Request(
            source.size,
            etag,
            limits.max_depth,
            limits.max_name_bytes,
            limits.seek_spacing,
            limits.seek_budget,
        )
        worker = self._take()
        reusable = False  # kept for the next build only if this one ended in order
        try:
            directory = worker.build(request, source, out, control)
            reusable = True
            return directory
        except _Reported as reported:
            reusable = True
            raise reported.error from None
        finally:
            self._give_back(worker, reusable)

    @property
    def alive(self) -> int:
        """Worker processes alive now (busy or idle)."""
        with self._lock:
            return len(self._all)

    def pids(self) -> list[int]:
        with self._lock:
            return [worker.process.pid for worker in self._all]

    def close(self) -> None:
        """Ends every worker: idle ones are asked (their socket closed), busy ones killed,
        and their builds raise IndexWorkerLost."""
        with self._lock:
            self._closed = True
            idle, busy = self._idle, self._all - set(self._idle)
            self._idle = []
            self._all = set()
        self.on_alive(0)
        for worker in idle:
            worker.stop()
        for worker in busy:
            # Only the process: its thread sees the socket end, raises, and closes it.
            worker.kill_process()

    def _take(self) -> _Worker:
        with self._lock:
            if self._closed:
                raise IndexWorkerLost("the index workers are shut down")
            if self._idle:
                return self._idle.pop()
        worker = _Worker.start()
        with self._lock:
            closed = self._closed
            if not closed:
                self._all.add(worker)
                self.on_alive(len(self._all))
        if closed:
            worker.kill()
            raise IndexWorkerLost("the index workers are shut down")
        return worker

    def _give_back(self, worker: _Worker, reusable: bool) -> None:
        with self._lock:
            keep = reusable and not self._closed and worker in self._all
            if keep:
                self._idle.append(worker)
            elif worker in self._all:
                self._all.discard(worker)
                self.on_alive(len(self._all))
        if not reusable:
            self.on_killed()
        if not keep:
            worker.kill()


def _ignore(alive: int) -> None:
    pass


def _nothing() -> None:
    pass


class _Worker:
    """One worker process and the parent's end of its socket pair."""

    def __init__(self, process: subprocess.Popen[bytes], conn: Connection) -> None:
        self.process = process
        self.conn = conn

    @classmethod
    def start(cls) -> _Worker:
        ours, theirs = socket.socketpair()  # a socket: the spool's descriptor can pass
        with theirs:
            process = subprocess.Popen(
                [sys.executable, "-m", __name__, str(theirs.fileno())],
                pass_fds=(theirs.fileno(),),
                stdin=subprocess.DEVNULL,
            )
        return cls(process, Connection(ours.detach()))

    def build(
        self, request: _Request, source: RangeSource, out: BinaryIO, control: WorkControl
    ) -> IndexDirectory:
        """The worker's directory. Raises _Reported when the worker ended the build in order
        with an error (its own, or one of our reads'), WorkCancelled when `control` is
        cancelled, IndexWorkerLost when the worker exits or breaks the protocol."""
        conn = self.conn
        failure: BaseException | None = None  # a read of ours that raised
        stream: Iterator[bytes] | None = None
        ahead: bytes | Exception | None = None  # the stream's next chunk, its error, or end
        try:
            conn.send(request)
            reduction.send_handle(conn, out.fileno(), self.process.pid)
            while True:
                # Asked before each message too: a busy worker never leaves the socket idle.
                while control.cancelled or not conn.poll(POLL_SECONDS):
                    if control.cancelled:
                        raise WorkCancelled()
                message = conn.recv()
                verb = message[0]
                if verb == "next":
                    chunk = ahead
                    if isinstance(chunk, Exception):
                        failure = chunk
                        conn.send_bytes(_FAILED)
                        continue
                    conn.send_bytes(_END if chunk is None else _DATA + chunk)
                    # The next chunk is fetched while the worker parses this one.
                    ahead = _pull(stream) if chunk is not None and stream is not None else None
                    continue
                if stream is not None:  # abandoned by the build: dropped, not drained
                    _close(stream)
                    stream = None
                if verb == "read":
                    try:
                        data = source.read(message[1], message[2])
                    except Exception as error:
                        failure = error
                        conn.send_bytes(_FAILED)
                        continue
                    conn.send_bytes(_DATA + data)
                elif verb == "stream":
                    stream = iter(source.stream(message[1], message[2]))
                    ahead = _pull(stream)
                elif verb == "built":
                    return IndexDirectory.from_bytes(message[1])
                elif failure is not None and verb in ("raised", "stopped"):
                    raise _Reported(failure)
                elif verb == "raised" and isinstance(message[1], BaseException):
                    raise _Reported(message[1])
                else:
                    raise IndexWorkerLost(f"the index worker answered {verb!r}")
        except (EOFError, OSError) as error:
            code = _exit_status(self.process, POLL_SECONDS)  # when it is exiting
            said = _exit(code) if code is not None else f"{type(error).__name__}: {error}"
            raise IndexWorkerLost(f"the index worker exited mid-build ({said})") from None
        finally:
            if stream is not None:
                _close(stream)

    def stop(self) -> None:
        self.conn.close()  # the worker's recv sees EOF and returns
        if _exit_status(self.process, STOP_SECONDS) is None:
            self.kill()

    def kill(self) -> None:
        self.conn.close()
        self.kill_process()
        self.process.wait()

    def kill_process(self) -> None:
        if self.process.poll() is None:
            self.process.kill()


def _exit_status(process: subprocess.Popen[bytes], within: float) -> int | None:
    try:
        return process.wait(within)
    except subprocess.TimeoutExpired:
        return None


class _Reported(Exception):
    """A build the worker ended in order, with `error`: the worker may take the next one."""

    def __init__(self, error: BaseException) -> None:
        super().__init__()
        self.error = error


def _pull(stream: Iterator[bytes]) -> bytes | Exception | None:
    """The stream's next chunk, None at its end, or what reading it raised."""
    try:
        return next(stream, None)
    except Exception as error:
        return error


def _close(stream: Iterator[bytes]) -> None:
    close = getattr(stream, "close", None)
    if close is not None:
        close()


def _exit(code: int) -> str:
    if code < 0:
        return f"killed by {signal.Signals(-code).name}"
    return f"exit status {code}"


# -- the worker's side ---------------------------------------------------------------------


class _ParentFailed(BaseException):
    """The parent's read raised: unwind the build (nothing in it should catch this)."""


class _ParentSource:
    """The archive, read through the parent."""

    def __init__(self, conn: Connection, size: int) -> None:
        self._conn = conn
        self._size = size

    @property
    def size(self) -> int:
        return self._size

    def read(self, start: int, length: int) -> bytes:
        self._conn.send(("read", start, length))
        reply = self._reply()
        assert reply is not None
        return reply

    def stream(self, start: int, length: int) -> Iterator[bytes]:
        self._conn.send(("stream", start, length))
        while True:
            self._conn.send(("next",))
            chunk = self._reply()
            if chunk is None:
                return
            if chunk:
                yield chunk

    def _reply(self) -> bytes | None:
        reply = self._conn.recv_bytes()
        tag = reply[:1]
        if tag == _DATA:
            return reply[1:]
        if tag == _END:
            return None
        raise _ParentFailed()


def serve_socket(fd: int) -> None:
    """A worker's life on the socket `fd`: builds, one at a time, until the parent closes
    its end."""
    conn = Connection(fd)
    # Ctrl-C reaches the whole process group: the server decides when its workers end.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    while True:
        try:
            request = conn.recv()
            spool = reduction.recv_handle(conn)
        except (EOFError, OSError):
            return
        with os.fdopen(spool, "r+b") as out:
            try:
                directory = build_index(
                    _ParentSource(conn, request.size),
                    out,
                    etag=request.etag,
                    max_depth=request.max_depth,
                    max_name_bytes=request.max_name_bytes,
                    seek_spacing=request.seek_spacing,
                    seek_budget=request.seek_budget,
                )
                out.flush()
                reply: tuple[str, Any] = ("built", directory.to_bytes())
            except _ParentFailed:
                reply = ("stopped", None)
            except Exception as error:
                reply = ("raised", _portable(error))
        try:
            conn.send(reply)
        except OSError:
            return


def _portable(error: Exception) -> BaseException:
    """`error` as the parent should raise it: a domain error (a refusal) as itself, word for
    word; anything else (a bug) with the worker's stack as a note, as a RuntimeError naming
    it if it does not survive pickling."""
    copy: BaseException = RuntimeError(f"{type(error).__name__}: {error}")
    try:
        copied = pickle.loads(pickle.dumps(error))
    except Exception:
        copied = None
    if isinstance(copied, BaseException):
        copy = copied
    if not isinstance(error, ArtifactsvcError):
        stack = "".join(traceback.format_exception(error)).rstrip()
        copy.add_note(f"in the index worker (pid {os.getpid()}):\n{stack}")
    return copy


if __name__ == "__main__":
    # Run as `python -m artifactsvc.indexworkers FD`: the module proper serves, not this copy
    # of it named __main__, since the parent pickles the module's classes by their real name.
    importlib.import_module("artifactsvc.indexworkers").serve_socket(int(sys.argv[1]))
