"""`ssmd markets get|search|links|link`: the secmaster's lookup API from the command line.

The secmaster's URL comes from ``--url``, else ``SSMD_SECMASTER_URL``, else the
``secmaster.url`` of ``<data-dir>/endpoints.json`` that `ssmd up` writes. Answers are
printed as JSON (one document), or for ``search`` as one line per market with ``--table``.
HTTP errors print the API's reason and exit 1; a secmaster that cannot be reached exits 2.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any, Final, TextIO

ENV_URL: Final = "SSMD_SECMASTER_URL"
TIMEOUT_S: Final = 30.0


class CliError(Exception):
    """A problem to print; `code` is the exit status."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    markets = commands.add_parser(
        "markets",
        help="look up markets in the secmaster (get, search, links, link)",
        description="Query the secmaster's lookup API (URL from --url, SSMD_SECMASTER_URL or "
        "<data-dir>/endpoints.json).",
    )
    markets.add_argument("--url", help="secmaster base URL, e.g. http://127.0.0.1:8930")
    markets.add_argument(
        "--data-dir", type=Path, default=Path(".ssmd"), help="where `ssmd up` keeps endpoints.json"
    )
    actions = markets.add_subparsers(dest="action", required=True)
    get = actions.add_parser("get", help="one market by id (venue:symbol, or a token id)")
    get.add_argument("market")
    search = actions.add_parser("search", help="markets by venue, series, status and text")
    search.add_argument("--venue")
    search.add_argument("--series")
    search.add_argument("--status")
    search.add_argument("-q", "--query", dest="q", help="full-text search of titles and symbols")
    search.add_argument("--limit", type=int, default=20)
    search.add_argument("--cursor", help="the cursor of the previous page")
    search.add_argument("--table", action="store_true", help="one line per market")
    links = actions.add_parser("links", help="cross-venue links of a market")
    links.add_argument("market")
    link = actions.add_parser("link", help="create or change the link between two markets")
    link.add_argument("left")
    link.add_argument("right")
    link.add_argument("--state", choices=("accepted", "rejected", "proposed"), default="accepted")
    link.add_argument("--note")


def base_url(args: argparse.Namespace) -> str:
    """The secmaster's URL (http or https only); see module doc for where it comes from."""
    if args.url:
        url = str(args.url)
    elif os.environ.get(ENV_URL):
        url = os.environ[ENV_URL]
    else:
        path = Path(args.data_dir) / "endpoints.json"
        try:
            url = str(json.loads(path.read_text())["secmaster"]["url"])
        except (OSError, ValueError, KeyError, TypeError):
            raise CliError(
                f"no secmaster URL: pass --url, set {ENV_URL}, or run `ssmd up` (it writes {path})",
                2,
            ) from None
    if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        raise CliError(f"the secmaster URL must be http:// or https://, got {url!r}", 2)
    return url.rstrip("/")


def _call(url: str, *, body: object | None = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(  # noqa: S310 - base_url allows http(s) only
        url,
        data=data,
        method="GET" if body is None else "POST",
        headers={"Content-Type": "application/json"} if body is not None else {},
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as answer:  # noqa: S310
            return json.loads(answer.read())
    except urllib.error.HTTPError as error:
        text = error.read().decode(errors="replace")
        try:
            reason = json.loads(text).get("detail", text)
        except (ValueError, AttributeError):
            reason = text
        raise CliError(f"HTTP {error.code}: {reason}", 1) from None
    except (urllib.error.URLError, OSError) as error:
        raise CliError(f"cannot reach the secmaster at {url}: {error}", 2) from None


def run(args: argparse.Namespace, out: TextIO = sys.stdout) -> int:
    """Run one `ssmd markets` action; the exit status."""
    try:
        base = base_url(args)
        answer = _dispatch(base, args)
    except CliError as error:
        sys.stderr.write(f"ssmd markets: {error}\n")
        return error.code
    if args.action == "search" and args.table:
        for market in answer.get("markets", []):
            out.write(
                f"{market.get('market', ''):<60} {market.get('status', ''):<10} "
                f"{(market.get('title') or '')[:70]}\n"
            )
        if answer.get("next_cursor"):
            out.write(f"(more: --cursor {answer['next_cursor']})\n")
    else:
        out.write(json.dumps(answer, indent=2, sort_keys=True) + "\n")
    return 0


def _dispatch(base: str, args: argparse.Namespace) -> Any:
    quote = urllib.parse.quote
    if args.action == "get":
        return _call(f"{base}/v1/markets/{quote(args.market, safe='')}")
    if args.action == "links":
        return _call(f"{base}/v1/markets/{quote(args.market, safe='')}/links")
    if args.action == "link":
        body = {"left": args.left, "right": args.right, "state": args.state}
        if args.note:
            body["note"] = args.note
        return _call(f"{base}/v1/links", body=body)
    params = {
        key: value
        for key, value in (
            ("venue", args.venue),
            ("series", args.series),
            ("status", args.status),
            ("q", args.q),
            ("limit", str(args.limit)),
            ("cursor", args.cursor),
        )
        if value
    }
    return _call(f"{base}/v1/markets?{urllib.parse.urlencode(params)}")
