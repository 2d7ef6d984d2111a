"""The run's randomness as a function of (seed, item key): the same input draws the same numbers in
every run, whatever other inputs the table holds (see docs/smart.md, "Stable randomness").

Each item has a 64-bit key (in SQL a hash of its prompt and text). `uniforms(seed, keys, stream, k)`
mixes seed, stream, key and a counter k with splitmix64 into a uniform on [0, 1). `RowOrder` turns
one stream into a uniformly random order of the table's rows without listing them: the rows of an
item that stands for c rows get the order statistics of c uniforms, generated one after another from
the item's stream, so memory is O(items + rows drawn so far), never O(rows).
"""

from __future__ import annotations

import numpy as np

ORDER_STREAM = 1
"""Stream of the rows' arrival times (the profiling order)."""
MIX_STREAM = 2
"""Stream of the uniform that places an item in the mix's fixed-order intervals."""
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MULTIPLY_1 = np.uint64(0xBF58476D1CE4E5B9)
_MULTIPLY_2 = np.uint64(0x94D049BB133111EB)
_BLOCK = 8
"""Rows computed at once per item while filling an order prefix (at least)."""


def splitmix64(values: np.ndarray) -> np.ndarray:
    """The splitmix64 finalizer (Steele, Lea and Flood 2014) on each uint64: a bijection whose output
    bits each depend on every input bit."""
    z = np.asarray(values, dtype=np.uint64) + _GOLDEN
    z = (z ^ (z >> np.uint64(30))) * _MULTIPLY_1
    z = (z ^ (z >> np.uint64(27))) * _MULTIPLY_2
    return z ^ (z >> np.uint64(31))


def stream_bases(seed: int, keys: np.ndarray, stream: int) -> np.ndarray:
    """One uint64 per item from which its draws in `stream` are derived."""
    word = np.random.SeedSequence([abs(int(seed)), int(seed < 0), stream]).generate_state(1, np.uint64)[0]
    return splitmix64(np.asarray(keys, dtype=np.uint64) ^ splitmix64(np.array([word], dtype=np.uint64))[0])


def unit(bits: np.ndarray) -> np.ndarray:
    """The top 53 bits of each uint64 as a float in [0, 1)."""
    return (bits >> np.uint64(11)).astype(np.float64) * (1.0 / (1 << 53))


def draw(bases: np.ndarray, counter) -> np.ndarray:
    """Uniform number `counter` of each item's stream."""
    with np.errstate(over="ignore"):
        return unit(splitmix64(bases + np.asarray(counter, dtype=np.uint64) * _GOLDEN))


def uniforms(seed: int, keys: np.ndarray, stream: int, counter: int = 0) -> np.ndarray:
    return draw(stream_bases(seed, keys, stream), counter)


def position_keys(items: int) -> np.ndarray:
    """Keys for items that come without any: their positions."""
    return np.arange(items, dtype=np.uint64)


