"""otpbot: the command line. `otpbot --help` lists the commands."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path

from .core.errors import ConfigurationError, UserError
from .runtime.net import is_loopback_host
from .settings import Settings

LOCAL_BANNER = (
    "LOCAL MODE: authentication is OFF; answering only requests whose serviceUrl is on loopback.\n"
    "Embedded stores in {data}. Listening on http://{host}:{port}/api/messages\n"
    "Never use local mode for real seeds."
)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["package"]:  # its own parser: argparse REMAINDER cannot pass options through
        from .cli.package import main as package_main

        return package_main(argv[1:])
    if argv[:1] == ["audit"]:
        from .cli.audit import main as audit_main

        return audit_main(argv[1:])
    args = _parser().parse_args(argv)
    try:
        return args.run(args)
    except ConfigurationError as error:
        print(error, file=sys.stderr)
        return 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="otpbot", description="Helpdesk OTP bot for Microsoft Teams.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = sub.add_parser("serve", help="run the bot", description=(
        "Run the bot. Production (default) checks MicrosoftAppId, MicrosoftAppTenantId and MicrosoftAppType, "
        "then runs gunicorn with the aiohttp worker on 0.0.0.0:8000. --local runs on 127.0.0.1:3978 with "
        "authentication off, embedded stores and replies only to loopback serviceUrls (for the Agents Playground)."))
    serve.add_argument("--local", action="store_true", help="local trial mode (loopback only, embedded stores)")
    serve.add_argument("--host", help="bind address (local default 127.0.0.1; production 0.0.0.0)")
    serve.add_argument("--port", type=int, help="port (local default 3978; production 8000)")
    serve.set_defaults(run=_serve)

    imp = sub.add_parser("import", help="import the seed spreadsheet (CSV)", description=(
        "Import seeds from a CSV with columns username,secret and optional serial,period,digits,algorithm. "
        "Safe to run again: a seed already stored for that user is left alone; a different stored seed is "
        "flagged and replaced only with --replace. Bad rows are reported by row number and skipped. Seeds are "
        "never printed. Delete the spreadsheet afterwards."))
    imp.add_argument("file", type=Path, help="the CSV file")
    imp.add_argument("--dry-run", action="store_true", help="check every row, write nothing")
    imp.add_argument("--replace", action="store_true", help="overwrite a stored seed that differs from the file's")
    imp.add_argument("--local", action="store_true", help="import into the local encrypted store")
    imp.set_defaults(run=_import)

    sweep = sub.add_parser("sweep", help="run the token sweeper once", description=(
        "Disable seeds older than OTPBOT_MAX_SEED_AGE_DAYS that were never delivered, destroy revoked seeds after "
        "OTPBOT_REVOKED_RETENTION_DAYS, and post one digest of what it did (and of the overdue tokens, "
        "OTPBOT_OVERDUE_DAYS) to OTPBOT_HELPDESK_CONVERSATION_ID. Works in pages and resumes an interrupted "
        "sweep. The bot also does this daily; a lease keeps two sweeps from running at once."))
    sweep.add_argument("--local", action="store_true", help="sweep the local mode's embedded stores")
    sweep.set_defaults(run=_sweep)

    demo = sub.add_parser("demo", help="write the local demo directory and demo tokens (idempotent)")
    demo.set_defaults(run=_demo)

    sub.add_parser("package", help="build the Teams app package zip (see `otpbot package --help`)")
    sub.add_parser("audit", help="export the audit trail or verify its hash chain (see `otpbot audit --help`)")
    return parser


def _serve(args) -> int:
    from .runtime.logs import configure_logging

    configure_logging(os.environ.get("OTPBOT_LOG_LEVEL", "INFO"))
    if not args.local:
        Settings.from_env(os.environ)  # fail fast here, with the message, before gunicorn starts
        bind = f"{args.host or '0.0.0.0'}:{args.port or 8000}"
        os.environ["OTPBOT_BIND"] = bind
        os.execvp(sys.executable, [sys.executable, "-m", "gunicorn", "--config", "gunicorn.conf.py", "bot.wsgi:app"])
    host, port = args.host or "127.0.0.1", args.port or 3978
    if not is_loopback_host(host):
        raise ConfigurationError(f"Refusing to start: local mode binds loopback only, not {host}.")
    settings = Settings.from_env(os.environ, local=True)
    from aiohttp import web

    from .app import create_app

    print(LOCAL_BANNER.format(data=settings.data_dir, host=host, port=port), file=sys.stderr, flush=True)
    web.run_app(create_app(settings), host=host, port=port, print=None, access_log=None)
    return 0


def _import(args) -> int:
    from .handlers.seed_import import PACE_PER_SECOND, import_file, summary

    settings = Settings.from_env(os.environ, local=args.local)

    async def run(services) -> int:
        report = await import_file(args.file, services.secrets, services.directory, services.audit,
                                   state=services.state, dry_run=args.dry_run, replace=args.replace,
                                   pace=None if settings.local else PACE_PER_SECOND)  # Key Vault's rate only
        print(summary(report, args.dry_run))
        return 1 if report.count("problem") or report.count("flagged") else 0

    try:
        return asyncio.run(_with_services(settings, run))
    except (UserError, OSError) as error:
        print(getattr(error, "message", None) or str(error), file=sys.stderr)
        return 2


def _sweep(args) -> int:
    from .handlers.sweep import instance_id, sweep_once

    settings = Settings.from_env(os.environ, local=args.local)

    async def run(services) -> int:
        report = await sweep_once(services, instance_id())
        print(report.summary())
        return 1 if report.failed else 0

    try:
        return asyncio.run(_with_services(settings, run))
    except UserError as error:
        print(error.message, file=sys.stderr)
        return 2


async def _with_services(settings: Settings, run):
    """The app's own ports, built and closed by its startup and cleanup, so the CLI uses what the bot uses."""
    from aiohttp import web

    from .app import SERVICES, create_app

    runner = web.AppRunner(create_app(settings), handle_signals=False)
    await runner.setup()
    try:
        return await run(runner.app[SERVICES])
    finally:
        await runner.cleanup()


def _demo(args) -> int:
    from .adapters.local_store import LocalSecretStore
    from .adapters.sqlite import SqliteStorage
    from .cli.demo import install_demo

    settings = Settings.from_env(os.environ, local=True)

    async def run() -> list[str]:
        store = LocalSecretStore(settings.data_dir / "seeds.sqlite", settings.data_dir / "seeds.key")
        state = SqliteStorage(settings.data_dir / "state.sqlite")
        try:
            return await install_demo(settings.data_dir, store, state)
        finally:
            await store.close()
            state.close()

    for line in asyncio.run(run()) or ["demo data already in place"]:
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
