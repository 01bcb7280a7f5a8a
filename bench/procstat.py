"""A process's memory from /proc: resident set now (VmRSS) and its high-water mark (VmHWM)."""

from __future__ import annotations

from dataclasses import dataclass

MiB = 1 << 20


@dataclass(frozen=True)
class Memory:
    rss: int
    """VmRSS, bytes."""
    peak: int
    """VmHWM, bytes: the most the process has held resident since start (or the last reset)."""


def memory(pid: int | str = "self") -> Memory:
    fields: dict[str, int] = {}
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                fields[key] = int(rest.split()[0]) * 1024  # reported in kB
    return Memory(rss=fields["VmRSS"], peak=fields["VmHWM"])


def reset_peak(pid: int) -> bool:
    """Set VmHWM back to the current VmRSS (Linux >= 4.0); False where that is not allowed."""
    try:
        with open(f"/proc/{pid}/clear_refs", "w") as clear:
            clear.write("5")
    except OSError:
        return False
    return True
