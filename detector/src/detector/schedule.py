"""Running on an interval, and stopping cleanly on SIGTERM or SIGINT.

Between runs a signal stops the detector at once. During a run, the first signal lets the run
finish and be reported (Docker's stop waits 10 s by default; a run of a million rows takes a few
seconds), a second one aborts it: the run is then reported Failed, "stopped by SIGTERM". A
one-shot run (no interval) has nothing to finish for, so its first signal aborts it.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable

__all__ = ["SignalGuard", "Terminated", "run_every"]

log = logging.getLogger("detector")


class Terminated(BaseException):
    """Raised inside a run by a stopping signal; a BaseException so that nothing swallows it on the way out."""

    def __init__(self, signal_name: str):
        super().__init__(f"stopped by {signal_name}")
        self.signal_name = signal_name
        self.exit_code = 128 + getattr(signal, signal_name, signal.SIGTERM).value


class SignalGuard:
    """Installs SIGTERM and SIGINT handlers for its ``with`` block (main thread only)."""

    def __init__(self, graceful: bool):
        self.graceful = graceful
        self.stop = threading.Event()
        self.running = False
        self.received = 0
        self._previous: dict[int, object] = {}

    def __enter__(self) -> SignalGuard:
        for number in (signal.SIGTERM, signal.SIGINT):
            self._previous[number] = signal.signal(number, self._handle)
        return self

    def __exit__(self, *exc_info) -> None:
        for number, handler in self._previous.items():
            signal.signal(number, handler)

    def _handle(self, number: int, frame) -> None:
        name = signal.Signals(number).name
        self.received += 1
        self.stop.set()
        if self.running and (not self.graceful or self.received > 1):
            raise Terminated(name)
        if self.running:
            log.info("%s received: stopping after the current run (send it again to abort the run)", name)
        else:
            log.info("%s received: stopping", name)


def run_every(interval: float, job: Callable[[], object], guard: SignalGuard,
              on_error: Callable[[Exception], None]) -> None:
    """Call ``job`` every ``interval`` seconds (from start to start) until ``guard`` sees a signal.

    A failing run (``on_error`` is told) does not end the loop: the next one may find its data.
    """
    while not guard.stop.is_set():
        started = time.monotonic()
        guard.running = True
        try:
            job()
        except Exception as error:
            on_error(error)
        finally:
            guard.running = False
        if guard.stop.is_set():
            break
        pause = max(0.0, interval - (time.monotonic() - started))
        log.info("next run in %.0f s", pause)
        guard.stop.wait(pause)
    log.info("stopped")
