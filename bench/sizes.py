"""How big each run's archives are: the full run, and `--quick` at about an eighth of it."""

from __future__ import annotations

from dataclasses import dataclass

MiB = 1 << 20
GiB = 1 << 30


@dataclass(frozen=True)
class Sizes:
    name: str
    files_archive_bytes: int
    """The single-file-read archive: many members of random bytes, deflated."""
    files_archive_entries: int
    reads: int
    """Random members read (warm), each through the service and the naive way."""
    stream_archive_bytes: int
    """The archive uploaded and downloaded for the memory and throughput figures."""
    stream_member_bytes: int
    download_rounds: int
    """Downloads through the service, interleaved with as many direct boto3 ones."""
    cold_trials: int
    """Fresh server processes, each reading one file cold."""
    index_entries: int
    index_rounds: int

    def disk_needed(self) -> int:
        """Local archives, SeaweedFS's copies of them (volumes preallocate), and slack."""
        archives = self.files_archive_bytes + self.stream_archive_bytes
        # Each timed upload round stores the stream archive twice (service, boto3).
        uploads = 2 * self.download_rounds * self.stream_archive_bytes
        return 3 * archives + uploads + self.index_entries * 400 + 2 * GiB

    def describe(self, size: int) -> str:
        return f"{size / GiB:g} GiB" if size >= GiB else f"{size // MiB} MiB"


FULL = Sizes(
    name="full",
    files_archive_bytes=512 * MiB,
    files_archive_entries=10_000,
    reads=200,
    stream_archive_bytes=1 * GiB,
    stream_member_bytes=4 * MiB,
    download_rounds=3,
    cold_trials=3,
    index_entries=1_000_000,
    index_rounds=2,
)

QUICK = Sizes(
    name="quick",
    files_archive_bytes=64 * MiB,
    files_archive_entries=1_250,
    reads=200,
    stream_archive_bytes=128 * MiB,
    stream_member_bytes=4 * MiB,
    download_rounds=5,
    cold_trials=3,
    index_entries=125_000,
    index_rounds=3,
)
