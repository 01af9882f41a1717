"""The `herald` command: `dev` runs everything; `api`, `worker`, `emulator`, `migrate` one part.

The one module of the core package that imports upward (`api.app`, `worker`, and the emulator
by name): it is the console script's entry point, the composition root that picks which part
to run. Those imports are made inside each subcommand, so importing herald never loads the API
or the worker, and no module imports this one."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import sys
import uuid

from herald.logs import configure_logging
from herald.settings import get_settings
from herald.tracing import start_tracing, stop_tracing


def _api(_: argparse.Namespace) -> int:
    import uvicorn

    from api.app import create_app
    from api.http_protocol import PROTOCOL

    settings = get_settings()
    start_tracing("herald-api")
    uvicorn.run(
        create_app(settings),
        host=settings.api_host,
        port=settings.api_port,
        log_level=settings.log_level.lower(),
        proxy_headers=True,
        http=PROTOCOL,
    )
    stop_tracing()
    return 0


def _worker(_: argparse.Namespace) -> int:
    from herald.malloc_arenas import cap_malloc_arenas
    from worker import run_worker

    settings = get_settings()
    cap_malloc_arenas(settings.worker_malloc_arenas)  # before any thread of the worker starts

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await run_worker(settings, stop)

    start_tracing("herald-worker")
    try:
        asyncio.run(main())
    finally:
        stop_tracing()
    return 0


def _emulator(_: argparse.Namespace) -> int:
    import uvicorn

    settings = get_settings()
    uvicorn.run(
        "emulator.app:create_app",
        factory=True,
        host=settings.emulator_host,
        port=settings.emulator_port,
        log_level="warning",
    )
    return 0


def _migrate(_: argparse.Namespace) -> int:
    from herald.migrate import migrate

    migrate(get_settings().resolved_database_url)
    print("database is at the newest revision")
    return 0


def _dev(_: argparse.Namespace) -> int:
    from herald.dev import run_dev

    return asyncio.run(run_dev(get_settings()))


def _bootstrap(args: argparse.Namespace) -> int:
    from herald.bootstrap import bootstrap

    made = asyncio.run(bootstrap(get_settings(), args.workspace, args.brand))
    print(
        json.dumps(
            {
                "workspace_id": str(made.workspace_id),
                "brand_id": str(made.brand_id),
                "api_key": made.api_key,
            }
        )
    )
    return 0


def _limit(value: str) -> int | None:
    if value == "none":
        return None
    if not value.isdigit():
        raise argparse.ArgumentTypeError("a number, or none for no limit")
    return int(value)


def _admin(args: argparse.Namespace) -> int:
    from herald.bootstrap import create_api_key, create_user, set_plan_limits

    settings = get_settings()
    try:
        if args.action == "create-user":
            password = sys.stdin.readline().rstrip("\r\n") if args.password_stdin else ""
            made = asyncio.run(
                create_user(settings, args.email, password, args.name or args.email, args.workspace)
            )
            printed: dict[str, object] = {
                "user_id": str(made.user_id),
                "email": made.email,
                "workspace_id": str(made.workspace_id) if made.workspace_id else None,
                "brand_id": str(made.brand_id) if made.brand_id else None,
            }
        elif args.action == "set-plan-limits":
            changes = {
                name: getattr(args, name)
                for name in ("accounts", "posts_per_month", "members")
                if getattr(args, name) is not ...
            }
            limits = asyncio.run(set_plan_limits(settings, args.workspace, changes))
            printed = {"workspace_id": str(args.workspace), "plan_limits": limits}
        else:
            permissions = args.permissions.split(",") if args.permissions else None
            key_id, key = asyncio.run(
                create_api_key(settings, args.workspace, args.name, permissions)
            )
            printed = {"id": str(key_id), "workspace_id": str(args.workspace), "api_key": key}
    except ValueError as refused:
        print(f"herald admin {args.action}: {refused}", file=sys.stderr)
        return 2
    print(json.dumps(printed))
    return 0


def _admin_arguments(command: argparse.ArgumentParser) -> None:
    actions = command.add_subparsers(dest="action", required=True)
    user = actions.add_parser("create-user", help="a user; with --workspace, its new owner")
    user.add_argument("--email", required=True)
    user.add_argument("--name", help="shown to teammates; defaults to the email")
    user.add_argument(
        "--password-stdin",
        action="store_true",
        required=True,
        help="read the password from the first line of standard input",
    )
    user.add_argument(
        "--workspace", help="name of a workspace to create (and its first brand), owned by the user"
    )
    key = actions.add_parser("create-api-key", help="an API key of a workspace, printed once")
    key.add_argument("--workspace", required=True, type=uuid.UUID, help="workspace id")
    key.add_argument("--name", required=True)
    key.add_argument(
        "--permissions", help="comma-separated, e.g. posts.create,media.upload; default: all"
    )
    plan = actions.add_parser(
        "set-plan-limits", help="a workspace's own plan limits (others keep the defaults)"
    )
    plan.add_argument("--workspace", required=True, type=uuid.UUID, help="workspace id")
    for name in ("accounts", "posts-per-month", "members"):
        plan.add_argument(
            f"--{name}", type=_limit, default=..., help="a number, or none for no limit"
        )


def _doctor(_: argparse.Namespace) -> int:
    from herald.doctor import diagnose, report

    findings = asyncio.run(diagnose(get_settings()))
    print(report(findings))
    return 0 if all(f.ok for f in findings) else 1


COMMANDS = {
    "dev": (_dev, "run everything: Temporal dev server, emulator, worker, API, demo data"),
    "api": (_api, "run the REST API"),
    "worker": (_worker, "run the Temporal worker"),
    "emulator": (_emulator, "run the platform emulator (sandbox networks)"),
    "migrate": (_migrate, "apply database migrations"),
    "doctor": (_doctor, "check the settings and what they point at; say what to fix"),
    "admin": (
        _admin,
        "create-user / create-api-key: a deployment's first credentials; set-plan-limits",
    ),
    "bootstrap": (
        _bootstrap,
        "create a deployment's first workspace, brand and API key (printed once, as JSON)",
    ),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="herald", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (_, help_text) in COMMANDS.items():
        command = sub.add_parser(name, help=help_text)
        if name == "bootstrap":
            command.add_argument("--workspace", default="My workspace", help="workspace name")
            command.add_argument("--brand", default="My brand", help="brand name")
        if name == "admin":
            _admin_arguments(command)
    args = parser.parse_args(argv)
    configure_logging(get_settings().log_level, get_settings().log_format)
    return COMMANDS[args.command][0](args)


def run() -> None:
    """The console script: `main`, then an exit that skips the interpreter's teardown.

    The Temporal client's Rust runtime keeps threads that can call into Python while the
    interpreter finalizes, which aborts the process (SIGABRT, "PyGILState_Release: thread state
    must be current", temporalio/sdk-python#300) after the command has done its work. Every
    command has flushed what it owns (tracing, logs) by the time it returns, so nothing is lost by
    leaving at once."""
    code = main()
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    run()
