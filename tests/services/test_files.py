"""FileService built directly: single members out of a stored archive, by-ref readings,
listings, folder zips, and the index sidecar rebuilt when it has gone."""

from __future__ import annotations

import io
import zipfile

import pytest

from artifactsvc.artifacts import Download
from artifactsvc.errors import ArtifactNotFound, ListingTooLarge
from artifactsvc.files import MemberFile, RefTarget
from artifactsvc.listing import MAX_LISTING_WINDOW
from tests.services.conftest import (
    PRIVATE,
    Person,
    World,
    Worlds,
    collect,
    job,
    make_zip,
    pipeline,
    read_all,
)

APP_JS = b"console.log('hello');\n" * 300  # deflates well
RAW_BIN = bytes(range(256)) * 16
MEMBERS = {
    "README.md": b"# readme\n",
    "dist/": b"",
    "dist/app.js": APP_JS,
    "dist/raw.bin": RAW_BIN,
    "dist/css/site.css": b"body { margin: 0 }\n",
    "dist-old/app.js": b"old\n",
    "docs/guide/intro.txt": "Grüße, 世界\n".encode(),
}
ARCHIVE = make_zip(MEMBERS, stored={"dist/raw.bin", "README.md"})


async def seed_archive(world: World, job_id: int = 10) -> None:
    await world.seed(jobs=[job(job_id)])
    await world.upload(job_id, ARCHIVE)


def test_the_archive_really_has_both_compression_methods() -> None:
    with zipfile.ZipFile(io.BytesIO(ARCHIVE)) as archive:
        methods = {info.filename: info.compress_type for info in archive.infolist()}
    assert methods["dist/raw.bin"] == zipfile.ZIP_STORED
    assert methods["dist/app.js"] == zipfile.ZIP_DEFLATED


@pytest.mark.parametrize(
    "path",
    ["dist/raw.bin", "dist/app.js", "README.md", "docs/guide/intro.txt", "dist-old/app.js"],
)
def test_a_file_reads_exactly_the_members_bytes(worlds: Worlds, path: str) -> None:
    async def scenario(world: World) -> None:
        await seed_archive(world)
        access = await world.access(Person.REPORTER, PRIVATE)

        member = await world.runtime.files.file(access, 10, path)

        assert member.path == path
        assert member.name == path.rsplit("/", 1)[-1]
        assert member.size == len(MEMBERS[path])
        assert await collect(member.read()) == MEMBERS[path]

    worlds.run(scenario)


@pytest.mark.parametrize("path", ["dist/raw.bin", "dist/app.js"], ids=["stored", "deflated"])
@pytest.mark.parametrize(
    ("offset", "length"),
    [(0, 1), (5, 100), (1000, 2000), (4095, 1), (3000, None), (4096, 0)],
)
def test_a_slice_of_a_file_is_exactly_those_bytes(
    worlds: Worlds, path: str, offset: int, length: int | None
) -> None:
    async def scenario(world: World) -> None:
        await seed_archive(world)
        member = await world.runtime.files.file(
            await world.access(Person.REPORTER, PRIVATE), 10, path
        )

        expected = MEMBERS[path][offset:] if length is None else MEMBERS[path][offset:][:length]
        assert await collect(member.read(offset, length)) == expected

    worlds.run(scenario)


def test_head_gives_the_first_bytes_or_the_whole_shorter_file(worlds: Worlds) -> None:
    async def scenario(world: World) -> None:
        await seed_archive(world)
        files = world.runtime.files
        access = await world.access(Person.REPORTER, PRIVATE)
        app = await files.file(access, 10, "dist/app.js")
        readme = await files.file(access, 10, "README.md")

        assert await app.head(16) == APP_JS[:16]
        assert await readme.head(512) == MEMBERS["README.md"]
        assert await readme.head(0) == b""

    worlds.run(scenario)


@pytest.mark.parametrize(
    "path",
    [
        pytest.param("dist", id="directory-entry-without-slash"),
        pytest.param("dist/", id="directory-entry"),
        pytest.param("docs/guide", id="implied-folder"),
        pytest.param("missing.txt", id="missing"),
        pytest.param("readme.md", id="other-case"),
        pytest.param("dist/css/site.css/x", id="below-a-file"),
    ],
)
def test_a_directory_or_a_missing_name_is_not_a_file(worlds: Worlds, path: str) -> None:
    async def scenario(world: World) -> None:
        await seed_archive(world)
        access = await world.access(Person.REPORTER, PRIVATE)

        with pytest.raises(ArtifactNotFound):
            await world.runtime.files.file(access, 10, path)

    worlds.run(scenario)


