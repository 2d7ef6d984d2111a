"""What the plan believes about each cheaper model's agreement with the reference, and about the
tokens of its answers: the simulated provider's settings, an earlier run of the same task recorded
in target/run_results.json, or a wide default."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

from ..llm.base import ModelSpec
from ..llm.config import LLMConfig
from ..smart.spend import AgreementPrior

DEFAULT_PRIOR = AgreementPrior(agreeing=8, disagreeing=1)
"""Beta(9, 2) (mean 0.82) when nothing is known: wide, so the range says how little is known."""


@dataclass(frozen=True)
class Beliefs:
    priors: Mapping[str, AgreementPrior]
    output_tokens: Mapping[str, float] = field(default_factory=dict)
    """Output tokens per fresh answer, by model, as an earlier run measured them."""
    source: str = ""


def earlier_runs(target_path: Path) -> dict[tuple[str, str], dict]:
    """The SMART account of every task in the last run_results.json, by (model name, task id)."""
    path = Path(target_path) / "run_results.json"
    try:
        results = json.loads(path.read_text(encoding="utf-8")).get("results", [])
    except (OSError, ValueError, AttributeError):
        return {}
    accounts = {}
    for result in results:
        for task in ((result.get("extras") or {}).get("llm") or {}).get("tasks") or []:
            if task.get("account"):
                accounts[result.get("name"), task.get("id")] = task["account"]
    return accounts


def beliefs(config: LLMConfig, ladder: Sequence[ModelSpec], account: dict | None) -> Beliefs:
    candidates = [m.name for m in ladder if not m.reference]
    if config.provider == "simulated":
        rates = {name: config.simulated.agreement.get(name, 0.9) for name in candidates}
        priors = {name: AgreementPrior(rate, 1 - rate, fixed=True) for name, rate in rates.items()}
        described = ", ".join(f"{name} {rate:g}" for name, rate in rates.items())
        return Beliefs(priors, _measured_output(account), f"the simulated provider's settings ({described})")
    seen = {c["model"]: c for c in (account or {}).get("candidates", [])}
    priors, described = {}, []
    for name in candidates:
        if name in seen and seen[name].get("profiled_rows"):
            agreeing, profiled = seen[name]["agreeing_rows"], seen[name]["profiled_rows"]
            priors[name] = AgreementPrior(agreeing, profiled - agreeing)
            described.append(f"{name} {agreeing}/{profiled}")
        else:
            priors[name] = DEFAULT_PRIOR
    if described:
        source = "the earlier run of this task (agreeing/profiled rows: " + ", ".join(described) + ")"
    else:
        source = "no earlier run of this task: each cheaper model's agreement drawn from Beta(9, 2)"
    return Beliefs(priors, _measured_output(account), source)


def _measured_output(account: dict | None) -> dict[str, float]:
    measured = {}
    for name, usage in ((account or {}).get("usage") or {}).items():
        fresh = usage.get("calls", 0) - usage.get("cached_calls", 0)
        if fresh > 0:
            measured[name] = usage.get("output_tokens", 0) / fresh
    return measured
