"""`herald-client`: Herald's posts from a terminal, over the HTTP API. Human output by default,
`--json` for scripts. Exit codes (EXIT_* below) are in clients/python/README.md."""

from __future__ import annotations

import argparse
import getpass
import sys
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from herald_client import HeraldAPIError, HeraldClient
from herald_client.cli import config
from herald_client.cli.output import (
    ProgressBar,
    accounts_table,
    as_json,
    post_summary,
    posts_table,
    target_line,
)
from herald_client.errors import CONNECTION_ERROR
from herald_client.models import Account, Post

EXIT_OK = 0
EXIT_NOT_PUBLISHED = 1  # a post watched to its end is not published on every target
EXIT_USAGE = 2  # bad arguments, an unknown account in --to, a missing file
EXIT_AUTH = 3  # not logged in, or Herald refused the credentials (401/403)
EXIT_REFUSED = 4  # Herald refused the request (400, 404, 409, 412, 413, 422)
EXIT_UNAVAILABLE = 5  # Herald unreachable or failing (no answer, 5xx, 429 beyond the retries)
EXIT_TIMEOUT = 6  # `watch`/`post --wait` gave up before the post was final


class UsageError(Exception):
    pass


def _client(args: argparse.Namespace) -> HeraldClient:
    credentials = config.load()
    if credentials is None or credentials.token is None:
        raise HeraldAPIError(
            "UNAUTHORIZED", "not logged in: run `herald-client login` or set HERALD_API_KEY"
        )
    if args.url:
        credentials.url = args.url
    if credentials.needs_refresh and credentials.refresh_token:
        with HeraldClient(credentials.url) as anonymous:
            pair = anonymous.refresh(credentials.refresh_token)
        credentials.access_token = pair.access_token
        credentials.refresh_token = pair.refresh_token
        credentials.access_expires_at = time.time() + pair.expires_in
        config.save(credentials)
    return HeraldClient(credentials.url, credentials.token, workspace_id=credentials.workspace_id)


def _print(args: argparse.Namespace, human: str, machine: str) -> None:
    print(machine if args.json else human)


# Commands


def cmd_login(args: argparse.Namespace) -> int:
    url = args.url or config.DEFAULT_URL
    if args.api_key:
        credentials = config.Credentials(url=url, api_key=args.api_key)
        with HeraldClient(url, args.api_key) as herald:
            herald.list_accounts(limit=1)  # refused here, not at the first real command
    else:
        email = args.email or input("email: ")
        password = sys.stdin.readline().rstrip("\n") if args.password_stdin else getpass.getpass()
        with HeraldClient(url) as anonymous:
            pair = anonymous.login(email, password)
        credentials = config.Credentials(
            url=url,
            access_token=pair.access_token,
            refresh_token=pair.refresh_token,
            access_expires_at=time.time() + pair.expires_in,
            workspace_id=args.workspace,
        )
    path = config.save(credentials)
    _print(
        args, f"logged in to {url} (saved in {path})", as_json({"url": url, "config": str(path)})
    )
    return EXIT_OK


def cmd_logout(args: argparse.Namespace) -> int:
    forgotten = config.forget()
    _print(args, "logged out" if forgotten else "was not logged in", as_json({"forgot": forgotten}))
    return EXIT_OK


def cmd_accounts(args: argparse.Namespace) -> int:
    with _client(args) as herald:
        accounts = list(herald.iter_accounts(platform=args.platform))
    _print(args, accounts_table(accounts), as_json(accounts))
    return EXIT_OK


def _resolve_targets(accounts: Sequence[Account], names: str) -> list[Account]:
    """Each of `names` (comma-separated) as an account: its id, `platform:username`, its
    username, or a platform with exactly one account."""
    chosen: list[Account] = []
    for name in (n.strip() for n in names.split(",") if n.strip()):
        found = [
            a for a in accounts if name in (a.id, a.username, f"{a.platform}:{a.username}")
        ] or [a for a in accounts if a.platform == name]
        if not found:
            raise UsageError(f"no account {name!r} (see `herald-client accounts`)")
        if len(found) > 1:
            choices = ", ".join(f"{a.platform}:{a.username}" for a in found)
            raise UsageError(f"{name!r} names several accounts; choose one of {choices}")
        chosen.append(found[0])
    if not chosen:
        raise UsageError("--to names no account")
    return chosen


def _instant(text: str) -> datetime:
    try:
        at = datetime.fromisoformat(text)
    except ValueError as error:
        raise UsageError(f"--at {text!r}: not an ISO 8601 time ({error})") from error
    if at.tzinfo is None:
        raise UsageError(f"--at {text!r} needs its offset, e.g. 2026-12-24T09:00+01:00")
    return at


def cmd_post(args: argparse.Namespace) -> int:
    files = [Path(f) for f in args.media or ()]
    for file in files:
        if not file.is_file():
            raise UsageError(f"--media {file}: no such file")
    at = _instant(args.at) if args.at else None
    with _client(args) as herald:
        targets = _resolve_targets(list(herald.iter_accounts()), args.to)
        brand_id = targets[0].brand_id
        media_ids = []
        for file in files:
            media = herald.upload_media(file, brand_id=brand_id, progress=ProgressBar(file.name))
            if media.status == "failed":
                raise HeraldAPIError(
                    "VALIDATION_ERROR", f"{file}: {media.failure_reason or 'refused'}"
                )
            media_ids.append(media.id)
        post = herald.create_post(
            args.text,
            [a.id for a in targets],
            brand_id=brand_id,
            media_ids=media_ids,
            scheduled_at=at,
            publish_now=at is None and not args.draft,
            draft=args.draft,
        )
        _print(args, post_summary(post), as_json(post))
        if args.wait:
            return _watch(herald, post.id, args)
    return EXIT_OK


