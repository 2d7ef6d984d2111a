"""Opening the SparkSession a `type: spark` target names, with a clear message when pyspark or Java
is missing."""

from __future__ import annotations

import os
import shutil
from typing import TYPE_CHECKING

from ..errors import ConfigError

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from ..profiles import Target
    from .spark_profile import SparkSettings

INSTALL_PYSPARK = "pip install 'smart-sql[spark]' (pyspark 4)"
INSTALL_JAVA = "install Java 17 or later, e.g. apt-get install openjdk-17-jre-headless, or set JAVA_HOME"


def require_pyspark(target: Target) -> None:
    try:
        import pyspark  # noqa: F401
    except ImportError:
        raise ConfigError(f"target {target.name!r} is `type: spark`, but pyspark is not installed",
                          path=target.profiles_path, hint=INSTALL_PYSPARK) from None


def java_missing() -> bool:
    home = os.environ.get("JAVA_HOME")
    return not (home and os.path.exists(os.path.join(home, "bin", "java"))) and shutil.which("java") is None


def open_session(target: Target) -> tuple[SparkSession, bool]:
    """The target's session and whether it was made here (an active one, e.g. a notebook's, is reused)."""
    require_pyspark(target)
    settings = target.spark
    if settings.method == "connect":
        return _connect(target, settings), True
    if java_missing():
        raise ConfigError(f"target {target.name!r}: a local Spark session needs Java, and none was found",
                          path=target.profiles_path, hint=INSTALL_JAVA)
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        quiet_query_errors()
        return active, False
    builder = (SparkSession.builder.master(settings.master).appName("smart-sql")
               .config("spark.sql.warehouse.dir", settings.warehouse_dir)
               .config("spark.hadoop.javax.jdo.option.ConnectionURL",
                       f"jdbc:derby:;databaseName={settings.metastore_dir};create=true")
               .config("spark.ui.showConsoleProgress", "false")
               .config("spark.driver.extraJavaOptions", f"-Dderby.stream.error.file={settings.metastore_dir}.log"))
    for key, value in settings.config:
        builder = builder.config(key, value)
    try:
        session = builder.enableHiveSupport().getOrCreate()
    except Exception as error:
        raise ConfigError(f"target {target.name!r}: cannot start Spark (master {settings.master}): "
                          f"{str(error).splitlines()[0]}", path=target.profiles_path,
                          hint="check `master:` and `spark_config:`; " + INSTALL_JAVA) from None
    session.sparkContext.setLogLevel("ERROR")
    quiet_query_errors()
    return session, True


def quiet_query_errors() -> None:
    """pyspark logs every failing query's JVM stack trace; the build reports the error itself."""
    import logging

    for name in ("SQLQueryContextLogger", "DataFrameQueryContextLogger"):
        logging.getLogger(name).disabled = True


def _connect(target: Target, settings: SparkSettings) -> SparkSession:
    from pyspark.sql import SparkSession

    try:
        return SparkSession.builder.remote(settings.remote).getOrCreate()
    except ImportError as error:
        raise ConfigError(f"target {target.name!r}: Spark Connect needs pyspark's connect extra: {error}",
                          path=target.profiles_path, hint="pip install 'pyspark[connect]'") from None
    except Exception as error:
        raise ConfigError(f"target {target.name!r}: cannot reach the Spark Connect server {settings.remote}: "
                          f"{str(error).splitlines()[0]}", path=target.profiles_path,
                          hint="check `host:` and `port:`, and that the server runs") from None
