"""`artifactsvc` commands run with stderr (and stdout, if asked) on a real pseudo-terminal,
as a person at a shell runs them; what the terminal showed, read back from the pty."""

from __future__ import annotations

import os
import select
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

# What an interactive shell has; rich reads these (and nothing else) to size and colour.
TERMINAL_ENV = {"TERM": "xterm-256color", "COLUMNS": "120", "LINES": "40"}


@dataclass(frozen=True)
class TerminalRun:
    returncode: int
    stdout: bytes  # b"" when stdout was the terminal too
    terminal: bytes  # everything written to the pty


def run_on_terminal(
    *args: str,
    env: dict[str, str],
    cwd: Path,
    stdout_on_terminal: bool = False,
    timeout: float = 60,
) -> TerminalRun:
    """`python -m artifactsvc ARGS` with stderr on a pty (stdout too with
    `stdout_on_terminal`, else a pipe), ARTIFACTSVC_* from `env` only."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("ARTIFACTSVC_")}
    for name in ("NO_COLOR", "FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE", "CI"):
        clean.pop(name, None)  # rich's overrides of what the terminal says
    controller, terminal = os.openpty()
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "artifactsvc", *args],
            env={**clean, **TERMINAL_ENV, **env},
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=terminal if stdout_on_terminal else subprocess.PIPE,
            stderr=terminal,
        )
        os.close(terminal)
        terminal = -1
        shown = bytearray()
        out = bytearray()
        readers = [controller] + ([] if process.stdout is None else [process.stdout.fileno()])
        deadline = time.monotonic() + timeout
        while readers:
            if time.monotonic() > deadline:
                process.kill()
                raise TimeoutError(f"artifactsvc {' '.join(args)}: {bytes(shown)!r}")
            ready, _, _ = select.select(readers, [], [], 0.1)
            for fd in ready:
                try:
                    data = os.read(fd, 65536)
                except OSError:  # EIO: the pty's last writer closed
                    data = b""
                if not data:
                    readers.remove(fd)
                elif fd == controller:
                    shown += data
                else:
                    out += data
        returncode = process.wait(timeout=timeout)
        if process.stdout is not None:
            process.stdout.close()
        return TerminalRun(returncode, bytes(out), bytes(shown))
    finally:
        os.close(controller)
        if terminal != -1:
            os.close(terminal)
