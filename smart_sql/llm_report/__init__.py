"""The spend report: what each LLM task cost, saved and certified, as text, history rows and HTML."""
