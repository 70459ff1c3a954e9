"""Access tokens for the API: a plain bearer token, or one exchanged from a MyToken and cached."""

from __future__ import annotations

import base64
import json
import threading
import time
from typing import Protocol

import requests

from ._exceptions import AuthenticationError, ConfigurationError, TransportError

__all__ = ["MyTokenAuth", "StaticToken", "TokenSource", "jwt_expiry"]

#: Exchange again this long before the token expires, so it does not expire in flight.
EXPIRY_MARGIN = 60.0
#: A token whose lifetime is unknown (opaque, no expires_in) is reused for this long.
UNKNOWN_LIFETIME = 300.0


class TokenSource(Protocol):
    def token(self) -> str: ...

    def invalidate(self, token: str) -> bool:
        """Forget ``token`` after the API refused it; True when a new one can be obtained."""
        ...


class StaticToken:
    """A fixed access token (DRIFT_MONITOR_TOKEN); it cannot be renewed."""

    def __init__(self, access_token: str):
        self._token = access_token

    def token(self) -> str:
        return self._token

    def invalidate(self, token: str) -> bool:
        return False


def jwt_expiry(token: str) -> float | None:
    """The ``exp`` claim of a JWT, read without checking the signature; None for opaque tokens."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        payload = parts[1] + "=" * (-len(parts[1]) % 4)
        exp = json.loads(base64.urlsafe_b64decode(payload)).get("exp")
    except (ValueError, TypeError, AttributeError):
        return None
    return float(exp) if isinstance(exp, (int, float)) and not isinstance(exp, bool) else None


class MyTokenAuth:
    """Exchanges a MyToken for access tokens at a MyToken server, caching each until shortly before expiry.

    The server's ``access_token_endpoint`` is discovered lazily from
    ``{server}/.well-known/mytoken-configuration``. Safe to share between threads.
    """

    def __init__(self, mytoken: str, server: str, session: requests.Session,
                 timeout: tuple[float, float], verify: bool | str = True):
        self._mytoken = mytoken
        self._server = server.rstrip("/")
        self._session = session
        self._timeout = timeout
        self._verify = verify
        self._lock = threading.Lock()
        self._endpoint: str | None = None
        self._token: str | None = None
        self._renew_at = 0.0

    def token(self) -> str:
        with self._lock:
            if self._token is None or time.time() >= self._renew_at:
                self._token, self._renew_at = self._exchange()
            return self._token

    def invalidate(self, token: str) -> bool:
        with self._lock:
            if self._token == token:
                self._token = None
        return True

    # -------------------------------------------------------------------------------

    def _post_or_get(self, method: str, url: str, **kwargs) -> requests.Response:
        try:
            return self._session.request(method, url, timeout=self._timeout, verify=self._verify, **kwargs)
        except requests.RequestException as error:
            raise TransportError(f"cannot reach the MyToken server at {self._server} (DRIFT_MONITOR_MYTOKEN_SERVER): {error}") from error

    def _access_token_endpoint(self) -> str:
        if self._endpoint is None:
            url = f"{self._server}/.well-known/mytoken-configuration"
            response = self._post_or_get("GET", url)
            if response.status_code != 200:
                raise ConfigurationError(
                    f"the MyToken server {self._server} (DRIFT_MONITOR_MYTOKEN_SERVER) does not look like a MyToken server: "
                    f"GET {url} answered {response.status_code}"
                )
            try:
                self._endpoint = response.json()["access_token_endpoint"]
            except (ValueError, KeyError, TypeError):
                raise ConfigurationError(f"{url} has no access_token_endpoint (check DRIFT_MONITOR_MYTOKEN_SERVER)") from None
        return self._endpoint

    def _exchange(self) -> tuple[str, float]:
        endpoint = self._access_token_endpoint()
        response = self._post_or_get("POST", endpoint, json={"grant_type": "mytoken", "mytoken": self._mytoken})
        if response.status_code >= 500:
            raise TransportError(f"the MyToken server answered {response.status_code} to the token exchange")
        try:
            body = response.json()
        except ValueError:
            body = {}
        if response.status_code != 200 or not body.get("access_token"):
            reason = body.get("error_description") or body.get("error") or response.text[:200]
            raise AuthenticationError(
                response.status_code,
                f"the MyToken server refused DRIFT_MONITOR_MYTOKEN ({reason}); create a new MyToken",
                method="POST", url=endpoint,
            )
        access_token = body["access_token"]
        now = time.time()
        expires_at = jwt_expiry(access_token)
        if expires_at is None and isinstance(body.get("expires_in"), (int, float)):
            expires_at = now + float(body["expires_in"])
        if expires_at is None:
            return access_token, now + UNKNOWN_LIFETIME
        lifetime = expires_at - now
        margin = min(EXPIRY_MARGIN, max(lifetime, 0) / 10)
        return access_token, expires_at - margin
