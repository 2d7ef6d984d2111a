"""Which nodes of a run may start: those whose every upstream node in the run has finished.

A node waits for the nearest nodes of the run upstream of it (through nodes left out of the run);
among the nodes ready at once the earliest of the run's order starts first, so one worker runs the
nodes exactly in that order. A node downstream of a failure is skipped, naming the failure earliest
in the order, as a serial run would.
"""

from __future__ import annotations

import heapq
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .graph import Graph


class Schedule:
    def __init__(self, graph: Graph, order: list[str], *, fail_fast: str | None = None):
        """`fail_fast`: once a node fails, every node not started yet is skipped, naming the failure
        after this prefix (--fail-fast)."""
        self.graph = graph
        self.fail_fast = fail_fast
        self.order = order
        self.position = {uid: index for index, uid in enumerate(order)}
        self._dependents: dict[str, list[str]] = {uid: [] for uid in order}
        self._waiting: dict[str, int] = {}
        for uid in order:
            upstream = self._nearest_upstream(uid)
            self._waiting[uid] = len(upstream)
            for parent in upstream:
                self._dependents[parent].append(uid)
        self._ready = [self.position[uid] for uid in order if self._waiting[uid] == 0]
        heapq.heapify(self._ready)
        self._failed_upstream: dict[str, tuple[int, str]] = {}

    def next_ready(self) -> str | None:
        """The earliest node (in the run's order) that may start now, or None."""
        return self.order[heapq.heappop(self._ready)] if self._ready else None

    def done(self, uid: str, failed: bool) -> None:
        """`uid` has finished (or was skipped); a failure skips everything downstream of it."""
        if failed:
            mark = (self.position[uid], self.graph.nodes[uid].name)
            for descendant in self.graph.descendants(uid):
                if descendant in self.position and mark < self._failed_upstream.get(descendant, (len(self.order), "")):
                    self._failed_upstream[descendant] = mark
            if self.fail_fast is not None:
                rest = (self.position[uid], self.fail_fast + self.graph.nodes[uid].name)
                self._failed_upstream.update({later: rest for later in self.order if later not in self._failed_upstream})
        for dependent in self._dependents[uid]:
            self._waiting[dependent] -= 1
            if self._waiting[dependent] == 0:
                heapq.heappush(self._ready, self.position[dependent])

    def fail_all(self, reason: str) -> None:
        """Skip every node, naming `reason` (a failed on-run-start hook)."""
        self._failed_upstream = dict.fromkeys(self.order, (-1, reason))

    def failed_upstream(self, uid: str) -> str | None:
        """The name of the failure that skips `uid`, if any (known once `uid` is ready)."""
        mark = self._failed_upstream.get(uid)
        return mark[1] if mark else None

    def _nearest_upstream(self, uid: str) -> set[str]:
        found: set[str] = set()
        seen: set[str] = set()
        stack = list(self.graph.parents.get(uid, ()))
        while stack:
            parent = stack.pop()
            if parent in seen:
                continue
            seen.add(parent)
            if parent in self.position:
                found.add(parent)
            else:
                stack.extend(self.graph.parents.get(parent, ()))
        return found
