"""The helpers every suite builds its real parts with, one module a concern:

documents    import documents: user, project, pipeline, job, running, many_jobs
apps         the real app behind Starlette's TestClient (`app_settings`, `app_client`);
             `import_document`, seeding as `artifactsvc import` does
service      the runner's calls (`upload`, `finish`) and `Service`, the app over a
             seeded database and a storage, in this process or a real one
processes    `artifactsvc serve` as a process (`server_process`: base URL, pid, log),
             `run_artifactsvc`, `free_port`, `wait_for`, `peak_rss_bytes`
database     the database behind the service, on SQLite or PostgreSQL (`query`,
             `execute`, `artifact_row(s)`), and `postgres_schema`
storage      `Storage` (a store and a look behind it) and `counting_store` (the
             production InstrumentedObjectStore, every call logged)
streams      driving the async ports: `run`, `chunks`, `read_all`, `payload`
zips         honest archives: `make_zip`, stream_zip, `large_zip`, reading them back
lying_zips   archives that lie: `raw_zip`, patches by offset, Deflate64
wire         raw requests, multipart bodies, a TCP relay that can be cut, a black hole
runner       gitlab-runner's calls byte for byte (upload, download, trace, update, retries)
pages        the web pages' world (a nested private project, a public one, an archive with
             text, image, PDF, a big folder, a hostile report), `pages_server`, and
             signing in as a browser does (`signed_in`, `csrf_of`, `same_origin`)
browser      Chromium (the system's) under Playwright: `chromium`, the `browser` fixture
s3, seaweed  pytest plugins: moto's S3 server, and SeaweedFS for large objects
"""
