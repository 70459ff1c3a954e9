"""The data layer: the only code that builds MongoDB queries; one repository per collection.

A repository writes only its own collection and asks the other repositories for the rest. Its methods
take plain values (a compiled filter, a `Page`, an `identity.Caller`), not the request; of Flask only
`from_app` and the query time limit read the app. It imports no extensions, permissions or resources
(tests/backend/test_architecture.py checks it).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

import flask
from pymongo.collection import Collection
from pymongo.database import Database

from ..errors import InvalidInput

#: Deepest offset a page may start at. Skipping walks every skipped document on the server, so a
#: far page costs as much as reading all before it; past this, a narrower filter is the answer.
MAX_SKIP = 1_000_000


def current_db() -> Database:
    return flask.current_app.extensions["mongo"].db


def max_time_ms() -> int | None:
    """The server-side time limit (maxTimeMS) of a query made for a request; None outside requests.

    Passed to every query that may scan (searches, counts, aggregations), so the database stops it
    and answers ExecutionTimeout, translated to 503 in extensions/smorest.py. Per query, not one
    deadline per request (pymongo.timeout): under that, server selection waits for the whole budget,
    so an unreachable database would take APP_DB_MAX_TIME_MS instead of APP_DATABASE_TIMEOUT_MS to
    answer 503. Start-up work (indexes, migrations, rebuilding summaries) is not limited by it.
    """
    if not flask.has_request_context():
        return None
    return flask.current_app.extensions["settings"].db_max_time_ms or None


def max_time_option() -> dict:
    """`max_time_ms()` as keyword arguments of aggregate() and count_documents()."""
    limit = max_time_ms()
    return {"maxTimeMS": limit} if limit else {}


def utc_now() -> datetime:
    """Now, truncated to the millisecond BSON dates keep, so a response equals a later read."""
    now = datetime.now(timezone.utc)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


@dataclass(frozen=True)
class Page:
    """One page of a search: which documents, in which order."""

    filter: dict
    sort: list[tuple[str, int]]
    page: int
    page_size: int


def find_page(collection: Collection, page: Page) -> tuple[list[dict], int]:
    """The documents of one page and the total number matching the filter."""
    # `_id` last in the sort keeps pages stable when sort values tie.
    sort = [*page.sort, ("_id", page.sort[-1][1] if page.sort else 1)]
    skip = (page.page - 1) * page.page_size
    if skip > MAX_SKIP:
        # The server would walk every skipped document (and beyond int64 pymongo cannot even say it).
        raise InvalidInput(f"page {page.page} is too far: at most {MAX_SKIP:,} results can be skipped; "
                           "narrow the filter or sort the other way", errors={"query": {"page": ["too large"]}})
    cursor = (
        collection.find(page.filter, max_time_ms=max_time_ms())
        .sort(sort)
        .skip(skip)
        .limit(page.page_size)
    )
    items = list(cursor)
    if page.page == 1 and len(items) < page.page_size:
        # A short first page already tells the total: skip the count query.
        return items, len(items)
    return items, collection.count_documents(page.filter, **max_time_option())
