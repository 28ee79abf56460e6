"""Sentences of the Truncation lab: the comparison table and the findings of a sweep, with their p-values."""

import numpy as np

from ..analysis.stats import ALPHA
from ..experiments.results import Comparison, Sweep, above_chance, compare, reaches_ink
from ..experiments.spec import FULL
from ..model.config import NAMES
from ..training.truncation import family_name

VANISHING, EXPLODING = -2, 2  # decades (rounded in log space) at or beyond which a ratio gets a verdict


def _pct(a: float) -> str:
    return f"{100 * a:.1f}%"


def _points(d: float) -> str:
    return f"{100 * abs(d):.1f} points {'lower' if d < 0 else 'higher'}"


def p_text(p: float) -> str:
    """Two significant digits; three near the 0.05 line, and more where needed, so that the p shown is on the same
    side of 0.05 as p itself (0.0495 reads 0.0495, not 0.050)."""
    if p < 0.001:
        return "p < 0.001"
    if p < 0.01 or 0.04 <= p < 0.06:
        decimals = 3
        while decimals < 12 and (float(f"{p:.{decimals}f}") < ALPHA) != (p < ALPHA):
            decimals += 1
        return f"p = {p:.{decimals}f}"
    return f"p = {p:.2f}"


def _ks(ks: list[int]) -> str:
    words = [str(k) for k in ks]
    return "k = " + (words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1])


def _pm(c_mean: float, spread: float) -> str:
    return _pct(c_mean) + ("" if np.isnan(spread) else f" ± {100 * spread:.1f}")


def verdict(c, alpha: float = ALPHA) -> str:
    """A paired comparison's word (anything with p, p_holm and difference): 'not significant' stays that."""
    if np.isnan(c.p):
        return "not testable"
    if c.p_holm < alpha:
        return f"significantly {'lower' if c.difference < 0 else 'higher'}"
    return "not significant"


def sweep_table(sweep: Sweep, chance: float = 0.1) -> list[dict]:
    """One row per comparison: accuracy (mean ± SD over seeds) against its reference, with the paired test."""
    rows = []
    for c in compare(sweep, chance):
        rows.append(
            {
                "runs": c.label,
                "test accuracy": _pm(c.mean, c.spread),
                "compared with": c.versus,
                "difference (points)": f"{100 * c.difference:+.1f}",
                "paired test (Holm-adjusted)": "" if np.isnan(c.p) else f"{c.test}, {p_text(c.p_holm)}",
                "verdict": verdict(c),
                "above chance": f"{c.above_chance} of {len(c.accuracies)}",
            }
        )
    return rows


