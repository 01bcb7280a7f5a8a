"""glibc's malloc arenas, capped for a process that moves large buffers between threads.

glibc gives threads that contend for the heap arenas of their own (up to 8 per core), and
memory freed into an arena stays there for that arena's next use. A download's chunks are
allocated by the storage thread that reads them and freed on the event loop's thread, so
with 32 storage threads the peak grows by tens of MiB that no stream holds: 100 concurrent
downloads measured 176 MiB above idle with glibc's default and 94 MiB with two arenas
(`python -m bench --quick --only transfer`), at no measured cost in throughput. The
environment variable MALLOC_ARENA_MAX does the same, but only when set before the process
starts; `mallopt` applies to the arenas created after it, i.e. before any thread starts.
"""

from __future__ import annotations

import ctypes
import ctypes.util

M_ARENA_MAX = -8  # glibc's malloc.h


def limit_arenas(arenas: int) -> bool:
    """Cap the process's malloc arenas at `arenas` (0: leave glibc's default). False where
    the C library is not glibc or refuses."""
    if arenas == 0:
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # musl, or no C library to be found
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    return bool(mallopt(M_ARENA_MAX, arenas))
