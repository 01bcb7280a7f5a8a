"""A job log as the job page renders it (web/log.py, pure): GitLab's section markers and
what a terminal would show."""

from __future__ import annotations

from artifactsvc.web.log import Line, Section, render_log


def start(name: str, at: int, options: str = "") -> str:
    return f"section_start:{at}:{name}{options}\r\x1b[0K"


def end(name: str, at: int) -> str:
    return f"section_end:{at}:{name}\r\x1b[0K"


def lines(node: Section) -> list[str]:
    return [str(child.html) for child in node.children if isinstance(child, Line)]


def sections(node: Section) -> list[Section]:
    return [child for child in node.children if isinstance(child, Section)]


def test_sections_nest_and_know_their_duration() -> None:
    log = render_log(
        f"{start('outer', 100)}Outer\n{start('inner', 110)}Inner\nwork\n{end('inner', 125)}\n"
        f"after inner\n{end('outer', 200)}\ndone\n"
    )

    [outer] = sections(log)
    [inner] = sections(outer)
    assert (outer.header, outer.duration, outer.number) == ("Outer", "01:40", 1)
    assert (inner.header, inner.duration, inner.number) == ("Inner", "00:15", 2)
    assert lines(inner) == ["work"]
    assert lines(outer) == ["after inner"]
    assert lines(log) == ["done"]


def test_a_collapsed_section_starts_closed() -> None:
    log = render_log(f"{start('s', 1, '[collapsed=true]')}Head\nx\n{end('s', 2)}\n")

    assert sections(log)[0].collapsed


def test_an_unclosed_section_holds_the_rest_and_has_no_duration() -> None:
    log = render_log(f"{start('s', 1)}Head\nx\ny\n")

    [section] = sections(log)
    assert lines(section) == ["x", "y"] and section.duration == ""


def test_an_end_without_its_start_is_ignored() -> None:
    log = render_log(f"a\n{end('nope', 5)}\nb\n")

    assert lines(log) == ["a", "b"]


def test_a_carriage_return_overwrites_the_line_and_erase_codes_vanish() -> None:
    log = render_log("10%\r50%\r100%\n\x1b[0Kclean\x1b[2K\n")

    assert lines(log) == ["100%", "clean"]


def test_markup_in_the_log_is_escaped_and_colours_become_classes() -> None:
    log = render_log("\x1b[31m<script>alert(1)</script>\x1b[0m\n")

    assert lines(log) == ['<span class="ansi31">&lt;script&gt;alert(1)&lt;/script&gt;</span>']


def test_a_colour_carries_across_lines_as_in_a_terminal() -> None:
    log = render_log("\x1b[32mgreen\nstill green\x1b[0m\nplain\n")

    assert lines(log) == [
        '<span class="ansi32">green</span>',
        '<span class="ansi32">still green</span>',
        "plain",
    ]


def test_line_numbers_count_every_line_of_the_log() -> None:
    log = render_log(f"one\n{start('s', 1)}two\nthree\n{end('s', 2)}\nfive\n")

    numbers = [child.number for child in log.children]
    assert numbers == [1, 2, 5]
    assert [child.number for child in sections(log)[0].children] == [3]