def cmd_posts(args: argparse.Namespace) -> int:
    with _client(args) as herald:
        posts: list[Post] = []
        for post in herald.iter_posts(
            status=args.status, platform=args.platform, page_size=max(1, min(args.limit, 100))
        ):
            posts.append(post)
            if len(posts) >= args.limit:
                break
    _print(args, posts_table(posts), as_json(posts))
    return EXIT_OK


def cmd_show(args: argparse.Namespace) -> int:
    with _client(args) as herald:
        post = herald.get_post(args.id)
    _print(args, post_summary(post), as_json(post))
    return EXIT_OK


def cmd_retry(args: argparse.Namespace) -> int:
    with _client(args) as herald:
        result = herald.retry_post(args.id)
    human = post_summary(result.post) + "".join(
        f"\n  retry {r.target_id}: {r.status}" for r in result.results
    )
    _print(args, human, as_json(result))
    return EXIT_OK


def cmd_cancel(args: argparse.Namespace) -> int:
    with _client(args) as herald:
        post = herald.cancel_post(args.id)
    _print(args, post_summary(post), as_json(post))
    return EXIT_OK


def _watch(herald: HeraldClient, post_id: str, args: argparse.Namespace) -> int:
    shown: dict[str, str] = {}

    def changed(post: Post) -> None:
        if args.json:
            print(as_json(post), flush=True)
            return
        for target in post.targets:
            if shown.get(target.id) != target.status:
                shown[target.id] = target.status
                print(f"{time.strftime('%H:%M:%S')}{target_line(target)}", flush=True)

    try:
        post = herald.wait_for(
            post_id, timeout_s=args.timeout, interval_s=args.interval, on_change=changed
        )
    except TimeoutError as error:
        print(f"herald-client: {error}", file=sys.stderr)
        return EXIT_TIMEOUT
    if not args.json:
        print(f"post {post.id}: {post.status}")
    return EXIT_OK if post.status == "published" else EXIT_NOT_PUBLISHED


def cmd_watch(args: argparse.Namespace) -> int:
    with _client(args) as herald:
        return _watch(herald, args.id, args)


# Arguments


def _parser() -> argparse.ArgumentParser:
    def common(defaults: bool) -> argparse.ArgumentParser:
        """--json and --url, before or after the command (after it, they must not reset
        what was given before it)."""
        options = argparse.ArgumentParser(add_help=False)
        unset: dict[str, Any] = {} if defaults else {"default": argparse.SUPPRESS}
        options.add_argument("--json", action="store_true", help="print JSON for scripts", **unset)
        options.add_argument(
            "--url", help="Herald's API (default: the logged-in one, or HERALD_URL)", **unset
        )
        return options

    parser = argparse.ArgumentParser(
        prog="herald-client",
        description="Herald's posts from a terminal.",
        parents=[common(defaults=True)],
    )
    commands = parser.add_subparsers(dest="command", required=True)

    def command(
        name: str, run: Callable[[argparse.Namespace], int], help_: str
    ) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_, parents=[common(defaults=False)])
        sub.set_defaults(run=run)
        return sub

    login = command("login", cmd_login, "store credentials (an API key, or email and password)")
    login.add_argument("--api-key", help="an API key (hk_...)")
    login.add_argument("--email")
    login.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    login.add_argument("--workspace", help="the workspace a user with several acts in")
    command("logout", cmd_logout, "forget the stored credentials")
    accounts = command("accounts", cmd_accounts, "list connected accounts")
    accounts.add_argument("--platform")
    post = command("post", cmd_post, "publish (or schedule) a post")
    post.add_argument("text")
    post.add_argument(
        "--to", required=True, help="accounts: platforms, usernames, platform:username or ids"
    )
    post.add_argument("--at", help="when, with its offset: 2026-12-24T09:00+01:00 (default: now)")
    post.add_argument("--media", action="append", help="a file to attach (repeatable)")
    post.add_argument("--draft", action="store_true", help="keep it as a draft")
    post.add_argument("--wait", action="store_true", help="then watch it until it is final")
    posts = command("posts", cmd_posts, "list posts, newest first")
    posts.add_argument("--status", help="draft, scheduled, published, failed, partial, ...")
    posts.add_argument("--platform")
    posts.add_argument("--limit", type=int, default=50)
    show = command("show", cmd_show, "one post and its targets")
    show.add_argument("id")
    retry = command("retry", cmd_retry, "publish a post's failed targets again")
    retry.add_argument("id")
    cancel = command("cancel", cmd_cancel, "cancel a scheduled post")
    cancel.add_argument("id")
    for sub in (command("watch", cmd_watch, "follow a post until it is final"), post):
        sub.add_argument("--timeout", type=float, default=600.0, help="seconds (default 600)")
        sub.add_argument("--interval", type=float, default=1.0, help="seconds between polls")
    watch = commands.choices["watch"]
    watch.add_argument("id")
    return parser


def _exit_code(error: HeraldAPIError) -> int:
    if error.code == CONNECTION_ERROR or (error.status or 0) >= 500 or error.status == 429:
        return EXIT_UNAVAILABLE
    if error.status in (401, 403) or error.code == "UNAUTHORIZED":
        return EXIT_AUTH
    return EXIT_REFUSED


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        code: int = args.run(args)
        return code
    except UsageError as error:
        print(f"herald-client: {error}", file=sys.stderr)
        return EXIT_USAGE
    except HeraldAPIError as error:
        print(f"herald-client: {error}", file=sys.stderr)
        for detail in error.details:
            print(f"  {detail.path}: {detail.message}", file=sys.stderr)
        return _exit_code(error)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