async def seed_refs(world: World) -> dict[str, str]:
    """Ref "master" (job 10) holds ARCHIVE; ref "other" (job 20) an archive with "only.txt";
    ref "empty" a successful pipeline with no job named build. Returns ref -> object key."""
    await world.seed(
        pipelines=[pipeline(101, ref="other"), pipeline(102, ref="empty")],
        jobs=[job(10), job(20, pipeline_id=101), job(21, pipeline_id=102, name="lint")],
    )
    master = await world.upload(10, ARCHIVE)
    other = await world.upload(20, make_zip({"only.txt": b"only in other\n"}))
    return {"master": master.object_key, "other": other.object_key}


def test_by_ref_takes_the_first_target_whose_ref_has_the_job(worlds: Worlds) -> None:
    async def scenario(world: World) -> None:
        keys = await seed_refs(world)
        access = await world.access(Person.REPORTER, PRIVATE)
        targets = [
            RefTarget("nope", "README.md"),
            RefTarget("empty", "README.md"),
            RefTarget("master", "README.md"),
            RefTarget("other", "only.txt"),
        ]

        found = await world.runtime.files.by_ref(access, targets, "build", recent=False)

        assert isinstance(found, MemberFile)
        assert found.artifact.object_key == keys["master"]
        assert await read_all(found) == MEMBERS["README.md"]

    worlds.run(scenario)


def test_by_ref_without_a_path_gives_the_archive(worlds: Worlds) -> None:
    async def scenario(world: World) -> None:
        keys = await seed_refs(world)
        access = await world.access(Person.REPORTER, PRIVATE)
        targets = [RefTarget("nope", None), RefTarget("other", None), RefTarget("master", None)]

        found = await world.runtime.files.by_ref(access, targets, "build", recent=False)

        assert isinstance(found, Download)
        assert found.key == keys["other"]
        assert await read_all(found) == world.stored_bytes(keys["other"])

    worlds.run(scenario)


def test_by_ref_does_not_go_on_when_the_refs_job_lacks_the_file(worlds: Worlds) -> None:
    async def scenario(world: World) -> None:
        await seed_refs(world)
        access = await world.access(Person.REPORTER, PRIVATE)
        targets = [RefTarget("master", "only.txt"), RefTarget("other", "only.txt")]

        with pytest.raises(ArtifactNotFound):
            await world.runtime.files.by_ref(access, targets, "build", recent=False)

    worlds.run(scenario)


def test_by_ref_with_no_matching_ref_is_not_found(worlds: Worlds) -> None:
    async def scenario(world: World) -> None:
        await seed_refs(world)
        access = await world.access(Person.REPORTER, PRIVATE)
        targets = [RefTarget("nope", "README.md"), RefTarget("empty", None)]

        with pytest.raises(ArtifactNotFound):
            await world.runtime.files.by_ref(access, targets, "build", recent=False)

    worlds.run(scenario)


TREE_ROOT = [
    ("README.md", "file"),
    ("dist", "directory"),
    ("dist-old", "directory"),
    ("docs", "directory"),
]
TREE_ALL = [
    ("README.md", "file"),
    ("dist", "directory"),
    ("dist-old", "directory"),
    ("dist-old/app.js", "file"),
    ("dist/app.js", "file"),
    ("dist/css", "directory"),
    ("dist/css/site.css", "file"),
    ("dist/raw.bin", "file"),
    ("docs", "directory"),
    ("docs/guide", "directory"),
    ("docs/guide/intro.txt", "file"),
]


@pytest.mark.parametrize(
    ("folder", "recursive", "offset", "limit", "expected", "total"),
    [
        pytest.param("", False, 0, 20, TREE_ROOT, 4, id="root"),
        pytest.param("", True, 0, 20, TREE_ALL, 11, id="root-recursive"),
        pytest.param("", True, 4, 3, TREE_ALL[4:7], 11, id="root-recursive-page"),
        pytest.param("", True, 10, 5, TREE_ALL[10:], 11, id="last-page"),
        pytest.param("", True, 11, 5, [], 11, id="past-the-end"),
        pytest.param(
            "dist",
            False,
            0,
            20,
            [("dist/app.js", "file"), ("dist/css", "directory"), ("dist/raw.bin", "file")],
            3,
            id="folder",
        ),
        pytest.param("docs", False, 0, 20, [("docs/guide", "directory")], 1, id="implied-folder"),
        pytest.param("nope", False, 0, 20, [], 0, id="no-such-folder"),
    ],
)
def test_tree_pages_are_sorted_by_path_with_implied_folders(
    worlds: Worlds,
    folder: str,
    recursive: bool,
    offset: int,
    limit: int,
    expected: list[tuple[str, str]],
    total: int,
) -> None:
    async def scenario(world: World) -> None:
        await seed_archive(world)
        access = await world.access(Person.REPORTER, PRIVATE)

        page = await world.runtime.files.tree(
            access, 10, folder, recursive=recursive, offset=offset, limit=limit
        )

        assert [(entry.path, entry.kind) for entry in page.entries] == expected
        assert page.total == total

    worlds.run(scenario)


