"""smart-sql: a dbt-style SQL transformation engine on DuckDB with SMART_LLM columns."""

__version__ = "0.1.0"


def __getattr__(name):
    if name == "sql":
        from .api import sql

        return sql
    raise AttributeError(f"module 'smart_sql' has no attribute {name!r}")
