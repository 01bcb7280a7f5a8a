"""Builds the service graph from settings, for the app and the CLI alike.

AuthService       identities, projects                      auth.py
JobService        jobs, traces, projects; artifact hooks    jobs.py
ArtifactService   artifacts, jobs; objects; auth            artifacts.py
UploadService     artifacts; objects; index pool and workers uploads.py
FileService       artifact lookups; archive index; objects; zip pools  files.py
Housekeeping      artifacts; objects                        housekeeping.py
HealthService     the metadata store and objects            health.py
UsageService      usage aggregates; auth                    usage.py
OperatorReads     auth; files (the command line's ls, cat)  operators.py
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from artifactsvc.artifacts import ArtifactService
from artifactsvc.auth import AuthService
from artifactsvc.files import FileService, ReadLimits
from artifactsvc.health import HealthService
from artifactsvc.housekeeping import Housekeeping
from artifactsvc.indexing import ArchiveIndex, BuildIndex, IndexLimits, build_here
from artifactsvc.indexworkers import IndexWorkers
from artifactsvc.jobs import JobService
from artifactsvc.metadata import MetadataStore, open_metadata_store
from artifactsvc.objects import ObjectStore, open_object_store
from artifactsvc.objects.instrumented import InstrumentedObjectStore
from artifactsvc.operators import OperatorReads
from artifactsvc.pipelines import PipelineService
from artifactsvc.pools import ZipWork
from artifactsvc.settings import Settings
from artifactsvc.streams import ReadBudget
from artifactsvc.tracing import Tracing, open_tracing
from artifactsvc.uploads import UploadService
from artifactsvc.usage import UsageService
from artifactsvc.ziprange import BucketCache

# Storage threads block on network reads; zip threads on storage and zlib. Sized on purpose
# and kept apart, so a burst of downloads cannot starve the index builders or vice versa; the
# zip work has a pool per kind (pools.ZipWork), each sized by its own setting.
STORAGE_THREADS = 32


@dataclass
class Runtime:
    store: MetadataStore
    objects: ObjectStore
    auth: AuthService
    jobs: JobService
    pipelines: PipelineService
    artifacts: ArtifactService
    uploads: UploadService
    files: FileService
    housekeeping: Housekeeping
    health: HealthService
    usage: UsageService
    operators: OperatorReads
    storage_executor: ThreadPoolExecutor
    zip_work: ZipWork
    index_cache: BucketCache
    owns_store: bool
    tracing: Tracing | None = None
    index_workers: IndexWorkers | None = None

    def close(self) -> None:
        self.zip_work.shutdown()
        if self.index_workers is not None:
            self.index_workers.close()
        self.storage_executor.shutdown(wait=False, cancel_futures=True)
        if self.owns_store:
            self.store.close()
        if self.tracing is not None:
            self.tracing.shutdown()  # exports the spans still queued


def build_runtime(
    settings: Settings,
    *,
    store: MetadataStore | None = None,
    objects: ObjectStore | None = None,
    count_storage: Callable[[str], None] | None = None,
    count_storage_error: Callable[[str, str], None] | None = None,
) -> Runtime:
    storage_executor = ThreadPoolExecutor(STORAGE_THREADS, thread_name_prefix="storage")
    zip_work = ZipWork.of(
        reads=settings.member_read_threads,
        listings=settings.listing_threads,
        folder_zips=settings.folder_zip_threads,
        indexes=settings.index_threads,
    )
    limits = IndexLimits(
        settings.max_path_depth,
        settings.max_name_bytes,
        settings.seek_point_spacing,
        settings.index_inflate_budget,
    )
    index_workers = IndexWorkers() if settings.index_processes else None
    builder: BuildIndex = index_workers if index_workers is not None else build_here
    tracing = open_tracing(settings)
    metadata = (
        store
        if store is not None
        else open_metadata_store(
            settings.database_url, around=tracing.metadata if tracing is not None else None
        )
    )
    blobs = (
        objects
        if objects is not None
        else open_object_store(
            settings.storage_url,
            endpoint_url=settings.s3_endpoint_url,
            connect_timeout=settings.s3_connect_timeout,
            read_timeout=settings.s3_read_timeout,
            deadline=settings.storage_call_deadline,
            part_concurrency=settings.upload_part_concurrency,
            executor=storage_executor,
        )
    )
    if count_storage is not None or tracing is not None:
        blobs = InstrumentedObjectStore(
            blobs,
            count_storage or (lambda verb: None),
            count_error=count_storage_error,
            trace=tracing.storage if tracing is not None else None,
        )
    keep_latest = settings.keep_latest_artifacts
    auth = AuthService(metadata.identities, metadata.projects, cache_ttl=settings.auth_cache_ttl)
    artifacts = ArtifactService(
        metadata.artifacts,
        metadata.jobs,
        blobs,
        auth,
        keep_latest=keep_latest,
        budget=ReadBudget(settings.download_buffer_budget),
    )
    index = ArchiveIndex(
        metadata.artifacts, blobs, zip_work.indexes, limits=limits, builder=builder
    )
    files = FileService(
        artifacts,
        index,
        blobs,
        zip_work,
        ReadLimits(settings.inflate_budget, settings.listing_max_folders),
    )
    return Runtime(
        store=metadata,
        objects=blobs,
        auth=auth,
        jobs=JobService(
            metadata.jobs,
            metadata.traces,
            metadata.projects,
            artifacts=artifacts,
            max_trace_size=settings.max_trace_size,
        ),
        pipelines=PipelineService(metadata.jobs, metadata.identities),
        artifacts=artifacts,
        uploads=UploadService(
            metadata.artifacts,
            blobs,
            executor=zip_work.indexes,
            max_size=settings.max_artifact_size,
            limits=limits,
            builder=builder,
        ),
        files=files,
        housekeeping=Housekeeping(metadata.artifacts, blobs, keep_latest=keep_latest),
        health=HealthService(metadata, blobs),
        usage=UsageService(metadata.usage, auth, keep_latest=keep_latest),
        operators=OperatorReads(auth, files),
        storage_executor=storage_executor,
        zip_work=zip_work,
        index_cache=index.cache,
        owns_store=store is None,
        tracing=tracing,
        index_workers=index_workers,
    )
