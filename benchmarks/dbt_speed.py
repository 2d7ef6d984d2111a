"""How long `smart-sql build` takes against `dbt build` (dbt-duckdb) on the same generated dbt projects.

    python benchmarks/dbt_speed.py --dbt /work/dbt-venv/bin/dbt --repeat 3 --json

Two projects, written as dbt users write them (dbt_project.yml, profiles.yml, seeds, schema.yml):
- `shop`: 3 seeds, 10 models (staging views, tables, an incremental with a unique_key) and 13 tests;
- `tree`: 8 seeds and 200 models in layers (views, tables, one incremental), each of the later layers
  reading two or three models of the layers before it, with not_null/unique tests on a third of them.
Each tool builds its own copy of each project `--repeat` times, the tools taking turns (the database
kept between runs, so the incremental model is added to, as a nightly run does); the median wall-clock time of the whole
command (process start included) is reported, and the ratio dbt / smart-sql. smart-sql's modules are
byte-compiled first, as `pip install` does (an editable install under PYTHONDONTWRITEBYTECODE would
compile them from source at every start, as dbt's installed modules never are). dbt is looked for at
`--dbt`, else on PATH; without it only smart-sql's times are printed, saying so. `--threads` is
passed to both tools.
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SHOP_SEEDS = {
    "raw_customers": ["id,first_name,country", *(f"{i},name_{i},{['uk', 'fr', 'de'][i % 3]}" for i in range(1, 51))],
    "raw_orders": ["id,customer_id,ordered_at,status",
                   *(f"{i},{1 + i % 50},2024-01-{1 + i % 28:02d},{['placed', 'shipped', 'returned'][i % 3]}"
                     for i in range(1, 201))],
    "raw_payments": ["id,order_id,method,amount",
                     *(f"{i},{1 + i % 200},{['card', 'cash'][i % 2]},{(i * 37) % 500 / 10}" for i in range(1, 301))],
}

SHOP_MODELS = {
    "staging/stg_customers": "select id as customer_id, first_name, country from {{ ref('raw_customers') }}",
    "staging/stg_orders": "select id as order_id, customer_id, ordered_at, status from {{ ref('raw_orders') }}",
    "staging/stg_payments": "select id as payment_id, order_id, method, amount from {{ ref('raw_payments') }}",
    "marts/order_payments": ("select order_id, sum(amount) as amount, count(*) as payments\n"
                             "from {{ ref('stg_payments') }} group by order_id"),
    "marts/orders": ("select o.order_id, o.customer_id, o.ordered_at, o.status, coalesce(p.amount, 0) as amount\n"
                     "from {{ ref('stg_orders') }} o left join {{ ref('order_payments') }} p using (order_id)"),
    "marts/customers": ("select c.customer_id, c.first_name, c.country, count(o.order_id) as orders,\n"
                        "  coalesce(sum(o.amount), 0) as lifetime_value\n"
                        "from {{ ref('stg_customers') }} c left join {{ ref('orders') }} o using (customer_id)\n"
                        "group by all"),
    "marts/country_revenue": ("select country, sum(lifetime_value) as revenue from {{ ref('customers') }} "
                              "group by country"),
    "marts/daily_orders": ("{{ config(materialized='incremental', unique_key='ordered_at') }}\n"
                           "select ordered_at, count(*) as orders, sum(amount) as amount from {{ ref('orders') }}\n"
                           "{% if is_incremental() %}where ordered_at >= (select max(ordered_at) from {{ this }})"
                           "{% endif %}\ngroup by ordered_at"),
    "marts/payment_methods": ("{{ config(materialized='view') }}\n"
                              "select method, count(*) as payments, sum(amount) as amount\n"
                              "from {{ ref('stg_payments') }} group by method"),
    "marts/returned_orders": "select * from {{ ref('orders') }} where status = 'returned'",
}

SHOP_SCHEMA = """version: 2
models:
  - name: stg_customers
    columns:
      - name: customer_id
        data_tests: [unique, not_null]
  - name: stg_orders
    columns:
      - name: order_id
        data_tests: [unique, not_null]
      - name: status
        data_tests:
          - accepted_values:
              arguments:
                values: [placed, shipped, returned]
  - name: orders
    columns:
      - name: order_id
        data_tests: [unique, not_null]
      - name: customer_id
        data_tests:
          - relationships:
              arguments:
                to: ref('stg_customers')
                field: customer_id
  - name: customers
    columns:
      - name: customer_id
        data_tests: [unique, not_null]
  - name: daily_orders
    columns:
      - name: ordered_at
        data_tests: [unique, not_null]
  - name: country_revenue
    columns:
      - name: country
        data_tests: [unique]
