"""Command line entry point: ``python -m sandbox.idp --host 127.0.0.1 --port 5001``.

Serves the provider with werkzeug's threaded server (parallel test workers hit
it at once), prints ``sandbox identity provider ready at {issuer}`` once the
socket is bound, and stops cleanly on SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path

from werkzeug.serving import make_server

from .app import IdpConfig, create_app
from .models import DEFAULT_USERS_FILE


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m sandbox.idp",
        description="Sandbox OIDC identity provider (development and tests only).",
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="interface to bind (default %(default)s)"
    )
    parser.add_argument(
        "--port", type=int, default=5001,
        help="port to bind; 0 picks a free one, announced in the ready line (default %(default)s)",
    )
    parser.add_argument(
        "--issuer",
        help="issuer URL, when clients reach the provider under another name "
        "(default http://HOST:PORT)",
    )
    parser.add_argument(
        "--users", type=Path, default=DEFAULT_USERS_FILE,
        help="users and clients file (default sandbox/users.json)",
    )
    parser.add_argument(
        "--access-token-lifetime", type=int, default=3600, metavar="SECONDS",
        help="lifetime of access tokens (default %(default)s)",
    )
    parser.add_argument(
        "--redirect-uri", action="append", default=[], type=_client_redirect_uri,
        metavar="CLIENT_ID=URI",
        help="also accept URI as a redirect URI of that client (repeatable), e.g. "
        "drift-monitor-dashboard=http://127.0.0.1:8601/oauth2callback",
    )
    return parser.parse_args(argv)


def _client_redirect_uri(value: str) -> tuple[str, str]:
    client_id, separator, uri = value.partition("=")
    if not separator or not client_id or not uri.startswith(("http://", "https://")):
        raise argparse.ArgumentTypeError(f"expected CLIENT_ID=http(s)://..., got {value!r}")
    return client_id, uri


def _by_client(pairs: list[tuple[str, str]]) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = {}
    for client_id, uri in pairs:
        grouped.setdefault(client_id, []).append(uri)
    return grouped


def _default_issuer(host: str, port: int) -> str:
    # An IPv6 literal needs brackets inside a URL.
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{port}"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # Bind first: with --port 0 the issuer (which embeds the port) is only known
    # after binding, and the app needs the issuer. The app is attached below.
    server = make_server(args.host, args.port, app=None, threaded=True)
    issuer = (args.issuer or _default_issuer(args.host, server.server_port)).rstrip("/")
    server.app = create_app(
        IdpConfig(
            issuer=issuer,
            users_file=args.users,
            access_token_lifetime=args.access_token_lifetime,
            extra_redirect_uris=_by_client(args.redirect_uri),
        )
    )

    def stop(signum, frame):
        # shutdown() waits for serve_forever() to return, and serve_forever runs
        # on this (the main) thread: ask from another thread to avoid a deadlock.
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    print(f"sandbox identity provider ready at {issuer}", flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
