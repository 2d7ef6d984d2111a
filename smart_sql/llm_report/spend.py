"""One task's spend as plain numbers, from its SMART account: the row the console, run_results.json,
the history table and the HTML report all show, so that they cannot disagree.

Savings are split honestly. `reference_only_cost` is the reference model on every distinct input at
full price; `reference_alone_with_cache` the same with the answers the cache already held for it
free (what the reference alone would have cost this run). What SMART's own calls would cost without
the cache (`cost_without_cache`) is what was paid plus what the cached answers would have cost;
`saved_by_cache` is that difference and `saved_by_smart` the rest of the gap to the reference alone
(negative when profiling cost more than the mix saved). The three add up: cost + saved_by_cache +
saved_by_smart = reference_only_cost.
"""

from __future__ import annotations

MODEL_FIELDS = ("calls", "cached_calls", "requests", "input_tokens", "output_tokens", "cost", "cached_cost",
                "invalid_answers", "answers")


def task_spend(task_id: str, rows: int, distinct_inputs: int, account: dict | None,
               answers_by_model: dict[str, int]) -> dict:
    """The spend row of one task (numbers only, JSON-able)."""
    account = account or {}
    usage = account.get("usage", {})
    models = {name: _model_spend(u, answers_by_model.get(name, 0)) for name, u in usage.items()}
    cost = sum(m["cost"] for m in models.values())
    cached_cost = sum(m["cached_cost"] for m in models.values())
    with_cache = float(account.get("reference_only_cost") or 0.0)
    reference_only = float(account.get("reference_only_cost_without_cache", with_cache) or 0.0)
    without_cache = cost + cached_cost
    return {
        "task": task_id, "rows": rows, "distinct_inputs": distinct_inputs,
        "answers_from_cache": sum(m["cached_calls"] for m in models.values()),
        "calls": sum(m["calls"] for m in models.values()),
        "requests": sum(m["requests"] for m in models.values()),
        "input_tokens": sum(m["input_tokens"] for m in models.values()),
        "output_tokens": sum(m["output_tokens"] for m in models.values()),
        "cost": cost, "reference_only_cost": reference_only, "reference_alone_with_cache": with_cache,
        "cost_without_cache": without_cache,
        "saved_by_cache": cached_cost, "saved_by_smart": reference_only - without_cache,
        "smart_factor": reference_only / without_cache if without_cache > 0 else None,
        "mix": dict(account.get("mix_shares", {})),
        "accuracy": account.get("accuracy"), "confidence": account.get("confidence"),
        "lower_bound": account.get("lower_bound"),
        "items_profiled": account.get("items_profiled", 0),
        "null_rows": account.get("null_rows", 0),
        "invalid_answers": sum(m["invalid_answers"] for m in models.values()),
        "reference_model": account.get("reference_model"),
        "models": models,
    }


def _model_spend(usage: dict, answers: int) -> dict:
    calls, cached = int(usage.get("calls", 0)), int(usage.get("cached_calls", 0))
    return {"calls": calls, "cached_calls": cached, "requests": calls - cached,
            "input_tokens": int(usage.get("input_tokens", 0)), "output_tokens": int(usage.get("output_tokens", 0)),
            "cost": float(usage.get("cost", 0.0)), "cached_cost": float(usage.get("cached_cost", 0.0)),
            "invalid_answers": int(usage.get("invalid_answers", 0)), "answers": answers}


def totals(spends: list[dict]) -> dict:
    """Sums over tasks of the additive numbers."""
    keys = ("rows", "distinct_inputs", "answers_from_cache", "calls", "requests", "input_tokens", "output_tokens",
            "cost", "reference_only_cost", "reference_alone_with_cache", "cost_without_cache", "saved_by_cache",
            "saved_by_smart",
            "null_rows", "invalid_answers")
    return {key: sum(spend[key] for spend in spends) for key in keys}
