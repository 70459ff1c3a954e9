"""Feedback while working: a progress bar on a terminal, plain log lines otherwise.

``DETECTOR_PROGRESS`` (or ``--progress``): ``auto`` (bar when stderr is a terminal), ``bar``,
``log``, ``off``.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

__all__ = ["Progress"]

log = logging.getLogger("detector")
MODES = ("auto", "bar", "log", "off")


class Progress:
    def __init__(self, mode: str = "auto", stream=None):
        if mode not in MODES:
            raise ValueError(f"progress mode must be one of {', '.join(MODES)}, not {mode!r}")
        self.stream = stream or sys.stderr
        if mode == "auto":
            mode = "bar" if getattr(self.stream, "isatty", lambda: False)() else "log"
        self.mode = mode

    @contextmanager
    def task(self, description: str, total: int | None = None) -> Iterator[Callable[..., None]]:
        """A step of work; the yielded ``advance(*_)`` counts one item done."""
        started = time.monotonic()
        if self.mode == "bar":
            from tqdm import tqdm

            with tqdm(total=total, desc=description, unit="col" if total else "it", file=self.stream,
                      leave=False, dynamic_ncols=True) as bar:
                yield lambda *_: bar.update(1)
            log.info("%s: done in %.1f s", description, time.monotonic() - started)
            return
        done = 0
        last_line = started

        def advance(*_):
            nonlocal done, last_line
            done += 1
            now = time.monotonic()
            # A line every 10 s keeps long steps visible in container logs without flooding them.
            if self.mode == "log" and now - last_line >= 10:
                log.info("%s: %d/%s", description, done, total if total is not None else "?")
                last_line = now

        yield advance
        if self.mode == "log":
            count = f" ({done}/{total})" if total else ""
            log.info("%s: done%s in %.1f s", description, count, time.monotonic() - started)
