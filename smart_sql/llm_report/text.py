"""The spend report as the console shows it after a build: one block per task, a row per model."""

from __future__ import annotations

HEADER = ("model", "answers", "calls", "cached", "requests", "input tok", "output tok", "cost", "invalid")


def spend_table(spend: dict) -> list[str]:
    """The lines of one task's block."""
    rows = [HEADER] + [(name, f"{m['answers']:,}", f"{m['calls']:,}", f"{m['cached_calls']:,}", f"{m['requests']:,}",
                        f"{m['input_tokens']:,}", f"{m['output_tokens']:,}", f"${m['cost']:.4f}",
                        f"{m['invalid_answers']:,}")
                       for name, m in spend["models"].items() if m["calls"]]
    widths = [max(len(row[i]) for row in rows) for i in range(len(HEADER))]
    lines = [f"  task {spend['task']}: {spend['rows']:,} rows, {spend['distinct_inputs']:,} distinct inputs, "
             f"{spend['answers_from_cache']:,} answers from the cache, {spend['requests']:,} requests paid"]
    lines += ["    " + "  ".join(cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in
                                 enumerate(zip(row, widths))) for row in rows]
    lines.append(f"    {savings_text(spend)}")
    lines.append(f"    {guarantee_text(spend)}")
    if spend["null_rows"] or spend["invalid_answers"]:
        lines.append(f"    {spend['invalid_answers']} answers were empty or named no label; "
                     f"{spend['null_rows']} rows are NULL")
    return lines


def savings_text(spend: dict) -> str:
    factor, by_smart = spend["smart_factor"], spend["saved_by_smart"]
    if by_smart >= 0:
        smart = f"saved ${by_smart:.4f} by SMART" + (f" ({factor:.1f}x cheaper)" if factor and factor >= 1.05 else "")
    else:
        smart = f"SMART's profiling cost ${-by_smart:.4f} more than the reference alone would have"
    return (f"cost ${spend['cost']:.4f}; reference model alone ${spend['reference_only_cost']:.4f}; "
            f"{smart}; saved ${spend['saved_by_cache']:.4f} by the cache")


def guarantee_text(spend: dict) -> str:
    mix = ", ".join(f"{name} {share:.1%}" for name, share in spend["mix"].items()) or "none"
    bound = spend["lower_bound"]
    certified = (f"agreement with the reference >= {bound:.3f} certified at confidence {spend['confidence']:g} "
                 f"(target {spend['accuracy']:g})" if bound is not None else "nothing certified")
    return f"mix of the rest: {mix}; {certified}"
