"""A task's distinct inputs kept in DuckDB and read, answered and written back a chunk at a time.

The input query's distinct (prompt, text) pairs land in a temporary table numbered in (prompt, text)
order, with their row counts and a 64-bit key per input. Python holds only the counts and the keys
(two numbers an input); the answer callback reads the prompts and texts of the positions it is asked
for, FETCH_CHUNK at a time, and answers are appended to a second table as they arrive. The result
table the rewritten SQL reads is created from both once every input has its answer, so a task that
fails leaves none behind. Every statement runs on one thread of its own, one at a time, so the event
loop never waits for DuckDB.
"""

from __future__ import annotations

import asyncio
import hashlib
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Iterator, Sequence, TypeVar

import duckdb
import numpy as np

from .rewrite import ANSWER, MODEL, PROMPT, TEXT

FETCH_CHUNK = 4096
"""Inputs per statement that reads prompts and texts."""
T = TypeVar("T")


class TaskInputs:
    def __init__(self, conn: duckdb.DuckDBPyConnection, result_table: str):
        self.conn = conn
        self.result_table = result_table
        self.inputs_table = f"{result_table}__inputs"
        self.answers_table = f"{result_table}__answers"
        self.counts = np.zeros(0, dtype=np.int64)
        """Rows of each input, by position."""
        self.keys = np.zeros(0, dtype=np.uint64)
        """md5_number_lower(prompt || chr(0) || text) of each input, by position."""
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="smart-llm-inputs")

    @property
    def tables(self) -> tuple[str, str]:
        """The temporary tables this holds while the task runs."""
        return self.inputs_table, self.answers_table

    def materialize(self, input_sql: str) -> None:
        """Run the input query into the inputs table (raises duckdb.Error when it fails)."""
        self.conn.execute(f"CREATE OR REPLACE TEMP TABLE {self.inputs_table} AS "
                          f"SELECT (row_number() OVER (ORDER BY prompt, text) - 1)::BIGINT AS i, prompt, text, "
                          f"n::BIGINT AS n, md5_number_lower(prompt || chr(0) || text)::UBIGINT AS key "
                          f"FROM ({input_sql}) ORDER BY i")
        self.conn.execute(f"CREATE OR REPLACE TEMP TABLE {self.answers_table} "
                          f"(i BIGINT, answer VARCHAR, model VARCHAR)")
        columns = self.conn.execute(f"SELECT n, key FROM {self.inputs_table} ORDER BY i").fetchnumpy()
        self.counts = np.asarray(columns["n"], dtype=np.int64)
        self.keys = np.asarray(columns["key"], dtype=np.uint64)

    def __len__(self) -> int:
        return len(self.counts)

    async def on_thread(self, action: Callable[..., T], *args) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._thread, action, *args)

    def read(self, positions: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        """The prompts and texts of `positions`, in their order."""
        wanted = np.asarray(positions, dtype=np.int64)
        order = np.argsort(wanted, kind="stable")
        prompts, texts = np.empty(len(wanted), dtype=object), np.empty(len(wanted), dtype=object)
        for start in range(0, len(wanted), FETCH_CHUNK):
            places = order[start:start + FETCH_CHUNK]
            rows = _read_positions(self.conn, self.inputs_table, wanted[places])
            if len(rows["i"]) != len(places) or not np.array_equal(rows["i"], wanted[places]):
                raise RuntimeError(f"{self.inputs_table} holds no input at some of the positions asked for")
            prompts[places], texts[places] = rows["prompt"], rows["text"]
        return prompts, texts

    def in_order(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Every input's prompt and text, FETCH_CHUNK at a time, in position order."""
        for start in range(0, len(self), FETCH_CHUNK):
            rows = self.conn.execute(f"SELECT prompt, text FROM {self.inputs_table} WHERE i >= ? AND i < ? "
                                     f"ORDER BY i", [start, start + FETCH_CHUNK]).fetchnumpy()
            yield rows["prompt"], rows["text"]

    def write(self, items: np.ndarray, answers: np.ndarray, model: str) -> None:
        """Append the answers of `items` (None for an invalid one), all given by `model`."""
        _append_answers(self.conn, self.answers_table, np.asarray(items, dtype=np.int64),
                        np.asarray(answers, dtype=object), model)

    def finish(self) -> dict[str, int]:
        """Create the result table from the inputs and their answers; returns the answers per model.
        Every input must have exactly one answer."""
        answered, distinct = self.conn.execute(f"SELECT count(*), count(DISTINCT i) FROM {self.answers_table}").fetchone()
        if answered != len(self) or distinct != len(self):
            raise RuntimeError(f"{self.answers_table} holds {answered} answers to {distinct} of {len(self)} inputs")
        self.conn.execute(f"CREATE OR REPLACE TEMP TABLE {self.result_table} AS "
                          f"SELECT inputs.prompt AS {PROMPT}, inputs.text AS {TEXT}, answers.answer AS {ANSWER}, "
                          f"answers.model AS {MODEL} FROM {self.inputs_table} AS inputs "
                          f"JOIN {self.answers_table} AS answers USING (i) ORDER BY i")
        by_model = self.conn.execute(f"SELECT model, count(*) FROM {self.answers_table} WHERE model IS NOT NULL "
                                     f"GROUP BY model ORDER BY min(i)").fetchall()
        return {model: count for model, count in by_model}

    def close(self) -> None:
        """Stop the thread and drop the inputs and answers tables (the result table stays)."""
        self._thread.shutdown(wait=True)
        for table in self.tables:
            try:
                self.conn.execute(f"DROP TABLE IF EXISTS {table}")
            except duckdb.Error:
                pass


def _read_positions(conn: duckdb.DuckDBPyConnection, table: str, positions: np.ndarray) -> dict:
    """DuckDB scans the local NumPy arrays named in the statement."""
    smart_sql_positions = {"i": positions}  # noqa: F841 (read by the statement)
    return conn.execute(f"SELECT i, prompt, text FROM {table} SEMI JOIN smart_sql_positions USING (i) "
                        f"WHERE i BETWEEN ? AND ? ORDER BY i",
                        [int(positions[0]), int(positions[-1])]).fetchnumpy()


def _append_answers(conn: duckdb.DuckDBPyConnection, table: str, items: np.ndarray, answers: np.ndarray,
                    model: str) -> None:
    smart_sql_answers = {"i": items, "answer": answers}  # noqa: F841 (read by the statement)
    conn.execute(f"INSERT INTO {table} SELECT i, answer, ? FROM smart_sql_answers", [model])


def input_key(prompt: str, text: str) -> int:
    """An input's key as DuckDB computes it: md5_number_lower(prompt || chr(0) || text)."""
    return int.from_bytes(hashlib.md5(f"{prompt}\0{text}".encode()).digest()[8:], "little")


class MemoryInputs:
    """A task's inputs already on hand as lists (an engine adapter read them), with the interface of
    TaskInputs: the answers are kept in position order for the caller to write back."""

    def __init__(self, prompts: Sequence[str], texts: Sequence[str], counts: Sequence[int]):
        self.prompts = np.asarray(prompts, dtype=object)
        self.texts = np.asarray(texts, dtype=object)
        self.counts = np.asarray(counts, dtype=np.int64)
        self.keys = np.fromiter((input_key(p, t) for p, t in zip(prompts, texts)), dtype=np.uint64,
                                count=len(self.counts))
        self.answers = np.full(len(self.counts), None, dtype=object)
        self.models = np.full(len(self.counts), None, dtype=object)

    def __len__(self) -> int:
        return len(self.counts)

    async def on_thread(self, action: Callable[..., T], *args) -> T:
        return action(*args)

    def read(self, positions: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        wanted = np.asarray(positions, dtype=np.int64)
        return self.prompts[wanted], self.texts[wanted]

    def in_order(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        for start in range(0, len(self), FETCH_CHUNK):
            yield self.prompts[start:start + FETCH_CHUNK], self.texts[start:start + FETCH_CHUNK]

    def write(self, items: np.ndarray, answers: np.ndarray, model: str) -> None:
        self.answers[items] = answers
        self.models[items] = model

    def finish(self) -> dict[str, int]:
        models, counts = np.unique(self.models[np.not_equal(self.models, None)].astype(str), return_counts=True)
        return dict(zip(models.tolist(), counts.tolist()))
