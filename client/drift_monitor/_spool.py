"""A durable local queue of drift-run operations the server could not take yet.

One JSON file per operation, named ``<sequence>-<run id>-<op>.json`` so that sorting the names
gives the order they were written in. Files are written atomically (temporary file, fsync,
rename) and removed only after the server acknowledged them. Replays are serialised by a lock
file, and every operation is idempotent on the server (creates carry the run's id), so an
operation that reached the server before the process died is not stored twice.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._exceptions import (
    AuthenticationError,
    ConfigurationError,
    Conflict,
    DriftMonitorError,
    NotFound,
    PermissionDenied,
    ServerError,
    TransportError,
    ValidationError,
)

if TYPE_CHECKING:
    from ._api import Client

# Spool is internal (DriftMonitor, sync and the CLI use it); only what a replay returns is public.
__all__ = ["ReplayResult"]

log = logging.getLogger("drift_monitor")

_FORMAT_VERSION = 1
_OPERATIONS = ("create", "replace")
_sequence_lock = threading.Lock()
_last_sequence = 0


def _next_sequence() -> int:
    """Nanoseconds since the epoch, strictly increasing within this process."""
    global _last_sequence
    with _sequence_lock:
        _last_sequence = max(time.time_ns(), _last_sequence + 1)
        return _last_sequence


@dataclass
class ReplayResult:
    """What a replay did: operations acknowledged, refused for good, unreadable, and still waiting."""

    uploaded: int = 0
    rejected: int = 0
    corrupt: int = 0
    remaining: int = 0

    def __bool__(self) -> bool:
        return bool(self.uploaded or self.rejected or self.corrupt or self.remaining)


class Spool:
    """The spool directory; ``rejected/`` and ``corrupt/`` below it keep what cannot be sent."""

    def __init__(self, directory: str | os.PathLike[str]):
        self.directory = Path(directory)

    def __repr__(self) -> str:
        return f"Spool({str(self.directory)!r})"

    # Writing ------------------------------------------------------------------------------

    def add(self, op: str, experiment: Mapping[str, str | None], run_id: str, body: Mapping[str, Any]) -> Path:
        """Store one operation durably; ``experiment`` has the resolved ``id`` (replayed to that id, as is),
        or, when the lookup itself failed, only a ``name``."""
        if op not in _OPERATIONS:
            raise ValueError(f"unknown spool operation {op!r}")
        record = {"version": _FORMAT_VERSION, "op": op, "run_id": run_id,
                  "experiment": {key: value for key, value in experiment.items() if value},
                  "body": dict(body), "spooled_at": time.time()}
        self.directory.mkdir(parents=True, exist_ok=True)
        target = self.directory / f"{_next_sequence():020d}-{run_id}-{op}.json"
        descriptor, temporary = tempfile.mkstemp(prefix=".tmp-", suffix=".json", dir=self.directory)
        try:
            with os.fdopen(descriptor, "w", encoding="utf-8") as stream:
                json.dump(record, stream, allow_nan=False)
                stream.flush()
                os.fsync(stream.fileno())
            os.replace(temporary, target)
        except BaseException:
            try:
                os.unlink(temporary)
            except OSError:
                pass
            raise
        _fsync_directory(self.directory)
        return target

    # Reading ------------------------------------------------------------------------------

    def pending(self) -> list[Path]:
        """Files waiting to be sent, oldest first."""
        if not self.directory.is_dir():
            return []
        return sorted(path for path in self.directory.glob("*.json") if not path.name.startswith("."))

    def __len__(self) -> int:
        return len(self.pending())

    def replay(self, client: Client, progress: Callable[[int, int], None] | None = None) -> ReplayResult:
        """Send the pending operations in order; stop at the first one the server cannot take now.

        ``progress(done, total)`` is called after each operation. Raises ``AuthenticationError``/
        ``PermissionDenied`` (the files stay for a later replay); other failures are counted, not raised.
        """
        result = ReplayResult()
        if not self.pending():
            return result
        with self._locked() as acquired:
            if not acquired:
                result.remaining = len(self.pending())
                return result
            experiment_ids: dict[str, str] = {}
            files = self.pending()
            for index, path in enumerate(files):
                try:
                    record = self._read(path)
                except (OSError, ValueError, KeyError, TypeError) as error:
                    if not path.exists():  # sent by another replay in the meantime
                        continue
                    log.warning("drift-monitor: spool file %s is unreadable (%s); moved to %s",
                                path.name, error, self.directory / "corrupt")
                    self._move(path, "corrupt")
                    result.corrupt += 1
                    continue
                try:
                    self._send(client, record, experiment_ids)
                except (TransportError, ServerError) as error:
                    result.remaining = len(files) - index
                    log.warning("drift-monitor: the server cannot take spooled runs yet (%s); %d operation(s) "
                                "stay in %s", error, result.remaining, self.directory)
                    return result
                except (AuthenticationError, PermissionDenied, ConfigurationError):
                    raise
                except (NotFound, ValidationError, Conflict, DriftMonitorError) as error:
                    log.warning("drift-monitor: the server refused spooled %s of run %s for good (%s); "
                                "kept in %s", record["op"], record["run_id"], error, self.directory / "rejected")
                    self._move(path, "rejected")
                    result.rejected += 1
                    continue
                path.unlink()
                result.uploaded += 1
                if progress is not None:
                    progress(index + 1, len(files))
        return result

    @staticmethod
    def _read(path: Path) -> dict:
        record = json.loads(path.read_text(encoding="utf-8"))
        if record.get("version") != _FORMAT_VERSION or record.get("op") not in _OPERATIONS:
            raise ValueError(f"unknown record format {record.get('version')!r}/{record.get('op')!r}")
        experiment = record["experiment"]
        if not (experiment.get("id") or experiment.get("name")) or not isinstance(record["body"], dict):
            raise ValueError("record names no experiment or has no body")
        str(record["run_id"])
        return record

    @staticmethod
    def _send(client: Client, record: dict, experiment_ids: dict[str, str]) -> None:
        experiment = record["experiment"]
        experiment_id = experiment.get("id")
        if not experiment_id:
            # Only a run spooled before its experiment could be looked up has no id. Its name is
            # resolved now, like any name, among the replaying user's own experiments: one that
            # someone else created meanwhile with this name is refused (ExperimentNotOwned →
            # rejected/), never sent to.
            name = experiment["name"]
            if name not in experiment_ids:
                experiment_ids[name] = client.find_experiment(name)["id"]
            experiment_id = experiment_ids[name]
        body = record["body"]
        if record["op"] == "create":
            try:
                client.post_drift_body(experiment_id, {**body, "id": record["run_id"]})
            except Conflict:
                # The run exists with other content: a later operation of this run already reached
                # the server (e.g. a replay interrupted after its PUT). Nothing is lost.
                log.info("drift-monitor: run %s was already stored and updated", record["run_id"])
        else:
            try:
                client.put_drift_body(experiment_id, record["run_id"], body)
            except Conflict:
                stored = client.get_drift(experiment_id, record["run_id"])
                if stored.get("job_status") != body.get("job_status"):
                    raise
                log.info("drift-monitor: run %s was already %s", record["run_id"], stored.get("job_status"))

    def _move(self, path: Path, folder: str) -> None:
        destination = self.directory / folder
        destination.mkdir(exist_ok=True)
        try:
            os.replace(path, destination / path.name)
        except FileNotFoundError:
            pass

    @contextmanager
    def _locked(self) -> Iterator[bool]:
        """An exclusive lock on the spool across processes; yields False if another replay holds it."""
        self.directory.mkdir(parents=True, exist_ok=True)
        with open(self.directory / ".lock", "a+b") as lock_file:
            try:
                _lock(lock_file)
            except OSError:
                yield False
                return
            try:
                yield True
            finally:
                _unlock(lock_file)


def _fsync_directory(directory: Path) -> None:
    if os.name != "posix":
        return
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


if os.name == "posix":
    import fcntl

    def _lock(stream) -> None:
        # Wait a little for a concurrent replay rather than skipping at once.
        deadline = time.monotonic() + 10
        while True:
            try:
                fcntl.flock(stream.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def _unlock(stream) -> None:
        fcntl.flock(stream.fileno(), fcntl.LOCK_UN)
else:  # pragma: no cover - Windows
    import msvcrt

    def _lock(stream) -> None:
        stream.seek(0)
        msvcrt.locking(stream.fileno(), msvcrt.LK_LOCK, 1)

    def _unlock(stream) -> None:
        stream.seek(0)
        msvcrt.locking(stream.fileno(), msvcrt.LK_UNLCK, 1)
