"""The engine adapter interface: run a statement, create a table or view as atomically as the engine
allows, list relations, load a seed, read a task's distinct inputs in chunks, write a task's answers
back, drop temporaries. SQL given to an adapter is in its own dialect (`dialect`)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Iterable, Iterator, Sequence

if TYPE_CHECKING:
    from ..project import Relation, SeedNode

Inputs = tuple[list[str], list[str], list[int]]
"""A chunk of a task's distinct inputs: prompts, texts and how many rows each stands for."""
Answers = tuple[Sequence[str], Sequence[str], Sequence[str | None], Sequence[str | None]]
"""A chunk of a task's answers: prompts, texts, answers and the model of each."""
CHUNK_ROWS = 50_000


class EngineAdapter(ABC):
    name: str
    """The engine, as a profile's `type` names it."""
    dialect: str
    """sqlglot's name for the engine's SQL dialect."""
    transactional: bool
    """Whether `atomic` really rolls back (DuckDB) or only groups statements (Spark)."""

    @abstractmethod
    def execute(self, sql: str) -> None:
        """Run one statement, discarding any result."""

    @abstractmethod
    def bind(self, sql: str) -> None:
        """Check that a query binds (its tables, columns and types), without running it."""

    def translate(self, sql: str, *, path: str | None = None, model: str | None = None) -> str:
        """A statement written in DuckDB's dialect (as models are), in the engine's own."""
        return sql

    def lookups_elsewise(self, sql: str) -> str | None:
        """A rewritten statement whose answer lookups do not bind, with its lookups in another form the
        engine may accept; None when there is none."""
        return None

    @abstractmethod
    def fetch(self, sql: str, limit: int | None = None) -> tuple[list[str], list[tuple]]:
        """A small result: its column names and (at most `limit`) rows."""

    @abstractmethod
    def relation_kind(self, relation: Relation) -> str | None:
        """'table', 'view', or None when the relation does not exist."""

    @abstractmethod
    def list_relations(self, schema: str) -> dict[str, str]:
        """The relations of a schema (Spark: a database), by name: 'table' or 'view'."""

    @abstractmethod
    def ensure_schema(self, schema: str) -> None: ...

    @abstractmethod
    def create_table(self, relation: Relation, sql: str) -> int:
        """The relation replaced by a table of `sql`'s rows, built aside and swapped in; its row count."""

    @abstractmethod
    def create_view(self, relation: Relation, sql: str) -> None: ...

    @abstractmethod
    def append(self, relation: Relation, sql: str) -> int:
        """`sql`'s rows inserted into the existing table; how many."""

    @abstractmethod
    def replace_by_key(self, relation: Relation, sql: str, unique_key: Sequence[str]) -> int:
        """The table's rows whose key `sql` also yields replaced by `sql`'s rows (dbt's delete+insert)."""

    @abstractmethod
    def load_seed(self, seed: SeedNode) -> int:
        """The seed's CSV file loaded as its table; its row count."""

    @abstractmethod
    def read_inputs(self, sql: str, chunk_rows: int = CHUNK_ROWS) -> Iterator[Inputs]:
        """A task's input query (prompt, text, n) in chunks, ordered by prompt then text, so that every
        engine hands the SMART engine the same inputs in the same order."""

    @abstractmethod
    def write_answers(self, table: str, chunks: Iterable[Answers]) -> None:
        """The answer table a rewritten statement reads (__smart_prompt, __smart_text, __smart_answer,
        __smart_model), written chunk by chunk."""

    @abstractmethod
    def drop_temporary(self, table: str) -> None:
        """Drop an answer table or leftover, ignoring one that is gone."""

    def interrupt(self) -> None:
        """Stop the running statement, from any thread (a build being stopped)."""

    def close(self) -> None:
        """Release what the adapter opened."""

    def __enter__(self) -> EngineAdapter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
