"""Small inline SVG charts (no library, no network): bars, a line over runs, agreement intervals."""

from __future__ import annotations

from html import escape

WIDTH, HEIGHT, PAD = 640, 220, 40
COLOURS = ("#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#4b5563")


def bars(values: dict[str, float], label: str) -> str:
    """Horizontal bars, one per name, labelled with dollars."""
    if not values:
        return "<p>No data.</p>"
    top = max(max(values.values()), 1e-12)
    row = 26
    height = row * len(values) + 10
    parts = [f'<svg class="chart" role="img" aria-label="{escape(label)}" viewBox="0 0 {WIDTH} {height}" '
             f'width="{WIDTH}" height="{height}">']
    for i, (name, value) in enumerate(values.items()):
        width = (WIDTH - 260) * value / top
        y = 5 + i * row
        parts.append(f'<text x="0" y="{y + 16}" class="label">{escape(name)}</text>'
                     f'<rect x="160" y="{y}" width="{width:.1f}" height="{row - 8}" fill="{COLOURS[i % len(COLOURS)]}">'
                     f'<title>{escape(name)}: ${value:.4f}</title></rect>'
                     f'<text x="{166 + width:.1f}" y="{y + 16}" class="label">${value:.4f}</text>')
    parts.append("</svg>")
    return "".join(parts)


def spend_over_time(runs: list[tuple[str, float, float]]) -> str:
    """Cost (and what the reference alone would have cost) per run, oldest first."""
    if not runs:
        return "<p>No run recorded yet.</p>"
    top = max(max(max(cost, reference) for _, cost, reference in runs), 1e-12)
    step = (WIDTH - 2 * PAD) / max(len(runs) - 1, 1)

    def point(i: int, value: float) -> str:
        return f"{PAD + i * step:.1f},{HEIGHT - PAD - (HEIGHT - 2 * PAD) * value / top:.1f}"
    parts = [f'<svg class="chart" role="img" aria-label="spend over time" viewBox="0 0 {WIDTH} {HEIGHT}" '
             f'width="{WIDTH}" height="{HEIGHT}">', _axes(f"${top:.2f}", "$0")]
    for series, colour, name in ((1, COLOURS[0], "cost"), (2, COLOURS[4], "reference model alone")):
        points = " ".join(point(i, run[series]) for i, run in enumerate(runs))
        parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{points}"/>')
        for i, run in enumerate(runs):
            x, y = point(i, run[series]).split(",")
            parts.append(f'<circle cx="{x}" cy="{y}" r="3" fill="{colour}"><title>{escape(run[0])}: {name} '
                         f'${run[series]:.4f}</title></circle>')
    parts.append(f'<text x="{PAD}" y="{HEIGHT - 8}" class="label">{escape(runs[0][0])}</text>'
                 f'<text x="{WIDTH - PAD}" y="{HEIGHT - 8}" class="label" text-anchor="end">{escape(runs[-1][0])}</text>'
                 f'{_legend([(COLOURS[0], "cost"), (COLOURS[4], "reference model alone")])}</svg>')
    return "".join(parts)


def agreement_intervals(checkpoints: list[dict], target: float, final: dict[str, dict]) -> str:
    """Each candidate's certified agreement interval [lower, upper] at each checkpoint, against rows
    profiled, with the target accuracy as a line."""
    names = list(dict.fromkeys(name for checkpoint in checkpoints for name in checkpoint["candidates"]))
    if not names:
        return "<p>No candidate was profiled (the reference model answered every item).</p>"
    most = max(checkpoint["rows_profiled"] for checkpoint in checkpoints) or 1

    def x(rows: float) -> float:
        return PAD + (WIDTH - 2 * PAD) * rows / most

    def y(rate: float) -> float:
        return HEIGHT - PAD - (HEIGHT - 2 * PAD) * rate

    parts = [f'<svg class="chart" role="img" aria-label="certified agreement" viewBox="0 0 {WIDTH} {HEIGHT}" '
             f'width="{WIDTH}" height="{HEIGHT}">', _axes("1.0", "0.0"),
             f'<line x1="{PAD}" x2="{WIDTH - PAD}" y1="{y(target):.1f}" y2="{y(target):.1f}" stroke="#111" '
             f'stroke-dasharray="5,4"><title>target {target:g}</title></line>'
             f'<text x="{WIDTH - PAD + 2}" y="{y(target) + 4:.1f}" class="label">{target:g}</text>']
    legend = []
    for k, name in enumerate(names):
        colour = COLOURS[k % len(COLOURS)]
        seen = [(c["rows_profiled"], c["candidates"][name]) for c in checkpoints if name in c["candidates"]]
        upper = " ".join(f"{x(r):.1f},{y(s['upper']):.1f}" for r, s in seen)
        lower = " ".join(f"{x(r):.1f},{y(s['lower']):.1f}" for r, s in reversed(seen))
        parts.append(f'<polygon points="{upper} {lower}" fill="{colour}" fill-opacity="0.18" stroke="{colour}">'
                     f'<title>{escape(name)}</title></polygon>')
        for rows, state in seen:
            parts.append(f'<line x1="{x(rows):.1f}" x2="{x(rows):.1f}" y1="{y(state["lower"]):.1f}" '
                         f'y2="{y(state["upper"]):.1f}" stroke="{colour}" stroke-width="2"><title>{escape(name)} after '
                         f'{rows} rows: {state["lower"]:.3f} to {state["upper"]:.3f} ({state["decision"]})</title></line>')
        legend.append((colour, f"{name}: {final.get(name, {}).get('decision', 'open')}"))
    parts.append(f'<text x="{PAD}" y="{HEIGHT - 8}" class="label">0 rows profiled</text>'
                 f'<text x="{WIDTH - PAD}" y="{HEIGHT - 8}" class="label" text-anchor="end">{most} rows</text>'
                 f'{_legend(legend)}</svg>')
    return "".join(parts)


def _axes(top: str, bottom: str) -> str:
    return (f'<line x1="{PAD}" x2="{PAD}" y1="{PAD}" y2="{HEIGHT - PAD}" stroke="#999"/>'
            f'<line x1="{PAD}" x2="{WIDTH - PAD}" y1="{HEIGHT - PAD}" y2="{HEIGHT - PAD}" stroke="#999"/>'
            f'<text x="{PAD - 4}" y="{PAD + 4}" class="label" text-anchor="end">{escape(top)}</text>'
            f'<text x="{PAD - 4}" y="{HEIGHT - PAD}" class="label" text-anchor="end">{escape(bottom)}</text>')


def _legend(entries: list[tuple[str, str]]) -> str:
    return "".join(f'<rect x="{PAD + 10}" y="{8 + 16 * i}" width="10" height="10" fill="{colour}"/>'
                   f'<text x="{PAD + 25}" y="{17 + 16 * i}" class="label">{escape(text)}</text>'
                   for i, (colour, text) in enumerate(entries))
