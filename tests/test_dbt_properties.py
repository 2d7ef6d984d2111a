"""Every key of dbt's YAML property files (models, columns, seeds, sources, groups, exposures) is
accepted: tests/fixtures/dbt_properties uses them all and builds what dbt-core 1.11.16 builds (constraints
without an enforced contract change nothing, as in dbt); manifest.json lists the group and exposure."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from conftest import relations

FIXTURE = Path(__file__).parent / "fixtures" / "dbt_properties"


def test_every_property_key_is_accepted_and_the_build_is_dbts(tmp_path, cli, monkeypatch):
    root = Path(shutil.copytree(FIXTURE, tmp_path / "props"))
    monkeypatch.chdir(root)
    result = cli("build")
    assert result.exit_code == 0, result.output
    assert "Done. PASS=5 WARN=0 ERROR=0 SKIP=0 TOTAL=5" in result.output
    assert relations(root / "target/dev.duckdb") == {
        "dev.main.items": ("VIEW", [("id", "INTEGER"), ("name", "VARCHAR")], [(1, "a")]),
        "dev.main.raw_items": ("BASE TABLE", [("id", "INTEGER"), ("name", "VARCHAR")], [(1, "a")])}
    manifest = json.loads((root / "target/manifest.json").read_text())
    assert manifest["groups"]["group.shop.catalogue"]["owner"] == {"name": "Catalogue team", "email": "cat@example.com"}
    assert manifest["exposures"]["exposure.shop.item_dashboard"]["depends_on"] == ["ref('items')"]