def _kind_list(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def sweep_reading(sweep: Sweep, chance: float = 0.1) -> str:
    """The findings of a sweep as one paragraph (for the command line)."""
    return " ".join(sweep_findings(sweep, chance))


def sweep_headline(sweep: Sweep, chance: float = 0.1) -> str:
    """The sweep in one or two sentences, above its picture: what full BPTT reaches, and the largest loss from
    truncating that its paired test holds up (or that none does). The full statistics are sweep_findings'."""
    if not sweep.runs:
        return "The sweep was stopped before any model finished; nothing to read yet."
    if above_chance(sweep, chance) == 0:
        return "Every model is at chance level: this sweep says nothing about truncation (details below)."
    text = _full_reaches(sweep)
    truncated = [c for c in compare(sweep, chance) if c.role == "truncation" and not np.isnan(c.p)]
    worse = [c for c in truncated if c.p_holm < ALPHA and c.difference < 0]
    if worse:
        c = min(worse, key=lambda c: c.difference)
        text += (
            f" Truncating costs up to {100 * abs(c.difference):.1f} points: {c.label}, significantly below its "
            f"cell's full BPTT (Holm-adjusted {p_text(c.p_holm)})."
        )
    elif truncated:
        text += (
            " No truncation here is significantly below its cell's full BPTT (Holm-adjusted), which does not show "
            "that any is as good."
        )
    return text.strip()


def _full_reaches(sweep: Sweep) -> str:
    """'On <task>, full BPTT reaches LSTM 97.1% ± 0.3 (mean ± SD over 5 seeds).', or '' without a full-BPTT run."""
    cfg, seeds = sweep.config, len(sweep.seeds)
    fulls = [(kind, runs) for kind in cfg.kinds if (runs := sweep.runs_of(kind, FULL, None))]
    if not fulls:
        return ""
    of = f" (mean ± SD over {seeds} seeds)" if seeds > 1 else ""
    accs = [f"{NAMES[kind]} {_pm(np.mean([r.accuracy for r in runs]), _sd(runs))}" for kind, runs in fulls]
    return f"On {cfg.sequence_task.name}, full BPTT reaches {_kind_list(accs)}{of}."


def sweep_findings(sweep: Sweep, chance: float = 0.1) -> list[str]:
    """What a sweep shows, one finding per item, from its paired tests; never reads 'not significant' as
    'equal'."""
    cfg = sweep.config
    if not sweep.runs:
        return ["The sweep was stopped before any model finished; nothing to read yet."]
    seeds = len(sweep.seeds)
    notes = []
    if sweep.stopped:
        notes.append(f"The sweep was stopped: {len(sweep.runs)} of {len(cfg.plan())} runs finished.")
    if sweep.failed:
        notes.append(f"{len(sweep.failed)} run(s) failed and are missing: {_kind_list(sorted(sweep.failed))}.")
    if above_chance(sweep, chance) == 0:
        best = max(r.accuracy for r in sweep.runs)
        chance_text = (
            f"Every model is at chance level (best {_pct(best)}, chance {_pct(chance)}; none of the {len(sweep.runs)} "
            "is significantly above it): they learned nothing, so this sweep says nothing about truncation. Train "
            "for more epochs, with more hidden units or more training digits."
        )
        return [chance_text, *notes]
    comparisons = [c for c in compare(sweep, chance) if not np.isnan(c.p)]
    how = (
        "McNemar's exact test on the same test digits, one run each"
        if seeds == 1
        else f"paired t-tests over {seeds} seeds"
    )
    out = []
    if text := _full_reaches(sweep):
        for c in (c for c in comparisons if c.role == "cells"):
            word = "significantly" if c.p_holm < ALPHA else "not significantly"
            text += (
                f" {c.label.split(',')[0]} is {_points(c.difference)} than {c.versus.split(',')[0]} ({word}, "
                f"Holm-adjusted {p_text(c.p_holm)})."
            )
        out.append(text)
    truncated = [c for c in comparisons if c.role == "truncation"]
    several = len({c.spec.scheme for c in truncated}) > 1
    worse = [c for c in truncated if c.p_holm < ALPHA and c.difference < 0]
    better = [c for c in truncated if c.p_holm < ALPHA and c.difference > 0]
    if worse:
        out.append(
            f"Significantly below their cell's full BPTT ({how}, Holm-adjusted p < 0.05): "
            f"{_arms_at_ks(worse, several)}."
        )
    if better:
        out.append(f"Significantly above their cell's full BPTT: {_arms_at_ks(better, several)}.")
    unsure = [c for c in truncated if c.p_holm >= ALPHA]
    if unsure:
        who = "this single run" if seeds == 1 else "these seeds"
        gaps = [
            f"{c.label} {_points(c.difference)}"
            + (f", lower in {c.lower_in} of {len(c.accuracies)} seeds" if seeds > 1 else "")
            + f" ({p_text(c.p_holm)})"
            for c in unsure
        ]
        out.append(
            f"Not significant against their cell's full BPTT (Holm-adjusted): {'; '.join(gaps)}. For each, {who} "
            "cannot tell whether the gap is real, which does not show that the two are the same."
        )
    out += _ink_reading(sweep, comparisons)
    if seeds == 1:
        out.append(
            "Each run was trained once, with one seed; another seed moves each accuracy too, so run several "
            "seeds to see how much."
        )
    return out + notes


def _arms_at_ks(comparisons: list[Comparison], name_schemes: bool) -> str:
    """e.g. 'GRU at k = 8, 16 and 24; LSTM at k = 8 and 16' (with the scheme when a sweep has several)."""
    groups = {}
    for c in comparisons:
        groups.setdefault((c.spec.kind, c.spec.scheme, c.spec.k1), []).append(c.spec.k)
    return "; ".join(
        f"{NAMES[kind]}{', ' + family_name(scheme, k1) if name_schemes else ''} at {_ks(sorted(ks))}"
        for (kind, scheme, k1), ks in groups.items()
    )


def _sd(runs) -> float:
    return float(np.std([r.accuracy for r in runs], ddof=1)) if len(runs) > 1 else float("nan")


def _ink_reading(sweep: Sweep, comparisons: list[Comparison]) -> list[str]:
    """Which truncations never reach the digit's rows, what that means for the input weights, and what the
    control (input weights frozen at init) separates."""
    cfg, task = sweep.config, sweep.config.sequence_task
    blind = sorted({r.spec.k for r in sweep.runs if r.spec.k is not None and reaches_ink(cfg, r.spec) is False})
    out = []
    if blind:
        gap = task.T - task.digit_rows.stop
        text = (
            f"With the loss on the last row, TBPTT with {_ks(blind)} never backpropagates into a row of the digit "
            f"({gap} {task.kind} rows follow it): these runs cannot learn what to read from the ink"
        )
        if task.kind == "blank":
            text += (
                ", and since blank rows are zero inputs, their input weights W_ih get exactly no gradient: what "
                "they get right comes from untrained input weights whose features the forward pass carries to the end"
            )
        out.append(text + ".")
    for c in comparisons:
        if c.role != "control" or np.isnan(c.p):
            continue
        kind = c.label.split(",")[0]
        head = (
            f"Control: {kind} with its input weights W_ih frozen at init and full BPTT reaches {_pm(c.mean, c.spread)}"
            f", {_points(c.difference)} than with them trained"
        )
        if c.p_holm < ALPHA and c.difference < 0:
            out.append(
                f"{head} (significant, Holm-adjusted {p_text(c.p_holm)}): that gap is what learning to read the "
                "ink adds to random input features."
            )
        elif c.p_holm < ALPHA:
            out.append(
                f"{head} (significant, Holm-adjusted {p_text(c.p_holm)}): here training the input weights did worse "
                "than keeping the random ones from init."
            )
        else:
            who = "this single run" if len(sweep.seeds) == 1 else "these seeds"
            out.append(
                f"{head} (not significant, Holm-adjusted {p_text(c.p_holm)}): {who} cannot tell what training the "
                "input weights adds."
            )
    below = [c for c in comparisons if c.role == "blind" and c.p_holm < ALPHA and c.difference < 0]
    if below:
        several = len({c.spec.scheme for c in below}) > 1
        out.append(
            f"Also significantly below their cell's control (Holm-adjusted p < 0.05): {_arms_at_ks(below, several)}"
            ". These runs lose more than the input weights' training: their recurrent weights never get a "
            "gradient across the delay either."
        )
    return out
