"""A MongoDB for tests and `make run`: MONGODB_URI, else a Docker `mongo`, else embedded SecantusDB.

SecantusDB (dev/test dependency, GPL-2.0) runs as its own process (`secantusd-py`) and
speaks the MongoDB wire protocol; product code only ever sees a MongoDB URI.
"""

from __future__ import annotations

import os
import shutil
import socket
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pymongo

from .processes import ServerProcess

MONGO_IMAGE = "mongo:8.0.4"
START_TIMEOUT_SECONDS = 30


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def docker_engine_answers() -> bool:
    """True when a Docker engine answers a ping (not merely when the `docker` CLI exists)."""
    try:
        import docker

        client = docker.from_env(timeout=3)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except Exception:
        return False


def mongo_answers(uri: str) -> bool:
    """True when a MongoDB at ``uri`` answers a ping within half a second."""
    try:
        with pymongo.MongoClient(uri, serverSelectionTimeoutMS=500) as client:
            client.admin.command("ping")
        return True
    except pymongo.errors.PyMongoError:
        return False


class EmbeddedMongo:
    """A `secantusd-py` server process that can be stopped and started again on the same data."""

    def __init__(self, port: int | None = None, storage_path: str | Path | None = None,
                 log_path: str | Path | None = None, durable: bool = False, auth: bool = False):
        self.port = port or free_port()
        # With auth, every command but a few (ping, hello) needs a logged-in user.
        self.auth = auth
        # Without fsync on commit, a killed server loses about its last second of writes.
        self.durable = durable
        self._own_storage = storage_path is None
        self.storage_path = Path(storage_path or tempfile.mkdtemp(prefix="secantus-"))
        self.log_path = Path(log_path) if log_path else self.storage_path.with_suffix(".log")
        #: The server process while started, else None.
        self.process: ServerProcess | None = None

    @property
    def uri(self) -> str:
        return f"mongodb://127.0.0.1:{self.port}/"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.running

    def start(self) -> EmbeddedMongo:
        executable = shutil.which("secantusd-py", path=str(Path(sys.executable).parent)) or shutil.which("secantusd-py")
        if executable is None:
            raise RuntimeError("secantusd-py not found: install the test requirements (pip install -r requirements-test.txt)")
        self.storage_path.mkdir(parents=True, exist_ok=True)
        self.process = ServerProcess(
            [executable, "--host", "127.0.0.1", "--port", str(self.port), "--storage-path", str(self.storage_path),
             "--log-level", "WARNING", *(["--sync-on-commit"] if self.durable else []),
             *(["--auth"] if self.auth else [])],
            self.log_path, name="the embedded database",
        )
        try:
            self.process.wait_until(lambda: mongo_answers(self.uri), START_TIMEOUT_SECONDS, f"answer at {self.uri}")
        except BaseException:  # including Ctrl-C: leave no server behind
            self.stop()
            raise
        return self

    def stop(self, kill: bool = False) -> None:
        """Stop the server (``kill``: without a chance to flush, as a crash would); the data stays."""
        if self.process is not None:
            self.process.stop(kill=kill)
            self.process = None

    def cleanup(self) -> None:
        self.stop()
        if self._own_storage:
            shutil.rmtree(self.storage_path, ignore_errors=True)
            self.log_path.unlink(missing_ok=True)


@contextmanager
def start_database() -> Iterator[tuple[str, str]]:
    """Yield (MongoDB URI, where it comes from): MONGODB_URI, a container, or an embedded server."""
    if os.environ.get("MONGODB_URI"):
        yield os.environ["MONGODB_URI"], "MONGODB_URI"
        return
    if docker_engine_answers():
        from testcontainers.mongodb import MongoDbContainer

        with MongoDbContainer(MONGO_IMAGE) as container:
            yield container.get_connection_url(), f"container {MONGO_IMAGE}"
        return
    server = EmbeddedMongo().start()
    try:
        yield server.uri, "embedded SecantusDB"
    finally:
        server.cleanup()
