"""The zip fuzzer's invariants (tests/fuzz/zip_target.py) on every seed, a bounded atheris run
from those seeds, and what the fuzzer found, kept as regressions."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest

from artifactsvc.errors import CorruptArchive
from artifactsvc.ziprange import (
    BytesSource,
    Entry,
    build_index,
    iter_index_entries,
    read_member,
)
from tests.fuzz import seeds, zip_target
from tests.support.lying_zips import Raw, _Bits, raw_zip
from tests.support.processes import REPO
from tests.support.zips import DEFLATE64

RUNS = 20_000  # about 10 to 40 s here, instrumented; `make fuzz` runs for as long as it is let
SECONDS = 60


def test_every_seed_keeps_the_invariants() -> None:
    found = list(seeds.seeds())
    assert len(found) >= 30
    for data in found:
        zip_target.check(data)


def test_a_bounded_atheris_run_from_the_seeds_finds_nothing(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    finished = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.fuzz.zips",
            str(corpus),
            f"-runs={RUNS}",
            f"-max_total_time={SECONDS}",
            "-seed=1",
            f"-artifact_prefix={tmp_path}/",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=SECONDS * 4,
        check=False,
    )
    crashes = sorted(path.name for path in tmp_path.glob("crash-*"))
    assert finished.returncode == 0 and not crashes, finished.stderr[-4000:]
    assert "Done" in finished.stderr and len(list(corpus.iterdir())) >= 30


# CI, stop 16: started by a pytest worker that had once held 1 GiB, the fuzzer stopped with
# "out-of-memory" on inputs that take 120 MiB, because libFuzzer compares -rss_limit_mb with the
# peak RSS, which Linux carries across execve. The starter here peaks at 1.1 GiB first.
PEAKS_THEN_FUZZES = """
import subprocess, sys
held = bytearray(1100 << 20)
for at in range(0, len(held), 4096):
    held[at] = 1
del held
sys.exit(subprocess.run([sys.executable, "-m", "tests.fuzz.zips", *sys.argv[1:]]).returncode)
"""


def test_the_fuzzer_counts_its_own_memory_not_the_peak_of_the_process_that_started_it(
    tmp_path: Path,
) -> None:
    finished = subprocess.run(
        [
            sys.executable,
            "-c",
            PEAKS_THEN_FUZZES,
            str(tmp_path / "corpus"),
            "-runs=1000000",
            "-max_total_time=4",  # libFuzzer checks the RSS once a second
            "-seed=1",
            f"-artifact_prefix={tmp_path}/",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert finished.returncode == 0, finished.stderr[-2000:]
    assert "Done" in finished.stderr and not list(tmp_path.glob("oom-*"))


def deflate64_reaching_before_its_start() -> bytes:
    """Three literals, then a copy from 32,769 bytes back (Deflate64's distance code 30)."""
    bits = _Bits()
    bits.value(1, 1)  # BFINAL
    bits.value(1, 2)  # fixed Huffman codes
    for byte in b"abc":
        bits.literal(byte)
    bits.code(0xC0 + 285 - 280, 8)  # length code 285: 16 extra bits in Deflate64
    bits.value(10 - 3, 16)
    bits.code(30, 5)
    bits.value(0, 14)
    bits.code(0, 7)  # end of block
    return raw_zip([Raw(b"far.bin", bits.done(), b"abc" + b"x" * 10, method=DEFLATE64)])


def only_member(data: bytes) -> Entry:
    out = io.BytesIO()
    directory = build_index(BytesSource(data), out, etag="x")
    (entry,) = iter_index_entries(BytesSource(out.getvalue()), directory)
    return entry


def flipped(data: bytes, offset: int, bit: int) -> bytes:
    out = bytearray(data)
    out[offset] ^= 1 << bit
    return bytes(out)


# Found by atheris: stream_inflate, under stream-unzip, raised BackwardsTooFar (a ValueError)
# and IndexError through decompress._via_stream_unzip untranslated: a 500 on the file route.
@pytest.mark.parametrize(
    "data",
    [deflate64_reaching_before_its_start(), flipped(seeds.deflate64_far(), 3899, 3)],
    ids=["copy-before-the-start", "broken-huffman-table"],
)
def test_a_deflate64_stream_the_inflater_chokes_on_is_a_corrupt_archive(data: bytes) -> None:
    with pytest.raises(CorruptArchive):
        b"".join(read_member(BytesSource(data), only_member(data)))


# Found by atheris: an empty member was served without its CRC being checked.
def test_an_empty_member_whose_crc_is_not_zero_is_refused() -> None:
    data = raw_zip([Raw(b"empty.txt", b"", b"", crc=0x179F)])
    with pytest.raises(CorruptArchive):
        b"".join(read_member(BytesSource(data), only_member(data)))


# Found by atheris: a UTF-8 name without the UTF-8 flag. The index reads it as UTF-8 on purpose
# (Workhorse matches raw bytes, so GitLab finds it by its UTF-8 spelling), zipfile as cp437;
# the fuzzer now compares the names' bytes, which both read alike.
def test_an_unflagged_utf8_name_is_read_as_utf8_and_agrees_with_zipfile_by_its_bytes() -> None:
    name = "reports/ʞООО/x.txt".encode()
    data = raw_zip([Raw(name, b"hello", b"hello")])
    assert only_member(data).name == "reports/ʞООО/x.txt"
    zip_target.check(data)  # raised Finding before the comparison went by bytes
