"""The `artifactsvc` command: serve, migrate, import, expire, gc, usage, ls, cat, nginx-config."""

from __future__ import annotations

import argparse
import asyncio
import sys
import textwrap
from collections.abc import Sequence

from artifactsvc.errors import ConfigError
from artifactsvc.settings import SETTINGS, Settings


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="artifactsvc", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser(
        "serve",
        help="run the HTTP server (uvicorn)",
        epilog=settings_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    serve.add_argument("--host", help="listen address (default: ARTIFACTSVC_HOST)")
    serve.add_argument("--port", type=int, help="listen port (default: ARTIFACTSVC_PORT)")
    serve.add_argument(
        "--workers", type=int, default=1, help="uvicorn worker processes (default: 1)"
    )
    commands.add_parser("migrate", help="create or upgrade the metadata schema")
    importer = commands.add_parser("import", help="upsert users, projects, pipelines, jobs")
    importer.add_argument("file")
    commands.add_parser("expire", help="delete expired, unlocked artifacts")
    commands.add_parser("gc", help="remove orphaned objects and stale uploads")
    usage = commands.add_parser(
        "usage",
        help="stored bytes per project and artifact type, the largest archives, what expires",
        description="Stored bytes per project and artifact type, the largest archives and "
        "what expires within 7 days: a table on a terminal, plain text otherwise.",
    )
    usage.add_argument("project", nargs="?", help="a project id or full path (default: all)")
    usage.add_argument(
        "--top", type=positive, default=10, help="how many largest archives (default: 10)"
    )
    usage.add_argument("--json", action="store_true", help="one JSON document, for scripts")
    ls = commands.add_parser(
        "ls", help="list a job's archive (a folder of it), through the API's listing service"
    )
    ls.add_argument("project", help="a project id or full path")
    ls.add_argument("job", type=positive, help="a job id")
    ls.add_argument("path", nargs="?", default="", help="a folder of the archive (default: root)")
    cat = commands.add_parser("cat", help="write one file of a job's archive to stdout")
    cat.add_argument("project", help="a project id or full path")
    cat.add_argument("job", type=positive, help="a job id")
    cat.add_argument("path", help="the file's path in the archive")
    nginx = commands.add_parser(
        "nginx-config", help="print an nginx.conf that fronts this service (artifactsvc/nginx.py)"
    )
    nginx.add_argument(
        "--listen", default="0.0.0.0:80", help="nginx's listen (default: %(default)s)"
    )
    nginx.add_argument(
        "--server-only",
        action="store_true",
        help="only the upstream and server blocks, to include inside an existing http {}",
    )
    nginx.add_argument("--resolver", help="DNS server for S3 host names (nginx's resolver)")
    nginx.add_argument("--ssl-certificate", help="TLS on --listen: the certificate (PEM)")
    nginx.add_argument("--ssl-certificate-key", help="TLS on --listen: its key (PEM)")
    nginx.add_argument(
        "--state-dir", help="nginx's temporary files and access log here (default: nginx's own)"
    )
    args = parser.parse_args(argv)

    try:
        settings = Settings.from_env()
    except ConfigError as error:
        print(f"artifactsvc: {error}", file=sys.stderr)
        return 2

    from artifactsvc import cli
    from artifactsvc.errors import ArtifactsvcError

    try:
        if args.command == "serve":
            return cli.serve(settings, host=args.host, port=args.port, workers=args.workers)
        if args.command == "migrate":
            return asyncio.run(cli.migrate(settings, report=True))
        if args.command == "import":
            return asyncio.run(cli.import_file(settings, args.file))
        if args.command == "nginx-config":
            return cli.nginx_config(
                settings,
                listen=args.listen,
                server_only=args.server_only,
                resolver=args.resolver,
                state_dir=args.state_dir,
                ssl_certificate=args.ssl_certificate,
                ssl_certificate_key=args.ssl_certificate_key,
            )
        if args.command == "expire":
            return asyncio.run(cli.expire(settings))
        if args.command == "usage":
            return asyncio.run(cli.usage(settings, args.project, top=args.top, as_json=args.json))
        if args.command == "ls":
            return asyncio.run(cli.ls(settings, args.project, args.job, args.path))
        if args.command == "cat":
            return asyncio.run(cli.cat(settings, args.project, args.job, args.path))
        return asyncio.run(cli.gc(settings))
    except ArtifactsvcError as error:
        # A store that cannot be opened or reached: one clear line, no traceback.
        print(f"artifactsvc {args.command}: {cli.describe(error)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def positive(text: str) -> int:
    """An argparse type: a positive integer (else a usage error, exit status 2)."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 0 < value < 2**63:
        raise argparse.ArgumentTypeError(f"not a positive integer: {text!r}")
    return value


def settings_help() -> str:
    """Every setting in the table with its default and help, for `serve --help`."""
    lines = ["environment (read by every command):"]
    for row in SETTINGS:
        default = "unset" if row.default is None else row.default
        lines.append(f"  {row.variable} (default: {default})")
        lines += textwrap.wrap(row.help, 78, initial_indent=" " * 6, subsequent_indent=" " * 6)
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
