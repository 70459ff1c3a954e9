"""What the benchmark scripts share: errors, the time limit, log lines, percentiles, machine facts."""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import os
import platform
import random
import signal
import time
from collections.abc import Callable
from pathlib import Path

import pymongo


class BenchmarkError(RuntimeError):
    pass


class TimeLimitReached(BaseException):
    """Raised in the main thread by SIGALRM; a BaseException so nothing swallows it on the way out."""


def arm_time_limit(seconds: int) -> None:
    """Stop the benchmark (through TimeLimitReached) after `seconds`, wherever it is."""

    def on_alarm(signum, frame):
        raise TimeLimitReached(f"time limit of {seconds} s reached")

    signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(seconds)


def elapsed_logger() -> Callable[[str], None]:
    """A `log(message)` that prefixes each line with the seconds since this call."""
    started = time.monotonic()

    def log(message: str) -> None:
        print(f"[{time.monotonic() - started:7.1f} s] {message}", flush=True)

    return log


def percentile(values: list[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default)."""
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    position = (len(ordered) - 1) * q / 100
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def verdict(passed: bool) -> str:
    return "PASS" if passed else "FAIL"


def machine_info(mongo: pymongo.MongoClient, database_description: str) -> dict:
    """Facts about the machine and the database a result was measured on."""
    build = mongo.admin.command("buildInfo")
    return {
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "host_cores": os.cpu_count(),
        "cpu_model": next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                           if line.startswith("model name")), platform.processor()),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
        "platform": platform.platform(),
        "database": f"{database_description}, reports MongoDB {build.get('version')}",
        "pymongo": pymongo.version,
        "gunicorn": importlib.metadata.version("gunicorn"),
    }


#: Runs per insert_many when seeding a collection.
SEED_BATCH = 5000


def seed_runs(collection, make_document: Callable[[random.Random, dt.datetime], dict], count: int,
              log: Callable[[str], None], every: int = 20000) -> float:
    """Insert `count` documents made by `make_document(rng, now)` in batches; returns the seconds taken.

    The seed is fixed so two runs of a benchmark measure the same data.
    """
    rng = random.Random(20261122)
    now = dt.datetime.now(dt.timezone.utc)
    started = time.perf_counter()
    done = 0
    while done < count:
        batch = [make_document(rng, now) for _ in range(min(SEED_BATCH, count - done))]
        collection.insert_many(batch, ordered=False)
        done += len(batch)
        if done % every == 0 or done == count:
            log(f"seeded {done}/{count} runs ({time.perf_counter() - started:.1f} s)")
    return time.perf_counter() - started
