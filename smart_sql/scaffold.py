"""`smart-sql init`: the files of a new, buildable project."""

from __future__ import annotations

import re
from pathlib import Path

from .errors import ConfigError

_FILES = {
    "smart_sql_project.yml": """\
name: {name}
profile: {name}

model-paths: [models]
macro-paths: [macros]
seed-paths: [seeds]
target-path: target

vars:
  min_amount: 0

models:
  staging:
    +materialized: view
  marts:
    +materialized: table
""",
    "profiles.yml": """\
{name}:
  target: dev
  outputs:
    dev:
      type: duckdb
      path: target/dev.duckdb
      llm:
        provider: simulated
""",
    "seeds/orders.csv": """\
order_id,customer,amount_cents,ordered_at
1,alice,1250,2024-01-03
2,bob,830,2024-01-04
3,alice,4200,2024-01-09
""",
    "macros/cents_to_dollars.sql": """\
{{% macro cents_to_dollars(column) %}}round({{{{ column }}}} / 100.0, 2){{% endmacro %}}
""",
    "models/staging/stg_orders.sql": """\
select
    order_id,
    customer,
    {{{{ cents_to_dollars('amount_cents') }}}} as amount,
    cast(ordered_at as date) as ordered_at
from {{{{ ref('orders') }}}}
""",
    "models/marts/customer_totals.sql": """\
select customer, count(*) as orders, sum(amount) as total
from {{{{ ref('stg_orders') }}}}
where amount >= {{{{ var('min_amount') }}}}
group by customer
""",
    "models/schema.yml": """\
models:
  - name: stg_orders
    description: One row per order.
    columns:
      - name: order_id
        tests: [not_null, unique]
  - name: customer_totals
    description: Orders and spend per customer.
    columns:
      - name: customer
        tests: [not_null, unique]
""",
    ".gitignore": "target/\n",
}


def create_project(path: Path) -> Path:
    name = path.name
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        raise ConfigError(f"{name!r} is not a valid project name", hint="use letters, digits and underscores")
    if path.exists() and any(path.iterdir()):
        raise ConfigError(f"{path} already exists and is not empty", hint="choose a new folder name")
    for relpath, text in _FILES.items():
        file = path / relpath
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_text(text.format(name=name), encoding="utf-8")
    return path.resolve()