def test_tree_tells_explicit_directories_from_implied_ones(worlds: Worlds) -> None:
    async def scenario(world: World) -> None:
        await seed_archive(world)
        access = await world.access(Person.REPORTER, PRIVATE)

        page = await world.runtime.files.tree(access, 10, "", recursive=False, offset=0, limit=20)

        explicit = {entry.path: entry.entry is not None for entry in page.entries}
        assert explicit == {"README.md": True, "dist": True, "dist-old": False, "docs": False}

    worlds.run(scenario)


def test_a_listing_window_past_the_limit_is_too_large(worlds: Worlds) -> None:
    async def scenario(world: World) -> None:
        await seed_archive(world)
        access = await world.access(Person.REPORTER, PRIVATE)
        files = world.runtime.files

        edge = await files.tree(
            access, 10, "", recursive=True, offset=MAX_LISTING_WINDOW - 100, limit=100
        )
        assert (edge.entries, edge.total) == ([], 11)
        with pytest.raises(ListingTooLarge):
            await files.tree(
                access, 10, "", recursive=True, offset=MAX_LISTING_WINDOW - 100, limit=101
            )

    worlds.run(scenario)


@pytest.mark.parametrize(
    ("folder", "names"),
    [
        pytest.param(
            "dist", ["dist/", "dist/app.js", "dist/raw.bin", "dist/css/site.css"], id="folder"
        ),
        pytest.param("docs/guide", ["docs/guide/intro.txt"], id="implied-folder"),
        pytest.param("", list(MEMBERS), id="root"),
    ],
)
def test_folder_zip_holds_exactly_the_folders_members(
    worlds: Worlds, folder: str, names: list[str]
) -> None:
    async def scenario(world: World) -> None:
        await seed_archive(world)
        access = await world.access(Person.REPORTER, PRIVATE)

        data = await collect(await world.runtime.files.folder_zip(access, 10, folder))

        with zipfile.ZipFile(io.BytesIO(data)) as copy:
            assert copy.testzip() is None
            assert sorted(copy.namelist()) == sorted(names)
            for name in names:
                assert copy.read(name) == MEMBERS[name]

    worlds.run(scenario)


@pytest.mark.parametrize("folder", ["nope", "dis", "README.md"])
def test_folder_zip_of_no_folder_is_not_found(worlds: Worlds, folder: str) -> None:
    async def scenario(world: World) -> None:
        await seed_archive(world)
        access = await world.access(Person.REPORTER, PRIVATE)

        with pytest.raises(ArtifactNotFound):
            await collect(await world.runtime.files.folder_zip(access, 10, folder))

    worlds.run(scenario)


def test_a_deleted_index_sidecar_is_rebuilt_once(worlds: Worlds) -> None:
    async def scenario(world: World) -> None:
        await seed_archive(world)
        (uploaded,) = await world.artifacts_of(10)
        assert uploaded.index_key is not None
        (world.objects_root / uploaded.index_key).unlink()
        access = await world.access(Person.REPORTER, PRIVATE)

        member = await world.runtime.files.file(access, 10, "dist/app.js")

        assert await collect(member.read()) == APP_JS
        (rebuilt,) = await world.artifacts_of(10)
        assert rebuilt.index_key is not None
        assert rebuilt.index_key != uploaded.index_key
        assert rebuilt.index_key.startswith(f"{uploaded.object_key}.index-")
        assert world.stored_files() == {uploaded.object_key, rebuilt.index_key}
        again = await world.runtime.files.file(access, 10, "README.md")
        assert await collect(again.read()) == MEMBERS["README.md"]
        assert [a.index_key for a in await world.artifacts_of(10)] == [rebuilt.index_key]

    worlds.run(scenario)
