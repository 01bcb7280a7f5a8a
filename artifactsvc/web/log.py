"""A job's log as GitLab's job page shows it (pure): ANSI colours, collapsible sections.

gitlab-runner marks sections with `section_start:<unix time>:<name>[options]\\r\\e[0K` and
`section_end:<unix time>:<name>\\r\\e[0K` (GitLab's Gitlab::Ci::Ansi2json::Parser reads the
same markers). A section becomes a `<details>` whose summary is the rest of its first line,
with its duration; `[collapsed=true]` starts it closed. Colours come from the maintained
`ansi2html` converter, with classes (its style sheet is served with the pages', so no inline
style is needed under the pages' Content-Security-Policy). A carriage return overwrites the
line as a terminal would (progress bars), and every other erase sequence is dropped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ansi2html import Ansi2HTMLConverter
from markupsafe import Markup

_MARKER = re.compile(
    r"section_(start|end):(\d+):([A-Za-z0-9_.-]+)(?:\[((?:\w+=\w+,?)*)\])?\r\x1b\[0K"
)
_ERASE = re.compile(r"\x1b\[[0-9;]*[KJ]")
_SGR = re.compile(r"\x1b\[([0-9;]*)m")


@dataclass
class Section:
    """A run of lines (`Line` or nested `Section`); the log itself is the unnamed root."""

    name: str = ""
    header: Markup = field(default_factory=Markup)
    number: int = 0  # the line the section starts on, shown as its summary
    collapsed: bool = False
    started: int | None = None
    ended: int | None = None
    children: list[Section | Line] = field(default_factory=list)

    @property
    def duration(self) -> str:
        if self.started is None or self.ended is None or self.ended < self.started:
            return ""
        minutes, seconds = divmod(self.ended - self.started, 60)
        return f"{minutes:02d}:{seconds:02d}"


@dataclass(frozen=True)
class Line:
    number: int
    html: Markup


def _converter() -> Ansi2HTMLConverter:
    return Ansi2HTMLConverter(inline=False, escaped=True, line_wrap=False, dark_bg=True)


def stylesheet() -> str:
    """The CSS rules of ansi2html's colour classes (scoped to the log's `<pre>`)."""
    rules = []
    for rule in _converter().produce_headers().splitlines():
        rule = rule.strip()
        if rule.startswith(".ansi") or rule.startswith(".inv"):
            rules.append(f".log {rule}")
    return "\n".join(rules) + "\n"


def _terminal(line: str) -> str:
    """What a terminal leaves of a line: the text after its last carriage return."""
    line = line.rstrip("\r")
    return line.rsplit("\r", 1)[-1] if "\r" in line else line


def _still_in_force(carried: str, line: str) -> str:
    """The SGR codes in force after `line`: a reset (`0`, or none) drops what came before."""
    codes = _SGR.findall(carried)
    for params in _SGR.findall(line):
        if params in ("", "0") or params.startswith("0;"):
            codes = [] if params in ("", "0") else [params]
        else:
            codes = [*codes, params][-8:]  # bounded, whatever a log does
    return "".join(f"\x1b[{params}m" for params in codes)


def render_log(text: str) -> Section:
    """The log as a tree of sections and numbered lines, each line's HTML escaped."""
    converter = _converter()
    root = Section()
    stack = [root]
    carried = ""  # the colour codes in force at the end of the previous line

    def colour(raw: str) -> Markup:
        # A colour set on one line carries to the next, as in a terminal: each line is
        # converted on its own (its HTML stays balanced), starting with the codes in force.
        nonlocal carried
        if not carried and "\x1b" not in raw:
            return Markup.escape(raw)  # most lines: nothing to convert
        text = _ERASE.sub("", raw)
        html = Markup(converter.convert(carried + text, full=False))
        carried = _still_in_force(carried, text)
        return html

    for number, raw in enumerate(text.split("\n"), start=1):
        if number > 1 and not raw and number == text.count("\n") + 1:
            break  # the newline ending the last line does not start one more
        position = 0
        opened: Section | None = None
        for marker in _MARKER.finditer(raw):
            kind, stamp, name, options = marker.groups()
            position = marker.end()
            if kind == "start":
                opened = Section(
                    name=name,
                    collapsed="collapsed=true" in (options or ""),
                    started=int(stamp),
                )
                stack[-1].children.append(opened)
                stack.append(opened)
            elif any(section.name == name for section in stack[1:]):
                while stack[-1].name != name:
                    stack.pop()
                stack.pop().ended = int(stamp)
        rest = _terminal(raw[position:])
        if opened is not None:
            opened.header = colour(rest)
            opened.number = number
        elif position and not rest:
            continue  # a line that only closed sections
        else:
            stack[-1].children.append(Line(number, colour(rest)))
    return root
