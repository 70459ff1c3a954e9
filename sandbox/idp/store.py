"""In-memory, thread-safe state of the sandbox identity provider.

Holds the authorization codes, access tokens and refresh tokens issued by this
process. The provider is served by a threaded server and hammered by parallel
test workers, so every access goes through one lock. Nothing is persisted: a
restart forgets every grant, like the signing keys in ``keys.py``.
"""

from __future__ import annotations

import threading
import time

from .models import AccessToken, AuthorizationCode, RefreshToken


class Store:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._codes: dict[str, AuthorizationCode] = {}
        self._access_tokens: dict[str, AccessToken] = {}
        self._refresh_tokens: dict[str, RefreshToken] = {}
        self._next_prune = 0.0

    # -- authorization codes -------------------------------------------------

    def add_code(self, code: AuthorizationCode) -> None:
        with self._lock:
            self._codes[code.code] = code

    def get_code(self, code: str, client_id: str) -> AuthorizationCode | None:
        """The live code issued to ``client_id``; expired codes are dropped on the way."""
        with self._lock:
            item = self._codes.get(code)
            if item is None:
                return None
            if item.is_expired():
                del self._codes[code]
                return None
            return item if item.client_id == client_id else None

    def delete_code(self, code: str) -> None:
        with self._lock:
            self._codes.pop(code, None)

    def nonce_used(self, client_id: str, nonce: str) -> bool:
        """Whether a pending code of this client already carries ``nonce`` (replay check)."""
        with self._lock:
            return any(
                c.client_id == client_id and c.nonce == nonce for c in self._codes.values()
            )

    # -- access tokens ---------------------------------------------------------

    def add_access_token(self, token: AccessToken) -> None:
        with self._lock:
            self._prune_access_tokens()
            self._access_tokens[token.value] = token

    def get_access_token(self, value: str) -> AccessToken | None:
        # Keyed by the exact token string: a token is known iff this process issued it.
        with self._lock:
            return self._access_tokens.get(value)

    def _prune_access_tokens(self) -> None:
        # Keep memory bounded for long `make run` sessions. Runs at most once a
        # minute so that issuing stays O(1) under load; tokens expired for less
        # than an hour are kept (they are rejected as expired either way).
        now = time.time()
        if now < self._next_prune:
            return
        self._next_prune = now + 60
        cutoff = now - 3600
        expired = [v for v, t in self._access_tokens.items() if t.expires_at < cutoff]
        for value in expired:
            del self._access_tokens[value]

    # -- refresh tokens --------------------------------------------------------

    def add_refresh_token(self, token: RefreshToken) -> None:
        with self._lock:
            self._refresh_tokens[token.value] = token

    def get_refresh_token(self, value: str) -> RefreshToken | None:
        with self._lock:
            token = self._refresh_tokens.get(value)
            return None if token is None or token.revoked else token

    def revoke_refresh_token(self, value: str) -> bool:
        """Revoke a refresh token; False if it was already revoked (a concurrent reuse)."""
        with self._lock:
            token = self._refresh_tokens.get(value)
            if token is None or token.revoked:
                return False
            token.revoked = True
            return True
