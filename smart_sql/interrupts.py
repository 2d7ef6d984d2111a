"""Stopping a run on SIGINT or SIGTERM: the first signal asks it to stop cleanly, a second exits at once."""

from __future__ import annotations

import os
import signal
import threading
from contextlib import contextmanager
from typing import Callable, Iterator

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupted(KeyboardInterrupt):
    """Raised where a stopping run gives up; the process then exits with 128 + the signal's number."""

    def __init__(self, signum: int = signal.SIGINT):
        super().__init__(signal.Signals(signum).name)
        self.exit_code = 128 + signum


class StopRequest:
    """Made once, by a signal or a caller; the parts of a run that must react register a callback."""

    def __init__(self):
        self.signum: int | None = None
        self._callbacks: list[Callable[[], None]] = []

    @property
    def requested(self) -> bool:
        return self.signum is not None

    def request(self, signum: int = signal.SIGINT) -> None:
        if self.signum is None:
            self.signum = signum
            for callback in list(self._callbacks):
                callback()

    def check(self) -> None:
        """Raise Interrupted once the stop is requested."""
        if self.signum is not None:
            raise Interrupted(self.signum)

    @contextmanager
    def calling(self, *callbacks: Callable[[], None]) -> Iterator[None]:
        """While inside, each callback is called when the stop is requested (at once if it already is)."""
        self._callbacks.extend(callbacks)
        try:
            if self.requested:
                for callback in callbacks:
                    callback()
            yield
        finally:
            for callback in callbacks:
                self._callbacks.remove(callback)


@contextmanager
def stop_on_signals() -> Iterator[StopRequest]:
    """While inside, SIGINT or SIGTERM requests the stop it yields; a second signal then ends the process
    at once (the system's default action, which needs no thread of ours to be free). Only the main
    thread can handle signals: elsewhere only callers can request the stop."""
    stop = StopRequest()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return

    def handle(signum, frame) -> None:
        for each in SIGNALS:
            signal.signal(each, signal.SIG_DFL)
        again = "press Ctrl-C again" if signum == signal.SIGINT else f"send {signal.Signals(signum).name} again"
        os.write(2, f"\nStopping: finishing the requests in flight ({again} to stop at once)\n".encode())
        stop.request(signum)

    previous = {signum: signal.signal(signum, handle) for signum in SIGNALS}
    try:
        yield stop
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
