"""Start the sandbox identity provider from Python and talk to it (tests, ``make run``).

``start_idp()`` runs ``python -m sandbox.idp`` as a child process on a free port
(an ``IdpServer``) and yields a ``SandboxIdp``, a thin HTTP client for the
provider's token helpers. Only the standard library and ``requests`` are used
here, so importing the launcher does not load Flask or Authlib into the caller.

    with start_idp() as idp:
        token = idp.token("some-sub", entitlements=["urn:example:drift-monitor:users"])
        alice = idp.user_token("alice")
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path

import requests

from ..processes import ServerProcess, ServerStartError, http_ok

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_USERS_FILE = REPO_ROOT / "sandbox" / "users.json"

#: Seconds any single HTTP request to the provider may take.
REQUEST_TIMEOUT = 10.0

_READY_LINE = re.compile(r"sandbox identity provider ready at (\S+)")


class SandboxIdpError(RuntimeError):
    """The provider could not be started, or answered a helper call with an error."""


class SandboxIdp:
    """Client for a running sandbox identity provider at ``issuer``.

    Stateless apart from the parsed users file, so one instance can be shared
    by threads and tests.
    """

    def __init__(self, issuer: str, users_file: str | Path = DEFAULT_USERS_FILE) -> None:
        self.issuer = issuer.rstrip("/")
        self.users_file = Path(users_file)

    def __repr__(self) -> str:
        return f"SandboxIdp({self.issuer!r})"

    @property
    def discovery_url(self) -> str:
        return f"{self.issuer}/.well-known/openid-configuration"

    @property
    def jwks_uri(self) -> str:
        return f"{self.issuer}/jwks"

    @cached_property
    def users(self) -> dict[str, dict]:
        """The sandbox users of users.json, keyed by username."""
        data = json.loads(self.users_file.read_text(encoding="utf-8"))
        return {user["username"]: user for user in data["users"]}

    def mytoken(self, username: str) -> str:
        """The sandbox mytoken of ``username`` (read from users.json, no request)."""
        try:
            return self.users[username]["mytoken"]
        except KeyError:
            raise SandboxIdpError(f"no sandbox user named {username!r}") from None

    def token(
        self,
        sub: str,
        email: str | None = None,
        entitlements: Sequence[str] = (),
        expires_in: int = 3600,
        opaque: bool = False,
        **extra,
    ) -> str:
        """Mint an access token through ``POST /sandbox/token``.

        ``extra`` is passed through: ``name``, ``preferred_username``,
        ``not_before_in``, ``audience``, ``scope``, ``client_id``.
        A negative ``expires_in`` yields an already expired token.
        """
        body = {
            "sub": sub,
            "entitlements": list(entitlements),
            "expires_in": expires_in,
            "opaque": opaque,
            **extra,
        }
        if email is not None:
            body["email"] = email
        return self._post_json("/sandbox/token", body)["access_token"]

    def user_token(self, username: str) -> str:
        """An access token for a users.json user, via the MyToken exchange (as the client does)."""
        body = {"grant_type": "mytoken", "mytoken": self.mytoken(username)}
        return self._post_json("/api/v0/token/access", body)["access_token"]

    def rotate_keys(self) -> str:
        """Make a new signing key current (old keys stay in the JWKS); return its kid."""
        return self._post_json("/sandbox/rotate-keys", {})["kid"]

    def requests_received(self, path: str | None = None) -> dict[str, int] | int:
        """Requests the provider received so far: a count per path, or the count of one ``path``.

        Paths are relative to the host (``/userinfo``, ``/jwks``); this call counts itself.
        """
        response = requests.get(self.issuer + "/sandbox/requests", timeout=REQUEST_TIMEOUT)
        if response.status_code != 200:
            raise SandboxIdpError(f"GET /sandbox/requests answered {response.status_code}")
        counts = response.json()
        return counts if path is None else counts.get(path, 0)

    def _post_json(self, path: str, body: dict) -> dict:
        response = requests.post(self.issuer + path, json=body, timeout=REQUEST_TIMEOUT)
        if response.status_code != 200:
            raise SandboxIdpError(
                f"POST {path} answered {response.status_code}: {response.text.strip()}"
            )
        return response.json()


class IdpServer:
    """The provider (``python -m sandbox.idp``) as a child process.

    With ``port=None`` the provider binds port 0 and announces the port it got in
    its ready line, which avoids the race of probing for a free port while other
    test workers start their own providers. ``log_path=None`` logs to a temporary
    file, deleted by ``stop()``. ``redirect_uris`` maps a client_id to redirect URIs
    accepted on top of the users file's (``--redirect-uri``), e.g. for a dashboard
    on a port chosen at start-up.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int | None = None,
        *,
        users_file: str | Path = DEFAULT_USERS_FILE,
        log_path: str | Path | None = None,
        redirect_uris: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.users_file = Path(users_file)
        self.redirect_uris = {client: list(uris) for client, uris in (redirect_uris or {}).items()}
        self.log_path = Path(log_path) if log_path else None
        #: The provider's process while started, else None.
        self.process: ServerProcess | None = None
        #: The issuer URL announced by the provider, once started.
        self.issuer: str | None = None

    @property
    def client(self) -> SandboxIdp:
        if self.issuer is None:
            raise SandboxIdpError("the sandbox identity provider is not started")
        return SandboxIdp(self.issuer, users_file=self.users_file)

    def start(self, timeout: float = 20.0) -> IdpServer:
        """Start the provider and wait for its ready line, then for discovery to answer."""
        self.issuer = None
        self.process = ServerProcess(
            [
                sys.executable, "-m", "sandbox.idp",
                "--host", self.host,
                "--port", str(0 if self.port is None else self.port),
                "--users", str(self.users_file),
                *(f"--redirect-uri={client}={uri}"
                  for client, uris in self.redirect_uris.items() for uri in uris),
            ],
            self.log_path, name="the sandbox identity provider", cwd=REPO_ROOT,
        )
        description = "announce its port and answer" if self.port is None else f"answer on port {self.port}"
        try:
            self.process.wait_until(self._ready, timeout, description)
        except ServerStartError as error:
            self.stop()
            raise SandboxIdpError(str(error)) from error
        except BaseException:  # including Ctrl-C: leave no provider behind
            self.stop()
            raise
        return self

    def _ready(self) -> bool:
        if self.issuer is None:
            # The ready line carries the issuer, with the port actually bound.
            match = _READY_LINE.search(self.process.output())
            if match is None:
                return False
            self.issuer = match.group(1).rstrip("/")
        return http_ok(f"{self.issuer}/.well-known/openid-configuration")

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()
            self.process = None


@contextmanager
def start_idp(
    host: str = "127.0.0.1",
    port: int | None = None,
    *,
    users_file: str | Path = DEFAULT_USERS_FILE,
    timeout: float = 20.0,
    redirect_uris: Mapping[str, Sequence[str]] | None = None,
) -> Iterator[SandboxIdp]:
    """Run the provider in a child process for the duration of the ``with`` block.

    With ``port=None`` the provider binds port 0 and announces the port it got
    (see ``IdpServer``, also for ``redirect_uris``). Raises ``SandboxIdpError``
    when it does not start.
    """
    server = IdpServer(host, port, users_file=users_file, redirect_uris=redirect_uris).start(timeout)
    try:
        yield server.client
    finally:
        server.stop()


__all__ = ["IdpServer", "SandboxIdp", "SandboxIdpError", "start_idp", "DEFAULT_USERS_FILE", "REPO_ROOT"]
