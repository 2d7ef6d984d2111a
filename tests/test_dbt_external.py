"""dbt-duckdb's `external` materialization. tests/fixtures/dbt_external is built twice; the files
written and the views over them are what dbt-core 1.11.16 with dbt-duckdb 1.11.1 wrote and built
(parquet by default under the profile's external_root, csv with a delimiter, json by the location's
extension, a partitioned folder, an empty result, and a table reading an external model)."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

from conftest import relations

FIXTURE = Path(__file__).parent / "fixtures" / "dbt_external"
SHIPMENTS = [(1, "north", date(2024, 2, 1), 12.5), (2, "south", date(2024, 2, 1), 3.0),
             (3, "north", date(2024, 2, 2), 7.25), (4, "east", date(2024, 2, 3), 1.0)]
COLUMNS = [("shipment_id", "INTEGER"), ("region", "VARCHAR"), ("shipped_on", "DATE"), ("weight_kg", "DOUBLE")]
BUILT = {
    "exports.main.by_region": ("VIEW", [("shipment_id", "INTEGER"), ("weight_kg", "DOUBLE"), ("region", "VARCHAR")],
                               [(1, 12.5, "north"), (2, 3.0, "south"), (3, 7.25, "north"), (4, 1.0, "east")]),
    "exports.main.heavy_json": ("VIEW", [("shipment_id", "BIGINT"), ("weight_kg", "DOUBLE")], [(1, 12.5), (3, 7.25)]),
    "exports.main.none_shipped": ("VIEW", [("shipment_id", "INTEGER"), ("region", "VARCHAR")], []),
    "exports.main.region_weights": ("BASE TABLE", [("region", "VARCHAR"), ("total_kg", "DOUBLE"), ("shipments", "BIGINT")],
                                    [("east", 1.0, 1), ("north", 19.75, 2), ("south", 3.0, 1)]),
    "exports.main.shipments": ("BASE TABLE", COLUMNS, SHIPMENTS),
    "exports.main.shipments_csv": ("VIEW", [("shipment_id", "BIGINT"), ("region", "VARCHAR"), ("weight_kg", "DOUBLE")],
                                   [(1, "north", 12.5), (2, "south", 3.0), (3, "north", 7.25), (4, "east", 1.0)]),
    "exports.main.shipments_parquet": ("VIEW", COLUMNS, SHIPMENTS),
}
FILES = ["output/by_region/region=east/data_0.parquet", "output/by_region/region=north/data_0.parquet",
         "output/by_region/region=south/data_0.parquet", "output/feeds/.gitkeep", "output/feeds/heavy.json",
         "output/none_shipped.parquet", "output/shipments_csv.csv", "output/shipments_parquet.parquet"]


def _copy(tmp_path: Path, monkeypatch) -> Path:
    root = Path(shutil.copytree(FIXTURE, tmp_path / FIXTURE.name))
    monkeypatch.chdir(root)
    return root


def test_external_models_write_the_files_and_views_dbt_writes(tmp_path, cli, monkeypatch):
    root = _copy(tmp_path, monkeypatch)
    for _ in range(2):
        result = cli("build")
        assert result.exit_code == 0, result.output
        assert "Done. PASS=7 WARN=0 ERROR=0 SKIP=0 TOTAL=7" in result.output
        assert relations(root / "target/exports.duckdb") == BUILT
    assert sorted(p.relative_to(root).as_posix() for p in (root / "output").rglob("*") if p.is_file()) == FILES
    assert (root / "output/shipments_csv.csv").read_text() == \
        "shipment_id|region|weight_kg\n1|north|12.5\n2|south|3.0\n3|north|7.25\n4|east|1.0\n"
    assert (root / "output/feeds/heavy.json").read_text() == \
        '{"shipment_id":1,"weight_kg":12.5}\n{"shipment_id":3,"weight_kg":7.25}\n'


def _refused(tmp_path, cli, monkeypatch, config: str) -> str:
    root = _copy(tmp_path, monkeypatch)
    (root / "models/shipments_csv.sql").write_text(f"{{{{ config({config}) }}}}\nselect 1 as x\n")
    result = cli("build")
    assert result.exit_code == 2
    assert "models/shipments_csv.sql" in result.output
    return result.output


def test_an_unknown_format_is_refused(tmp_path, cli, monkeypatch):
    assert "model 'shipments_csv': format 'xlsx' is not one of parquet, csv, json" in \
        _refused(tmp_path, cli, monkeypatch, "format='xlsx'")


def test_external_options_on_a_table_are_refused(tmp_path, cli, monkeypatch):
    assert "model 'shipments_csv': `location` applies only to materialized='external'" in \
        _refused(tmp_path, cli, monkeypatch, "materialized='table', location='x.parquet'")


def test_plugins_are_refused(tmp_path, cli, monkeypatch):
    assert "the model config `plugin` is not supported (dbt-duckdb plugins are not supported)" in \
        _refused(tmp_path, cli, monkeypatch, "plugin='excel'")


LAKE = Path(__file__).parent / "fixtures" / "dbt_lake"


def test_sources_with_an_external_location_are_read_from_it_as_in_dbt_duckdb(tmp_path, cli, monkeypatch):
    """external_location in the source's meta ({name}), a table's config (a read_json call) and a
    table's meta ({identifier}); a data test on an external source. Values from dbt-duckdb 1.11.1."""
    root = Path(shutil.copytree(LAKE, tmp_path / "lake"))
    monkeypatch.chdir(root)
    result = cli("build")
    assert result.exit_code == 0, result.output
    assert "PASS source_unique_raw_stores_id" in result.output
    assert relations(root / "target/lake.duckdb") == {"lake.main.combined": (
        "BASE TABLE", [("id", "BIGINT"), ("amount", "BIGINT"), ("city", "VARCHAR"), ("tag", "VARCHAR"),
                       ("renamed_city", "VARCHAR")], [(1, 5, "Porto", None, "Porto"), (2, 7, None, None, None)])}
    assert "from 'data/orders.csv' as o" in (root / "target/compiled/lake/models/combined.sql").read_text()


def test_a_source_plugin_is_refused(tmp_path, cli, monkeypatch):
    root = Path(shutil.copytree(LAKE, tmp_path / "lake"))
    monkeypatch.chdir(root)
    path = root / "models/sources.yml"
    path.write_text(path.read_text().replace('external_location: "data/{name}.csv"', "plugin: excel"))
    result = cli("build")
    assert result.exit_code == 2
    assert "models/sources.yml: source table raw.orders: dbt-duckdb source plugins are not supported" in result.output