class RowOrder:
    """The rows of a table of items in a uniformly random order, handed out a prefix at a time.

    Row k (0-based) of item j has arrival time T_jk, the (k+1)-th smallest of counts[j] independent
    uniforms: 1 - T_j,k+1 = (1 - T_jk) * (1 - U_jk)^(1 / (counts[j] - k)), U_jk the item's k-th draw.
    Sorting every row by its time gives a uniformly random order of the rows (the times of all rows
    are as many independent uniforms); `take(m)` returns the items of the next m rows of it."""

    def __init__(self, seed: int, keys: np.ndarray, counts: np.ndarray):
        self.bases = stream_bases(seed, keys, ORDER_STREAM)
        self.counts = np.asarray(counts, dtype=np.int64)
        self.emitted = np.zeros(len(self.counts), dtype=np.int64)
        """Rows of each item whose time has been computed (handed out or waiting in the buffer)."""
        self.log_survival = np.zeros(len(self.counts))
        """log(1 - time of the item's last computed row)."""
        self.buffer_items = np.zeros(0, dtype=np.int64)
        self.buffer_times = np.zeros(0)
        self.frontier = 0.0
        """The time of the last row handed out."""

    def take(self, rows: int) -> np.ndarray:
        """The items of the next `rows` rows (fewer when the table runs out), in order."""
        parts = []
        while rows > 0:
            part = self._take_some(rows)
            if len(part) == 0:
                break
            parts.append(part)
            rows -= len(part)
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)

    def _take_some(self, rows: int) -> np.ndarray:
        """The items of the next rows, at most `rows` of them and at least one if any is left: every
        row with a time up to the rows-th smallest of the waiting rows and the items' next rows."""
        heads = np.flatnonzero(self.emitted < self.counts)
        _, head_times, _ = self._next(heads, np.ones(len(heads), dtype=np.int64))
        pool = np.concatenate([self.buffer_times, head_times])
        if len(pool) == 0:
            return np.zeros(0, dtype=np.int64)
        rank = min(rows, len(pool)) - 1
        threshold = max(pool.min(), min(np.partition(pool, rank)[rank], self._expected_threshold(1.1 * rows)))
        items, times = self._rows_until(heads[head_times <= threshold], threshold)
        items = np.concatenate([self.buffer_items, items])
        times = np.concatenate([self.buffer_times, times])
        order = np.lexsort((items, times))
        items, times = items[order], times[order]
        self.buffer_items, self.buffer_times = items[rows:], times[rows:]
        self.frontier = float(times[:rows][-1]) if rows and len(times) else self.frontier
        return items[:rows]

    def _expected_threshold(self, rows: float) -> float:
        """The time under which about `rows` of the rows not computed yet lie: given the rows handed
        out, those are independent uniforms after the last time handed out. It keeps heavy items from
        being computed far beyond what is asked."""
        left = float((self.counts - self.emitted).sum())
        return self.frontier + (1 - self.frontier) * min(1.0, rows / max(left, 1.0))

    def _rows_until(self, active: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray]:
        """Every row with time <= threshold not computed yet, of the `active` items (those whose next
        row is among them), computed a block per item at a time, each block about the rows expected
        under the threshold."""
        found_items, found_times = [], []
        while len(active):
            left = self.counts[active] - self.emitted[active]
            last = -np.expm1(self.log_survival[active])
            expected = left * np.clip((threshold - last) / np.maximum(1 - last, 1e-300), 0, 1)
            block = np.minimum(left, _BLOCK + np.ceil(1.2 * expected).astype(np.int64))
            owner, times, log_survival = self._next(active, block)
            inside = times <= threshold
            taken = np.bincount(owner[inside], minlength=len(active))
            found_items.append(active[owner[inside]])
            found_times.append(times[inside])
            ends = np.cumsum(block) - 1
            has = taken > 0
            self.log_survival[active[has]] = log_survival[(ends - block + taken)[has]]
            self.emitted[active] += taken
            active = active[(taken == block) & (taken < left)]
        if not found_items:
            return np.zeros(0, dtype=np.int64), np.zeros(0)
        return np.concatenate(found_items), np.concatenate(found_times)

    def _next(self, items: np.ndarray, block: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The next `block[i]` rows of each item (block[i] <= rows it has left), flat and grouped by
        item in the order of `items`: which of `items` each row belongs to (by position), its time and
        its log survival. The log survivals are summed one row after another from the item's last,
        as a sequential loop would, so a row's time never depends on how the rows were blocked."""
        owner, times, survival = [], [], []
        buckets = np.ceil(np.log2(np.maximum(block, 1))).astype(np.int64)
        for bucket in np.unique(buckets):
            rows = np.flatnonzero(buckets == bucket)
            width = int(block[rows].max())
            step = np.arange(width)
            counter = self.emitted[items[rows]][:, None] + step[None, :]
            valid = step[None, :] < block[rows][:, None]
            safe = np.where(valid, counter, 0)
            draws = draw(self.bases[items[rows]][:, None], safe.astype(np.uint64))
            left = np.where(valid, self.counts[items[rows]][:, None] - safe, 1)
            terms = np.concatenate([self.log_survival[items[rows]][:, None], np.log1p(-draws) / left], axis=1)
            log_survival = np.cumsum(terms, axis=1)[:, 1:]
            owner.append(np.broadcast_to(rows[:, None], valid.shape)[valid])
            survival.append(log_survival[valid])
        if not owner:
            return np.zeros(0, dtype=np.int64), np.zeros(0), np.zeros(0)
        owner, survival = np.concatenate(owner), np.concatenate(survival)
        order = np.argsort(owner, kind="stable")
        owner, survival = owner[order], survival[order]
        return owner, -np.expm1(survival), survival
