"""The result of `run_query`: a small table shaped like the agate table dbt returns (`.rows`,
`.columns`, `.columns[0].values()`, `.column_names`, iteration over rows)."""

from __future__ import annotations

from typing import Any, Iterator, Sequence


class Row(tuple):
    """A row: by position (`row[0]`) or by column name (`row['status']`)."""

    names: tuple[str, ...] = ()

    def __new__(cls, values: Sequence[Any], names: tuple[str, ...]):
        row = super().__new__(cls, values)
        row.names = names
        return row

    def __getitem__(self, key):
        if isinstance(key, str):
            return tuple.__getitem__(self, self._index(key))
        return tuple.__getitem__(self, key)

    def get(self, key: str, default: Any = None) -> Any:
        return self[key] if key in self.names else default

    def keys(self) -> tuple[str, ...]:
        return self.names

    def values(self) -> tuple[Any, ...]:
        return tuple(self)

    def items(self) -> list[tuple[str, Any]]:
        return list(zip(self.names, self))

    def dict(self) -> dict[str, Any]:
        return dict(self.items())

    def _index(self, name: str) -> int:
        try:
            return self.names.index(name)
        except ValueError:
            raise KeyError(f"no column {name!r}; the columns are {', '.join(self.names)}") from None


class Column:
    def __init__(self, name: str, data_type: str, values: tuple[Any, ...]):
        self.name = name
        self.data_type = data_type
        self._values = values

    def values(self) -> tuple[Any, ...]:
        return self._values

    def __iter__(self) -> Iterator[Any]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __getitem__(self, index: int) -> Any:
        return self._values[index]

    def __repr__(self) -> str:
        return f"<Column {self.name} {self.data_type}>"


class Columns(tuple):
    """The columns: by position or by name."""

    def __getitem__(self, key):
        if isinstance(key, str):
            for column in self:
                if column.name == key:
                    return column
            raise KeyError(f"no column {key!r}; the columns are {', '.join(c.name for c in self)}")
        return tuple.__getitem__(self, key)

    def keys(self) -> list[str]:
        return [column.name for column in self]


class Table:
    def __init__(self, names: Sequence[str], types: Sequence[str], rows: Sequence[Sequence[Any]]):
        self.column_names = tuple(names)
        self.column_types = tuple(types)
        self.rows = tuple(Row(row, self.column_names) for row in rows)
        self.columns = Columns(Column(name, kind, tuple(row[i] for row in self.rows))
                               for i, (name, kind) in enumerate(zip(self.column_names, self.column_types)))

    @classmethod
    def from_cursor(cls, cursor) -> Table:
        description = cursor.description or []
        rows = cursor.fetchall() if description else []
        return cls([d[0] for d in description], [str(d[1]) for d in description], rows)

    def __iter__(self) -> Iterator[Row]:
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)

    def __bool__(self) -> bool:
        return True

    def print_table(self, max_rows: int = 20, **_: Any) -> None:
        print(" | ".join(self.column_names))
        for row in self.rows[:max_rows]:
            print(" | ".join(str(value) for value in row))

    def __repr__(self) -> str:
        return f"<Table {len(self.rows)} rows: {', '.join(self.column_names)}>"
