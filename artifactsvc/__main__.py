"""The `artifactsvc` command: serve, migrate, import, expire, gc, nginx-config."""

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
        return asyncio.run(cli.gc(settings))
    except ArtifactsvcError as error:
        # A store that cannot be opened or reached: one clear line, no traceback.
        print(f"artifactsvc {args.command}: {cli.describe(error)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


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
