"""`type: spark` outputs of profiles.yml, with dbt-spark's keys where it has them.

    dev_spark:
      type: spark
      method: session            # a pyspark SparkSession in this process (dbt-spark's `session`)
      master: local[2]           # or spark://host:7077, yarn, ...
      schema: analytics          # the Spark database models go to (dbt-spark: schema = database)
      warehouse_dir: target/spark-warehouse
      spark_config: {spark.sql.shuffle.partitions: 8}   # also dbt-spark's `server_side_parameters`
    remote:
      type: spark
      method: connect            # Spark Connect: sc://host:port
      host: spark.example.com
      port: 15002
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

from ..errors import ConfigError
from ..llm.config import parse_llm_config

if TYPE_CHECKING:
    from ..profiles import Target

SPARK_KEYS = ("type", "method", "schema", "database", "host", "port", "master", "spark_config",
              "server_side_parameters", "warehouse_dir", "threads", "llm", "connect_retries", "connect_timeout")
METHODS = ("session", "connect")
CATALOG = "spark_catalog"
"""Spark's name for its session catalog: `target.database` in templates; relations are `schema.name`."""
DEFAULT_CONNECT_PORT = 15002


@dataclass(frozen=True)
class SparkSettings:
    method: str
    master: str = "local[*]"
    host: str | None = None
    port: int = DEFAULT_CONNECT_PORT
    config: tuple[tuple[str, str], ...] = ()
    warehouse_dir: str | None = None
    """Absolute; None with `method: connect` (the server's own)."""
    connect_retries: int = 0
    connect_timeout: int = 10

    @property
    def remote(self) -> str:
        return f"sc://{self.host}:{self.port}"

    @property
    def metastore_dir(self) -> str | None:
        """The embedded Hive metastore of a session, beside its warehouse: the relations outlive the session."""
        return str(Path(self.warehouse_dir).parent / "metastore_db") if self.warehouse_dir else None


def spark_target(output: Mapping[str, Any], profile_name: str, target_name: str, project_dir: Path,
                 path: Path) -> Target:
    from ..profiles import Target

    where = f"target {target_name!r} of profile {profile_name!r}"
    unknown = sorted(set(output) - set(SPARK_KEYS))
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) for `type: spark`: {', '.join(map(str, unknown))}", path=path,
                          hint=f"allowed: {', '.join(SPARK_KEYS)}")
    method = output.get("method", "session")
    if method not in METHODS:
        raise ConfigError(f"{where}: `method: {method}` is not supported on Spark", path=path,
                          hint="use `method: session` (a SparkSession with `master`) or `method: connect` "
                               "(a Spark Connect server at `host`, `port`); dbt-spark's thrift, http and odbc "
                               "methods need a HiveServer2 or ODBC driver smart-sql does not talk to")
    schema = output.get("schema", "default")
    if not isinstance(schema, str) or not schema:
        raise ConfigError(f"{where}: `schema` must be a Spark database name", path=path)
    database = output.get("database")
    if database is not None and database != schema:
        raise ConfigError(f"{where}: `database: {database}` differs from `schema: {schema}`", path=path,
                          hint="on Spark a schema is a database: leave `database` out or give it the schema's "
                               "value (as dbt-spark)")
    threads = _whole(output.get("threads", 1), "threads", where, path, least=1)
    settings = SparkSettings(method=method, master=str(output.get("master", "local[*]")),
                             host=_host(output, method, where, path),
                             port=_whole(output.get("port", DEFAULT_CONNECT_PORT), "port", where, path, least=1),
                             config=_config(output, where, path),
                             warehouse_dir=_warehouse(output.get("warehouse_dir"), method, project_dir),
                             connect_retries=_whole(output.get("connect_retries", 0), "connect_retries", where, path),
                             connect_timeout=_whole(output.get("connect_timeout", 10), "connect_timeout", where,
                                                    path, least=1))
    return Target(profile_name=profile_name, name=target_name, type="spark", database=CATALOG, schema=schema,
                  llm=parse_llm_config(output.get("llm"), source=str(path)), profiles_path=path, catalog=CATALOG,
                  threads=threads, spark=settings)


def _host(output: Mapping[str, Any], method: str, where: str, path: Path) -> str | None:
    host = output.get("host")
    if method == "connect" and not (isinstance(host, str) and host):
        raise ConfigError(f"{where}: `method: connect` needs `host:` (and `port:`, default "
                          f"{DEFAULT_CONNECT_PORT}) of a Spark Connect server", path=path)
    return str(host) if host else None


def _config(output: Mapping[str, Any], where: str, path: Path) -> tuple[tuple[str, str], ...]:
    merged: dict[str, str] = {}
    for key in ("server_side_parameters", "spark_config"):
        value = output.get(key) or {}
        if not isinstance(value, Mapping):
            raise ConfigError(f"{where}: `{key}` must map Spark settings to values", path=path,
                              hint="e.g. spark_config: {spark.sql.shuffle.partitions: 8}")
        merged.update({str(name): _text(item) for name, item in value.items()})
    return tuple(merged.items())


def _text(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def _warehouse(value: Any, method: str, project_dir: Path) -> str | None:
    if method == "connect":
        return None
    folder = str(value or "target/spark-warehouse")
    if "://" in folder or Path(folder).is_absolute():
        return folder
    return str((project_dir / folder).resolve())


def _whole(value: Any, key: str, where: str, path: Path, least: int = 0) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < least:
        raise ConfigError(f"{where}: `{key}` must be a whole number of at least {least}, got {value!r}", path=path)
    return value
