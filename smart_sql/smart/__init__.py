"""The SMART method: pure functions and small classes over numbers and answers, no I/O."""
