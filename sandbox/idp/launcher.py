"""Start the sandbox identity provider from Python and talk to it (tests, ``make run``).

``start_idp()`` runs ``python -m sandbox.idp`` as a child process on a free port
and yields a ``SandboxIdp``, a thin HTTP client for the provider's token
helpers. Only the standard library and ``requests`` are used here, so importing
the launcher does not load Flask or Authlib into the caller.

    with start_idp() as idp:
        token = idp.token("some-sub", entitlements=["urn:example:drift-monitor:users"])
        alice = idp.user_token("alice")
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path

import requests

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

    def _post_json(self, path: str, body: dict) -> dict:
        response = requests.post(self.issuer + path, json=body, timeout=REQUEST_TIMEOUT)
        if response.status_code != 200:
            raise SandboxIdpError(
                f"POST {path} answered {response.status_code}: {response.text.strip()}"
            )
        return response.json()


@contextmanager
def start_idp(
    host: str = "127.0.0.1",
    port: int | None = None,
    *,
    users_file: str | Path = DEFAULT_USERS_FILE,
    timeout: float = 20.0,
) -> Iterator[SandboxIdp]:
    """Run the provider in a child process for the duration of the ``with`` block.

    With ``port=None`` the provider binds port 0 and announces the port it got,
    which avoids the race of probing for a free port while other test workers
    start their own providers.
    """
    # Output goes to a file, not a pipe: nobody drains a pipe during the tests,
    # and a full pipe would block the provider's request logging.
    log = tempfile.NamedTemporaryFile(prefix="sandbox-idp-", suffix=".log", delete=False)
    log_path = Path(log.name)
    command = [
        sys.executable, "-m", "sandbox.idp",
        "--host", host,
        "--port", str(0 if port is None else port),
        "--users", str(users_file),
    ]
    process = subprocess.Popen(
        command, cwd=REPO_ROOT, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT
    )
    try:
        issuer = _wait_until_ready(process, log_path, timeout)
        yield SandboxIdp(issuer, users_file=users_file)
    finally:
        _stop(process)
        log.close()
        log_path.unlink(missing_ok=True)


def _wait_until_ready(process: subprocess.Popen, log_path: Path, timeout: float) -> str:
    """Wait for the ready line, then for discovery to answer; return the issuer."""
    deadline = time.monotonic() + timeout
    issuer = None
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SandboxIdpError(
                f"the sandbox identity provider exited with code {process.returncode}:\n"
                + log_path.read_text(errors="replace")
            )
        if issuer is None:
            match = _READY_LINE.search(log_path.read_text(errors="replace"))
            issuer = match.group(1) if match else None
        if issuer is not None:
            try:
                response = requests.get(
                    f"{issuer}/.well-known/openid-configuration", timeout=1.0
                )
                if response.status_code == 200:
                    return issuer
            except requests.RequestException:
                pass  # not accepting connections yet
        time.sleep(0.05)
    _stop(process)
    raise SandboxIdpError(
        f"the sandbox identity provider did not answer within {timeout:g} s:\n"
        + log_path.read_text(errors="replace")
    )


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


__all__ = ["SandboxIdp", "SandboxIdpError", "start_idp", "DEFAULT_USERS_FILE", "REPO_ROOT"]
