"""Which failed requests the client sends again: the retry policy, as data urllib3 applies.

A request is *safe to repeat* when sending it twice stores nothing twice: the idempotent methods,
the searches (a POST that only reads) and a drift run created with a client-chosen id (the server
answers a repeat with the stored run). Everything else may have been done by a server that then
answered 5xx, or dropped the connection, so it is sent once and the error is reported.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from urllib3.util import Retry

__all__ = ["IDEMPOTENT_METHODS", "IdempotentRetry", "is_safe_to_repeat", "safe_to_repeat"]

#: Methods that mean the same whether sent once or twice (RFC 9110, 9.2.2).
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})

#: POSTs that only read: experiment and drift-run searches.
_SEARCH_PATH = re.compile(r"/search$")
#: Creating a drift run: repeatable when the body carries the run's id.
_CREATE_DRIFT_PATH = re.compile(r"^/experiment/[^/]+/drift$")


def is_safe_to_repeat(method: str, path: str, body: Any = None) -> bool:
    """Whether sending the API request (``path`` below /api/<version>) twice has the effect of sending it once."""
    method = method.upper()
    if method in IDEMPOTENT_METHODS:
        return True
    if method != "POST":
        return False
    path = path.split("?", 1)[0].rstrip("/")
    if _SEARCH_PATH.search(path):
        return True
    return bool(_CREATE_DRIFT_PATH.match(path) and isinstance(body, Mapping) and body.get("id"))


# urllib3 decides on a retry from the method and the answer only, and requests hands its adapter
# one Retry for every request; what the request is (a search, a create with an id) is known to
# Client.request. It says so here, for the thread (and task) that sends the request.
_safe_to_repeat: ContextVar[bool | None] = ContextVar("drift_monitor_safe_to_repeat", default=None)


@contextmanager
def safe_to_repeat(safe: bool) -> Iterator[None]:
    """Within the block, requests sent by this thread are (or are not) safe to repeat, whatever their method."""
    token = _safe_to_repeat.set(bool(safe))
    try:
        yield
    finally:
        _safe_to_repeat.reset(token)


class IdempotentRetry(Retry):
    """A ``urllib3`` ``Retry`` that sends a request again after a 5xx or a dropped connection only
    when the request is safe to repeat (see ``is_safe_to_repeat``; outside ``Client.request``: the
    idempotent methods of ``allowed_methods``).

    Retried for every request: connection errors (the request was never sent) and the statuses of
    ``ANY_REQUEST_STATUSES`` (429: the server refused to do the work; its Retry-After is honoured).
    Read errors (a timeout or a connection dropped after sending) count against ``read``, and only
    for requests safe to repeat.
    """

    #: Answers that say the server did not do the work, so any request may be sent again.
    ANY_REQUEST_STATUSES = frozenset({429})

    def __init__(self, *args: Any, **kwargs: Any):
        kwargs.setdefault("allowed_methods", IDEMPOTENT_METHODS)
        super().__init__(*args, **kwargs)

    def _is_method_retryable(self, method: str) -> bool:
        # urllib3's one hook for "may this request be sent again", asked both for error answers
        # (is_retry) and for dropped connections (increment).
        declared = _safe_to_repeat.get()
        if declared is not None:
            return declared
        return super()._is_method_retryable(method)

    def is_retry(self, method: str, status_code: int, has_retry_after: bool = False) -> bool:
        if status_code in self.ANY_REQUEST_STATUSES:
            if self.status_forcelist and status_code in self.status_forcelist:
                return True
            return bool(self.total and self.respect_retry_after_header and has_retry_after)
        return super().is_retry(method, status_code, has_retry_after)
