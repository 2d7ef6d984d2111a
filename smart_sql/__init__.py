"""smart-sql: a dbt-style SQL transformation engine on DuckDB with SMART_LLM columns."""

__version__ = "0.1.0"
