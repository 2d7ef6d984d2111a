"""LLM providers behind one small async interface, the response cache and prices."""
