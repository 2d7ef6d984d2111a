"""Where dbt keeps profiles.yml: `$DBT_PROFILES_DIR`, then `~/.dbt/` (dbt-core's order)."""

from __future__ import annotations

import os
from pathlib import Path

DBT_HOME = Path("~/.dbt")


def dbt_profiles_dirs() -> list[Path]:
    folder = os.environ.get("DBT_PROFILES_DIR")
    return ([Path(folder).expanduser()] if folder else []) + [DBT_HOME.expanduser()]
