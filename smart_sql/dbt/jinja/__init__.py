"""dbt's Jinja context, for templates of dbt projects: the `dbt` cross-database macros, `adapter`,
`run_query` and `statement`, `return`, `modules`, `graph`, `model` and the rest of what dbt-core 1.11
gives a model, a macro or a hook (see context.py)."""
