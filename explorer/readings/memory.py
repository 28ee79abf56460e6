"""Sentences of the Memory page: accuracy per cell and delay with its 95% t-interval over seeds, the paired
comparisons (Holm-adjusted), how the models were trained, and what has not been trained yet.

`python -m explorer.readings.memory` prints the README's tables from the folders."""

import sys

import numpy as np

from ..analysis.stats import ALPHA, ROUND_OFF
from ..experiments.memory import CHANCE, CONFIDENCE, ArmResult, MemoryExperiment, load_memory, settings
from .gradients import power_of_ten
from .sweep import p_text, verdict

OPTIMIZER_NAMES = {"adam": "Adam", "sgd": "SGD with momentum 0.9"}


def _pct(a: float) -> str:
    return f"{100 * a:.1f}%"


def _level() -> str:
    return f"{100 * CONFIDENCE:g}%"


def _interval(lo: float, hi: float, unit: str = "%") -> str:
    return f"{100 * lo:.1f}–{100 * hi:.1f}{unit}"


def _list(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def accuracy_text(result: ArmResult) -> str:
    """'89.3% (95% t-interval 87.5–91.2%, 5 seeds)', or '33.0% (one seed: no interval)'."""
    if len(result.runs) < 2:
        return f"{_pct(result.mean)} (one seed: no interval)"
    return f"{_pct(result.mean)} ({_level()} t-interval {_interval(*result.interval)}, {len(result.runs)} seeds)"


def interval_note(exp: MemoryExperiment) -> str:
    """What the intervals are, and which of them reach beyond 0–100% (a t-interval over few seeds that disagree)."""
    text = (
        f"Mean test accuracy over seeds with its {_level()} t-interval, mean ± t·SD/√n over the n seeds (each seed's "
        "accuracy is a point)."
    )
    beyond = [r for r in exp.results if len(r.runs) > 1 and (r.interval[0] < 0 or r.interval[1] > 1)]
    if beyond:
        which = "; ".join(f"{r.arm.name} at D = {r.delay}" for r in beyond)
        one = len(beyond) == 1
        text += (
            f" The interval{'' if one else 's'} of {which} reach{'es' if one else ''} beyond 0–100%: "
            f"{'its' if one else 'their'} seeds disagree widely, and a t-interval over so few seeds assumes they "
            "spread normally."
        )
    return text


def accuracy_table(exp: MemoryExperiment) -> list[dict]:
    """One row per arm: per delay, the mean test accuracy over seeds with its t-interval, and the seeds counted."""
    rows = []
    for arm in exp.arms:
        row = {"cell": arm.name}
        for delay in exp.delays:
            r = exp.result(arm, delay)
            row[f"D = {delay}"] = accuracy_text(r) if r else "not trained yet"
            row[f"seeds at D = {delay}"] = f"{len(r.runs)} of {r.planned}" if r else "0"
        rows.append(row)
    return rows


def chance_note(exp: MemoryExperiment) -> str:
    """The cells no seed of which is significantly above chance ('' when every cell has one)."""
    none = [r for r in exp.results if r.above_chance() == 0]
    if not none:
        return ""
    which = "; ".join(f"{r.arm.name} at D = {r.delay} ({len(r.runs)} seed{'s' * (len(r.runs) > 1)})" for r in none)
    return (
        f"No seed significantly above chance ({100 * CHANCE:g}%; a one-sided exact binomial test of each seed's model "
        f"on the test digits): {which}."
    )


def _points(d: float, versus: str) -> str:
    """'2.9 points higher than X', or '0.0 points from X' when it rounds to nothing either way."""
    shown = f"{100 * abs(d):.1f}"
    return (
        f"{shown} points from {versus}"
        if shown == "0.0"
        else f"{shown} points {'lower' if d < 0 else 'higher'} than {versus}"
    )


def comparison_table(exp: MemoryExperiment) -> list[dict]:
    """One row per paired comparison: the mean difference over seeds with its t-interval, p and Holm's p."""
    return [
        {
            "delay": f"D = {c.delay}",
            "cell": c.arm.name,
            "compared with": c.versus.name,
            "paired seeds": len(c.seeds),
            "mean difference (points)": f"{100 * c.difference:+.1f}",
            f"{_level()} t-interval (points)": "—" if np.isnan(c.p) else _signed(*c.interval),
            "paired t-test": "—" if np.isnan(c.p) else p_text(c.p),
            "Holm-adjusted": "—" if np.isnan(c.p) else p_text(c.p_holm),
            "verdict": verdict(c, ALPHA),  # the memory page's own ALPHA
        }
        for c in exp.comparisons
    ]


def _signed(lo: float, hi: float) -> str:
    return f"{100 * lo:+.1f} to {100 * hi:+.1f}"


def comparison_findings(exp: MemoryExperiment) -> list[str]:
    """One sentence per paired comparison; 'not significant' stays 'not significant'."""
    out = []
    for c in exp.comparisons:
        n = len(c.seeds)
        head = f"D = {c.delay}: {c.arm.name} is {_points(c.difference, c.versus.name)}"
        if np.isnan(c.p):
            why = "one paired seed" if n < 2 else "every paired seed differs by exactly as much"
            out.append(f"{head} ({n} paired seed{'s' * (n > 1)}): not testable ({why}).")
            continue
        stat = (
            f"mean over {n} paired seeds, unadjusted {_level()} t-interval {_signed(*c.interval)} points; "
            f"paired t-test, Holm-adjusted {p_text(c.p_holm)}"
        )
        if c.p_holm < ALPHA:
            out.append(f"{head} ({stat}): significantly {'lower' if c.difference < 0 else 'higher'}.")
        else:
            out.append(f"{head} ({stat}): not significant; these {n} seeds cannot tell which is better.")
    return out


def _named_extreme(here: list[ArmResult], pick, which: str) -> str:
    """'GRU has the highest mean test accuracy, 93.0% (…)', or, where several arms tie, '…; … share the
    highest mean test accuracy, 10.0%'."""
    value = pick(r.mean for r in here)
    tied = [r for r in here if abs(r.mean - value) <= ROUND_OFF]
    if len(tied) == 1:
        return f"{tied[0].arm.name} has the {which} mean test accuracy, {accuracy_text(tied[0])}"
    names = f"{'; '.join(r.arm.name for r in tied[:-1])} and {tied[-1].arm.name}"  # the names hold commas
    return f"{names} share the {which} mean test accuracy, {_pct(value)}"


def memory_headline(exp: MemoryExperiment) -> str:
    """Per delay, the arm with the highest and the lowest mean accuracy, with their intervals (arms that tie are
    named together)."""
    if not exp.results:
        return "No model of the memory experiment has finished yet: nothing to read."
    parts = []
    for delay in exp.delays:
        here = [r for r in exp.results if r.delay == delay]
        text = f"With D = {delay} blank rows after the digit, {_named_extreme(here, max, 'highest')}"
        if max(r.mean for r in here) - min(r.mean for r in here) > ROUND_OFF:
            text += f"; {_named_extreme(here, min, 'lowest')}"
        parts.append(text + f" ({len(here)} cells).")
    return " ".join(parts) + " Which gaps are real is what the paired comparisons below test."


def _values(name: str, values: list, show) -> str:
    shown = [show(v) for v in values]
    return shown[0] if len(shown) == 1 else f"{' or '.join(shown)} (the folders differ in {name})"


def _clip(c: float | None) -> str:
    return "no gradient clipping" if c is None else f"the gradient norm clipped at {c:g}"


def _digits(n: int | None) -> str:
    return "all the bundled training digits" if n is None else f"the first {n:,} training digits"


def training_note(exp: MemoryExperiment) -> str:
    """How every model found was trained, from the sweeps' configs."""
    if not exp.sweeps:
        return ""
    s = settings(exp)
    optimiser = _values("optimiser", s["optimizer"], lambda o: OPTIMIZER_NAMES.get(o, o))
    rate = _values("learning rate", s["lr"], lambda lr: f"peak learning rate {lr:g}")
    schedule = _values("schedule", s["schedule"], lambda sc: "cosine schedule" if sc == "cosine" else "constant")
    parts = [
        _values("hidden units", s["hidden"], lambda h: f"{h} hidden units"),
        _values("epochs", s["epochs"], lambda e: f"{e} epochs"),
        f"{optimiser} ({rate}, {schedule})",
        _values("batch", s["batch"], lambda b: f"{b} digits per step"),
        _values("clipping", s["clip"], _clip),
        _values("training digits", s["train_size"], _digits),
    ]
    seeds = _values("seeds", s["seeds"], lambda seeds: "seeds " + _list([str(x) for x in seeds]))
    where = _values("loss", s["loss_at"], lambda at: "the last row" if at == "last" else "every row")
    rows = _values("task", s["task"], lambda t: f"{t} rows")
    at = _values("delay placement", s["delay_at"], str)
    return (
        f"How these models were trained (from the sweeps' configs): {', '.join(parts)}; {seeds}; full BPTT with the "
        f"loss at {where}; the D delay rows are {rows}, {at} the digit."
    )


def status_note(exp: MemoryExperiment) -> str:
    """What is not there yet ('' when every expected folder has every planned run)."""
    if not exp.sweeps and not exp.unreadable:
        return (
            f"The memory experiment has not been trained here: no sweep in {exp.folder}. "
            "Train it with: bash scripts/train_memory.sh"
        )
    parts = []
    if exp.missing:
        parts.append(f"Not trained yet: {_list(exp.missing)}.")
    if exp.unreadable:
        parts.append("Could not be read: " + "; ".join(f"{k} ({v})" for k, v in exp.unreadable.items()) + ".")
    if exp.runs < exp.planned:
        parts.append(f"{exp.runs} of the {exp.planned} runs of the sweeps found have finished; the numbers are theirs.")
    return " ".join(parts)


def profile_caption(size: int, delays: list[int]) -> str:
    """What the gradient-norm figure shows."""
    return (
        f"‖∂L/∂h_t‖ at each row t: the median over the same {size} test digits, of each cell's seed-0 model "
        f"(the loss at the last row, first layer's h). One panel per delay ({_list([f'D = {d}' for d in delays])})."
    )


def profile_reading(profiles: dict, digit_rows: range) -> str:
    """Per delay and arm, how much of the last row's gradient reaches the digit's last row (median ‖∂L/∂h_t‖ there
    over the median at the last row), as a power of ten."""
    row = digit_rows.stop  # the digit's last row, counted from 1
    parts = []
    for delay in sorted({d for _, d in profiles}):
        shares = []
        for arm in sorted((a for a, d in profiles if d == delay), key=lambda a: a.order):
            norms = profiles[arm, delay]
            share = norms[row - 1] / norms[-1] if norms[-1] > 0 else float("nan")
            shares.append(f"{arm.name} {power_of_ten(share) if norms[-1] > 0 else 'no gradient at the last row'}")
        parts.append(f"D = {delay}: {'; '.join(shares)}.")
    return (
        f"The share of the last row's gradient that reaches the digit's last row (row {row}; medians, rounded to a "
        "power of ten). " + " ".join(parts)
    )


def readme_tables(exp: MemoryExperiment) -> str:
    """The accuracy and comparison tables as Markdown, for the README."""
    out = []
    for rows in (accuracy_table(exp), comparison_table(exp)):
        if not rows:
            continue
        head = list(rows[0])
        out += ["| " + " | ".join(head) + " |", "| " + " | ".join("---" for _ in head) + " |"]
        out += ["| " + " | ".join(str(row[k]) for k in head) + " |" for row in rows]
        out.append("")
    return "\n".join(out)


if __name__ == "__main__":
    experiment = load_memory(models=False)
    if note := status_note(experiment):
        print(note, file=sys.stderr)
    print(readme_tables(experiment))
