"""`smart-sql plan`: what each LLM task of a build would read and cost, computed without calling a
model or changing the warehouse."""
