"""Progress of long commands (import, expire, gc): a bar on a terminal, nothing elsewhere.

A service reports progress through a plain callback, `advance(amount)`, and knows nothing of
terminals. The command asks `progress(...)` for that callback: on a terminal (stderr a TTY
and text logs) it drives a `rich` bar on stderr, so stdout keeps only the command's result
line; under cron, CI or Kubernetes (stderr a file or a pipe), or with
ARTIFACTSVC_LOG_FORMAT=json, it is a no-op and the output is exactly what it was without it.
`rich` is imported only when a bar is shown.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TextIO

Advance = Callable[[int], None]


def ignore(amount: int) -> None:
    """The callback when nobody watches."""


def on_terminal(stream: TextIO, log_format: str) -> bool:
    """Whether a person is watching: the stream is a TTY and logs are text, not JSON."""
    try:
        return log_format == "text" and stream.isatty()
    except ValueError:  # a closed stream
        return False


@contextmanager
def progress(
    description: str,
    *,
    stream: TextIO,
    log_format: str,
    total: int | None = None,
    unit: str = "",
    in_bytes: bool = False,
) -> Iterator[Advance]:
    """An `advance` callback for `description`. `total` None: an open-ended count (a pulsing
    bar and the count so far); `in_bytes`: amounts are bytes, shown as sizes and a rate."""
    if not on_terminal(stream, log_format):
        yield ignore
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        MofNCompleteColumn,
        Progress,
        ProgressColumn,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
        TransferSpeedColumn,
    )

    columns: list[ProgressColumn | str] = [
        SpinnerColumn(),
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
    ]
    if in_bytes:
        columns += [DownloadColumn(), TransferSpeedColumn()]
    elif total is not None:
        columns += [MofNCompleteColumn(), TextColumn(unit)]
    else:
        columns += [TextColumn(f"{{task.completed}} {unit}".rstrip())]
    columns.append(TimeElapsedColumn())
    console = Console(file=stream, stderr=True)
    # Not transient: the finished bar stays above the result line, as a record of the run.
    with Progress(*columns, console=console) as bar:
        task = bar.add_task(description, total=total)

        def advance(amount: int) -> None:
            bar.advance(task, amount)

        yield advance
        if total is None:
            # An open-ended count ends full, not pulsing.
            done = int(bar.tasks[0].completed)
            bar.update(task, total=done, completed=done)
