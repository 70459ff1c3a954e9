"""Signing keys of the sandbox identity provider.

Keys live only in memory: every start of the provider gets fresh RSA keys, so
tokens never outlive the process that issued them. Rotation keeps the retired
keys published in the JWKS, the way a real IdP overlaps keys, so tests can check
that a relying party accepts old tokens and refetches the JWKS on an unknown ``kid``.
"""

from __future__ import annotations

import threading

from joserfc.jwk import KeySet, RSAKey

SIGNING_ALG = "RS256"
KEY_SIZE = 2048


def _generate_key() -> RSAKey:
    # auto_kid derives the kid from the RFC 7638 thumbprint: unique and stable per key.
    return RSAKey.generate_key(
        KEY_SIZE, parameters={"use": "sig", "alg": SIGNING_ALG}, auto_kid=True
    )


class KeyRing:
    """The current signing key plus every key retired by rotation (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._keys: list[RSAKey] = [_generate_key()]

    @property
    def current(self) -> RSAKey:
        with self._lock:
            return self._keys[-1]

    def signing_keys(self) -> KeySet:
        """A key set holding only the current key.

        Handing joserfc a key set (rather than the bare key) makes it write the
        key's ``kid`` into the JWS header, which relying parties need for key lookup.
        """
        return KeySet([self.current])

    def rotate(self) -> str:
        """Make a new key current, keep the old ones for verification; return the new kid."""
        key = _generate_key()  # outside the lock: generation takes tens of milliseconds
        with self._lock:
            self._keys.append(key)
        return key.kid

    def public_jwks(self) -> dict:
        """The JWKS document: public parts of all keys, newest first."""
        with self._lock:
            keys = list(reversed(self._keys))
        return {"keys": [key.as_dict(private=False) for key in keys]}
