"""No new request once a run is stopping: providers ask `sending_stopped()` before each request they
send (a retry too), and end a batch with RequestsStopped; requests already in flight may finish."""

from __future__ import annotations

import contextvars
import threading


class RequestsStopped(Exception):
    """A batch ended before all its answers came, because its run is stopping."""


class AnyOf:
    """Set when any of `events` is (a build's stop, or its task's failure)."""

    def __init__(self, *events: threading.Event):
        self.events = events

    def is_set(self) -> bool:
        return any(event.is_set() for event in self.events)


_stop: contextvars.ContextVar[threading.Event | AnyOf | None] = contextvars.ContextVar("smart_sql_stop", default=None)


def stop_sending_when(event: threading.Event | AnyOf) -> None:
    """From here on in the current task, and in the tasks it starts, no request is sent once `event` is set."""
    _stop.set(event)


def sending_stopped() -> bool:
    event = _stop.get()
    return event is not None and event.is_set()
