"""The batching writer of counter changes: one per app, merging the changes of concurrent run writes into few updates.

The app creates it from `APP_SUMMARY_DELAY_MS` (`create_app`) and closes it with its database client;
tests pass their own (`create_app(settings, summary_writer=...)`), e.g. one whose `write` fails.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import pymongo
from pymongo import UpdateOne
from pymongo.collection import Collection

from .counters import counter_updates

log = logging.getLogger(__name__)

Changes = list[tuple[dict, int]]


def write_counter_updates(summaries: Collection, changes: Changes) -> None:
    """Apply (run, +1 | −1) changes to the summary documents, as few updates as there are documents."""
    updates = counter_updates(changes)
    # Upserting a decrement too keeps the counts exact when the updates of one run arrive out of
    # order (a delete racing the create's increment).
    if len(updates) == 1:
        [(doc_id, update)] = updates.items()
        summaries.update_one({"_id": doc_id}, update, upsert=True)
    elif updates:
        summaries.bulk_write([UpdateOne({"_id": doc_id}, update, upsert=True)
                              for doc_id, update in updates.items()], ordered=False)


class _Ticket:
    __slots__ = ("done", "error")

    def __init__(self):
        self.done = False
        self.error: BaseException | None = None


class SummaryWriter:
    """Writes the counter changes of one app, merged: on a timer, or as soon as asked.

    An update's cost grows with its fields, not its increments (about 10 ms for a run's digests on
    the embedded server), and most runs of a day share one summary document: so one merged update
    can count many runs. With a delay, requests do not wait for their counters at all (they are
    written within `delay_seconds`, and at once before any read of this app, so a process reads its
    own writes); a process killed in between leaves its last changes uncounted until
    `flask rebuild-summaries`. Without a delay each request waits for a write of its changes,
    merged with those of the requests that arrived while the previous write ran.

    `write(collection, changes)` does the database write; tests may pass one that fails or records.
    """

    def __init__(self, delay_seconds: float = 0.0,
                 write: Callable[[Collection, Changes], None] = write_counter_updates):
        self.delay_seconds = delay_seconds
        self._write = write
        self._condition = threading.Condition()
        self._pending: list[tuple[Collection, Changes, _Ticket]] = []
        self._writing = False
        self._timer: threading.Timer | None = None

    def submit(self, summaries: Collection, changes: Changes) -> None:
        """Count `changes` in `summaries`: now (no delay; raises if the write fails) or within the delay."""
        if self.delay_seconds <= 0:
            self._write_and_wait(summaries, changes)
            return
        with self._condition:
            self._pending.append((summaries, changes, _Ticket()))
            self._start_timer(self.delay_seconds)

    def flush(self) -> None:
        """Write every pending change now (before a read); raises if the write fails."""
        self._write_and_wait(None, [])

    def close(self) -> None:
        """Write what is pending and stop the timer (the database client is closing); logs a failure."""
        with self._condition:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
        try:
            self.flush()
        except Exception:
            log.error("drift summary counters could not be written; run `flask rebuild-summaries`",
                      exc_info=True)

    def _start_timer(self, seconds: float) -> None:
        """Under the condition: schedule a flush unless one is scheduled."""
        if self._timer is None:
            self._timer = threading.Timer(seconds, self._flush_quietly)
            self._timer.daemon = True
            self._timer.start()

    def _flush_quietly(self) -> None:
        with self._condition:
            self._timer = None
        try:
            self.flush()
        except pymongo.errors.InvalidOperation:  # the client was closed: its process is going away
            log.error("drift summary counters dropped with a closed database client; run `flask rebuild-summaries`")
            with self._condition:
                self._pending.clear()
        except Exception:  # kept pending (see _write_and_wait): try again after another delay
            log.warning("could not write drift summary counters; will retry", exc_info=True)
            with self._condition:
                if self._pending:
                    self._start_timer(max(self.delay_seconds, 1.0))

    def _write_and_wait(self, summaries: Collection | None, changes: Changes) -> None:
        ticket = _Ticket()
        with self._condition:
            if summaries is not None:
                self._pending.append((summaries, changes, ticket))
            while self._writing and not ticket.done:
                self._condition.wait()
            if ticket.done:
                batch = None
            else:  # nobody is writing: this caller writes everything pending, its own included
                batch, self._pending, self._writing = self._pending, [], True
        if batch is not None:
            errors = self._write_batch(batch)
            with self._condition:
                if errors and self.delay_seconds > 0:
                    # Deferred changes were already answered for: keep them for the next attempt.
                    self._pending[:0] = [(collection, pending, _Ticket()) for collection, pending, waiting in batch
                                         if waiting is not ticket and _key(collection) in errors]
                for collection, _, waiting in batch:
                    waiting.done, waiting.error = True, errors.get(_key(collection))
                if summaries is None and errors:  # a flush fails with any of the writes it made
                    ticket.error = next(iter(errors.values()))
                self._writing = False
                self._condition.notify_all()
        if ticket.error is not None:
            raise ticket.error

    def _write_batch(self, batch: list[tuple[Collection, Changes, _Ticket]]) -> dict[tuple, BaseException]:
        """Write the merged changes of each collection in `batch`; the error of each write that failed."""
        merged: dict[tuple, tuple[Collection, Changes]] = {}
        for collection, changes, _ in batch:
            merged.setdefault(_key(collection), (collection, []))[1].extend(changes)
        errors: dict[tuple, BaseException] = {}
        for key, (collection, changes) in merged.items():
            if not changes:
                continue
            try:
                self._write(collection, changes)
            except BaseException as exc:
                errors[key] = exc
        return errors


def _key(collection: Collection) -> tuple:
    """Which changes merge into one write: those of one collection of one client."""
    return id(collection.database.client), collection.full_name
