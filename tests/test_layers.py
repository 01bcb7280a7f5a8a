"""The layers stay visible in the imports: routes -> services -> ports -> adapters.

Read from the source with `ast` (nothing imported), so a forbidden import fails here even on
a path no other test takes.
"""

from __future__ import annotations

import ast
import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest

from artifactsvc.api.context import Services

PACKAGE = Path(__file__).resolve().parent.parent / "artifactsvc"


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def imported(path: Path) -> Iterator[str]:
    """Every module `path` imports, as written (`from a.b import c` gives a.b.c if that is a
    module of ours, else a.b)."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                candidate = f"{node.module}.{alias.name}"
                yield candidate if candidate in MODULES else node.module


GRAPH = {name: set(imported(path)) for name, path in MODULES.items()}


def within(module: str, *packages: str) -> bool:
    return any(module == p or module.startswith(p + ".") for p in packages)


def test_the_import_graph_has_no_circle() -> None:
    state: dict[str, int] = {}  # 1 on the current path, 2 done
    circles: list[list[str]] = []

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for target in sorted(GRAPH[module] & GRAPH.keys()):
            if state.get(target) == 1:
                circles.append([*path[path.index(target) :], target])
            elif target not in state:
                visit(target, [*path, target])
        state[module] = 2

    for module in GRAPH:
        if module not in state:
            visit(module, [module])
    assert circles == []


# (who, what it must never import)
FORBIDDEN = [
    ("artifactsvc.api", ("artifactsvc.objects", "artifactsvc.metadata", "boto3", "botocore")),
    ("artifactsvc.api", ("psycopg", "sqlite3")),
    ("artifactsvc.ziprange", ("artifactsvc.api", "artifactsvc.objects", "artifactsvc.metadata")),
    ("artifactsvc.metadata", ("artifactsvc.api", "artifactsvc.objects", "starlette")),
    ("artifactsvc.objects", ("artifactsvc.api", "artifactsvc.metadata", "starlette")),
]
SERVICES = [
    "artifactsvc.auth",
    "artifactsvc.jobs",
    "artifactsvc.artifacts",
    "artifactsvc.uploads",
    "artifactsvc.files",
    "artifactsvc.indexing",
    "artifactsvc.listing",
    "artifactsvc.housekeeping",
    "artifactsvc.usage",
    "artifactsvc.operators",
    "artifactsvc.progress",
    "artifactsvc.health",
    "artifactsvc.streams",
    "artifactsvc.paths",
    "artifactsvc.durations",
    "artifactsvc.errors",
    "artifactsvc.models",
]


@pytest.mark.parametrize(("layer", "banned"), FORBIDDEN)
def test_a_layer_never_imports_what_it_must_not_know(layer: str, banned: tuple[str, ...]) -> None:
    found = {
        (module, target)
        for module, targets in GRAPH.items()
        if within(module, layer)
        for target in targets
        if within(target, *banned)
    }
    assert found == set()


@pytest.mark.parametrize("service", SERVICES)
def test_services_know_nothing_of_http(service: str) -> None:
    assert {t for t in GRAPH[service] if within(t, "artifactsvc.api", "starlette")} == set()


@pytest.mark.parametrize(
    ("vendor", "home"),
    [
        ("botocore", "artifactsvc.objects.s3"),
        ("boto3", "artifactsvc.objects.s3"),
        ("psycopg", "artifactsvc.metadata.postgres"),
        ("psycopg_pool", "artifactsvc.metadata.postgres"),
        ("sqlite3", "artifactsvc.metadata.sqlite"),
    ],
)
def test_a_vendor_library_is_imported_by_its_adapter_only(vendor: str, home: str) -> None:
    users = {module for module, targets in GRAPH.items() if any(within(t, vendor) for t in targets)}
    assert users == {home}


def test_only_settings_reads_the_environment() -> None:
    readers = {
        name
        for name, path in MODULES.items()
        if "os.environ" in path.read_text() or "getenv" in path.read_text()
    }
    assert readers == {"artifactsvc.settings"}


def test_handlers_reach_services_not_stores() -> None:
    kinds = {field.name: str(field.type) for field in dataclasses.fields(Services)}
    assert not {name for name in kinds if name in ("store", "objects")}
    assert not [t for t in kinds.values() if "Store" in t]


def test_the_readme_layout_names_every_module_and_package() -> None:
    readme = (PACKAGE.parent / "README.md").read_text()
    layout = readme[readme.index("## Layout") :].split("```")[1]
    top = {path.name for path in PACKAGE.iterdir() if path.suffix == ".py" or path.is_dir()}
    top -= {"__init__.py", "__main__.py", "__pycache__"}
    named = {name for name in top if f"{name}/" in layout or f" {name} " in f" {layout} "}
    assert top - named == set()