"""

TREE_SEEDS = 8
TREE_MODELS = 200
TREE_STAGING = 40


def write_project(root: Path, name: str, seeds: dict[str, list[str]], models: dict[str, str], schema: str,
                  threads: int) -> Path:
    """A dbt project in `root`: views by default, tables under marts/ (as dbt users configure it)."""
    root.mkdir(parents=True)
    (root / "dbt_project.yml").write_text(
        f"name: {name}\nversion: '1.0.0'\nconfig-version: 2\nprofile: {name}\n"
        f"models:\n  {name}:\n    +materialized: view\n    marts:\n      +materialized: table\n",
        encoding="utf-8")
    (root / "profiles.yml").write_text(
        f"{name}:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n      path: target/{name}.duckdb\n"
        f"      threads: {threads or 1}\n", encoding="utf-8")
    for seed, lines in seeds.items():
        (root / "seeds").mkdir(exist_ok=True)
        (root / "seeds" / f"{seed}.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    for path, sql in models.items():
        file = root / "models" / f"{path}.sql"
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_text(sql + "\n", encoding="utf-8")
    (root / "models" / "schema.yml").write_text(schema, encoding="utf-8")
    return root


def shop_project(root: Path, threads: int) -> Path:
    return write_project(root, "shop", SHOP_SEEDS, SHOP_MODELS, SHOP_SCHEMA, threads)


def tree_project(root: Path, threads: int, models: int = TREE_MODELS) -> Path:
    """Seeds, then `models` models: staging views over the seeds, then layers of tables and views each
    reading two or three earlier models; one incremental; tests on every third model."""
    rng = random.Random(7)
    seeds = {f"raw_{i}": ["id,grp,amount", *(f"{r},{r % 7},{(r * (i + 3)) % 101}" for r in range(1, 101))]
             for i in range(TREE_SEEDS)}
    sql: dict[str, str] = {}
    names: list[str] = []
    for i in range(min(TREE_STAGING, models)):
        name = f"stg_{i:03d}"
        sql[f"staging/{name}"] = f"select id, grp, amount + {i} as amount from {{{{ ref('raw_{i % TREE_SEEDS}') }}}}"
        names.append(name)
    for i in range(len(names), models):
        name = f"m_{i:03d}"
        first, *others = rng.sample(names[max(0, len(names) - 60):], k=rng.choice((2, 3)))
        joins = "".join(f"\njoin {{{{ ref('{other}') }}}} t{n} using (id)" for n, other in enumerate(others))
        body = (f"select t.id, t.grp, t.amount + {' + '.join(f't{n}.amount' for n in range(len(others)))} as amount"
                f"\nfrom {{{{ ref('{first}') }}}} t{joins}")
        if i == models // 2:
            body = ("{{ config(materialized='incremental', unique_key='id') }}\n" + body
                    + "\n{% if is_incremental() %}where t.id > (select max(id) - 10 from {{ this }}){% endif %}")
        elif i % 5 == 0:
            body = "{{ config(materialized='view') }}\n" + body
        sql[f"marts/{name}"] = body
        names.append(name)
    tested = "".join(f"  - name: {name}\n    columns:\n      - name: id\n        data_tests: [not_null, unique]\n"
                     for name in names[::3])
    return write_project(root, "tree", seeds, sql, f"version: 2\nmodels:\n{tested}", threads)


def smart_sql_command() -> list[str]:
    import smart_sql

    compileall.compile_dir(Path(smart_sql.__file__).parent, quiet=1)
    return [sys.executable, "-c", "from smart_sql.cli import main; main()"]


def find_dbt(given: str | None) -> str | None:
    if given:
        return given if Path(given).is_file() else None
    return shutil.which("dbt")


def time_build(command: list[str], project: Path, threads: int) -> float:
    started = time.perf_counter()
    flags = ["--threads", str(threads)] if threads else []
    done = subprocess.run([*command, "build", "--project-dir", str(project), "--profiles-dir", str(project),
                           *flags], cwd=project, capture_output=True, text=True, check=False,
                          env={**os.environ, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"})
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command[:1])} build failed in {project}:\n{done.stdout[-3000:]}{done.stderr[-3000:]}")
    return seconds


def measure(name: str, make, work: Path, tools: dict[str, list[str]], repeat: int, threads: int) -> dict:
    """Each repetition builds with every tool in turn, so that a change in the machine's load falls on
    both."""
    row: dict = {"project": name, "threads": threads, "repeat": repeat}
    projects = {tool: make(work / f"{name}_{tool}", threads) for tool in tools}
    times: dict[str, list[float]] = {tool: [] for tool in tools}
    for _ in range(repeat):
        for tool, command in tools.items():
            times[tool].append(time_build(command, projects[tool], threads))
    for tool in tools:
        row[f"seconds_{tool}"] = round(statistics.median(times[tool]), 3)
        row[f"runs_{tool}"] = [round(t, 3) for t in times[tool]]
    row["models"] = sum(1 for _ in (projects["smart_sql"] / "models").rglob("*.sql"))
    if "dbt" in tools:
        row["ratio"] = round(row["seconds_dbt"] / row["seconds_smart_sql"], 2)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dbt", default=None, help="the dbt executable (default: `dbt` on PATH)")
    parser.add_argument("--repeat", type=int, default=3, help="builds per tool and project; the median is shown")
    parser.add_argument("--threads", type=int, default=None,
                        help="passed to both tools (default: the profile's threads: 1)")
    parser.add_argument("--models", type=int, default=TREE_MODELS, help="models of the tree project")
    parser.add_argument("--only", choices=("shop", "tree"), default=None)
    parser.add_argument("--json", action="store_true", help="one JSON object per project")
    args = parser.parse_args()
    dbt = find_dbt(args.dbt)
    tools = {"smart_sql": smart_sql_command(), **({"dbt": [dbt]} if dbt else {})}
    if not dbt and not args.json:
        print(f"dbt was not found ({'no file ' + args.dbt if args.dbt else 'none on PATH'}): "
              f"timing smart-sql alone")
    projects = {"shop": shop_project, "tree": lambda root, threads: tree_project(root, threads, args.models)}
    with tempfile.TemporaryDirectory(prefix="dbt_speed_") as work:
        for name, make in projects.items():
            if args.only not in (None, name):
                continue
            row = measure(name, make, Path(work), tools, args.repeat, args.threads)
            row["dbt_found"] = dbt is not None
            if args.json:
                print(json.dumps(row), flush=True)
            else:
                line = f"{name}: {row['models']} models, smart-sql {row['seconds_smart_sql']:.2f}s"
                if dbt:
                    line += f", dbt {row['seconds_dbt']:.2f}s, dbt / smart-sql = {row['ratio']:.1f}x"
                print(line + f" (median of {args.repeat}, threads {args.threads})", flush=True)


if __name__ == "__main__":
    main()
