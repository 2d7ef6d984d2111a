"""The plan as the terminal shows it."""

from __future__ import annotations

from .model import BuildPlan, TaskPlan


def plan_lines(plan: BuildPlan) -> list[str]:
    simulated = " (simulated: answers are not from a real model)" if plan.provider == "simulated" else ""
    lines = [f"Plan for project {plan.project}, target {plan.target}, llm provider {plan.provider}{simulated}.",
             f"No model is called and the database is not changed; tokens {plan.tokens}."]
    if not plan.tasks:
        lines.append("No selected model has SMART_LLM calls: nothing to pay.")
    for model in plan.models:
        lines.append("")
        lines.append(f"{model.name} ({model.path})" + (" [incremental run]" if model.incremental else ""))
        for task in model.tasks:
            lines.extend(f"  {line}" for line in task_lines(task))
    lines.append("")
    lines.append(total_line(plan))
    if plan.max_cost is not None:
        lines.append(budget_line(plan))
    return lines


def task_lines(task: TaskPlan) -> list[str]:
    lines = [f"{task.id}: {'; '.join(task.calls)}"]
    if task.error:
        return lines + [f"  {task.error}"]
    bound = "at most " if task.upper_bound else ""
    cached = ", ".join(f"{model} {count:,}" for model, count in task.cached_inputs.items())
    lines += [f"  {bound}{task.rows:,} rows, {bound}{task.distinct_inputs:,} distinct inputs; "
              f"answers already in the response cache (free): {cached}",
              f"  tokens: {task.input_tokens:,} input, about {task.output_tokens:,.0f} output (one answer each)",
              f"  reference model alone ({task.reference}): ${task.reference_only_cost:.4f}",
              f"  SMART ({task.options.get('method', 'mix')}): expected ${task.expected:.4f} (range ${task.low:.4f} to ${task.high:.4f}; "
              f"at least ${task.least:.4f}, at most ${task.most:.4f})",
              f"  agreement: {task.prior}"]
    lines += [f"  note: {note}" for note in task.notes]
    return lines


def total_line(plan: BuildPlan) -> str:
    count = len(plan.tasks)
    bound = " (an upper bound: some tasks read LLM filters)" if any(t.upper_bound for t in plan.tasks) else ""
    return (f"Total: {count} LLM task{'s' * (count != 1)}, expected ${plan.total('expected'):.4f} "
            f"(range ${plan.total('low'):.4f} to ${plan.total('high'):.4f}, at most ${plan.total('most'):.4f}); "
            f"reference model alone ${plan.total('reference_only_cost'):.4f}{bound}")


def budget_line(plan: BuildPlan) -> str:
    limit, most, high = plan.max_cost, plan.total("most"), plan.total("high")
    if most <= limit:
        verdict = "even the worst case fits"
    elif high <= limit:
        verdict = ("the expected range fits, the worst case does not: a task whose worst case exceeds what is "
                   "left when it starts is not started")
    else:
        verdict = "the build is likely to stop before every task is done"
    return f"Spending limit ${limit:.4f} ({plan.max_cost_source}): {verdict}."
