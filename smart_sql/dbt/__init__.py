"""dbt projects as smart-sql projects: dbt_project.yml (project), dbt's profile locations (profiles),
dbt-duckdb's seed column types (seeds), installed packages (packages), doc blocks (docs), dbt's Jinja
context (jinja/), and the refusal of what smart-sql does not build (unsupported)."""
