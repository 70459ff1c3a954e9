"""Credentials out of everything the detector shows or stores: URLs, storage options, plug-in options.

Runs, ``configuration.yaml``, the index, ``detector show`` and log lines are read by people (and
services) who must not learn the data source's password, a presigned URL's signature or an S3
secret key. The detector reads data with the raw values and only ever writes these masked forms.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

__all__ = ["MASK", "is_secret_key", "mask_secrets", "mask_url", "scrub", "without_masked"]

MASK = "***"

# Matched against the key lowercased, without "-", "_" and ".": X-Amz-Signature, X-Amz-Credential,
# X-Amz-Security-Token, X-Goog-Signature, Azure SAS "sig", access_token, api_key, password, s3fs'
# key/secret/token, aws_secret_access_key, authMechanismProperties (may carry AWS_SESSION_TOKEN), ...
_SECRET_WORDS = re.compile(r"pass|pwd|secret|token|signature|credential|apikey|accesskey|privatekey|auth|cookie|"
                           r"session")
_SECRET_NAMES = {"key", "sig", "sas", "code"}
#: Credential-looking names that are not credentials and that a stored URL needs to work.
_NOT_SECRET = {"authsource", "authmechanism"}


def is_secret_key(name: Any) -> bool:
    """Whether a query parameter or option named ``name`` holds a credential."""
    normalized = re.sub(r"[-_.\s]", "", str(name)).lower()
    if normalized in _NOT_SECRET:
        return False
    return normalized in _SECRET_NAMES or normalized.endswith("key") or bool(_SECRET_WORDS.search(normalized))


def _mask_pairs(text: str) -> str:
    """``a=1&token=x`` → ``a=1&token=***``, keeping everything else byte for byte."""
    pairs = []
    for pair in text.split("&"):
        name, separator, value = pair.partition("=")
        if separator and value and is_secret_key(unquote(name)):
            pair = f"{name}={MASK}"
        pairs.append(pair)
    return "&".join(pairs)


def mask_url(url: str) -> str:
    """``url`` without its userinfo (``user:pass@`` → ``***@``) and with the values of credential-like
    query (and fragment) parameters replaced by ``***``. Paths without a scheme come back unchanged."""
    text = str(url)
    if "://" not in text:
        return text
    try:
        parts = urlsplit(text)
    except ValueError:  # e.g. a broken IPv6 host: still never show what precedes the "@"
        return re.sub(r"//[^/?#]*@", f"//{MASK}@", text)
    netloc = parts.netloc
    if "@" in netloc:
        netloc = f"{MASK}@{netloc.rpartition('@')[2]}"
    return urlunsplit(parts._replace(netloc=netloc, query=_mask_pairs(parts.query),
                                     fragment=_mask_pairs(parts.fragment)))


def mask_secrets(value: Any) -> Any:
    """A copy of ``value`` with the values of credential-like keys replaced by ``***`` and every URL
    in it masked, at any depth (storage options, source options, plug-in options)."""
    if isinstance(value, Mapping):
        return {key: (MASK if is_secret_key(key) and item not in (None, "", {}, [])
                      else mask_secrets(item)) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [mask_secrets(item) for item in value]
    if isinstance(value, str):
        return mask_url(value)
    return value


def without_masked(value: Any) -> Any:
    """A copy of ``value`` without the entries that ``mask_secrets`` replaced by ``***``.

    A stored configuration is the lowest layer of a run's settings: a masked entry must leave the
    setting unset (so the file or the environment supplies it, or the error says it is missing)
    rather than send ``***`` as a password.
    """
    if isinstance(value, Mapping):
        return {key: without_masked(item) for key, item in value.items() if item != MASK}
    if isinstance(value, list):
        return [without_masked(item) for item in value]
    return value


def scrub(text: str, *urls: str | None) -> str:
    """``text`` (e.g. an error message quoting a URL) with each raw URL replaced by its masked form."""
    for url in urls:
        if url and url in text:
            text = text.replace(url, mask_url(url))
    return text
