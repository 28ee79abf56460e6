"""What the app says about its numbers: every sentence here is computed from the data it describes.

No Streamlit: pages place these strings; tests check each against the numbers (and under every setting the
page offers: both loss placements, every cell kind, bidirectional and multi-layer models, untrained models).
"""

import math

import numpy as np

from .metadata import Recorded
from .predictions import settled_after
from .stats import ALPHA
from .sweep import FULL, Comparison, Sweep, above_chance, compare, reaches_ink

SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")
VANISHING, EXPLODING = -2, 2  # decades (rounded in log space) at or beyond which a ratio gets a verdict


# ---- checkpoints ------------------------------------------------------------------------------------------------


def accuracy_text(rec: Recorded) -> str:
    """The recorded test accuracy as a percentage, or a dash when there is no valid one."""
    return "—" if rec.test_accuracy is None else f"{100 * rec.test_accuracy:.1f}%"


def data_text(rec: Recorded) -> str:
    """Where a checkpoint's training digits came from, in words (only validated numbers and fixed words)."""
    name = {"sample": "the bundled MNIST sample", "mnist": "full MNIST", None: "unrecorded data"}[rec.data_source]
    text = f"{rec.train_digits:,} training digits from {name}" if rec.train_digits else name
    text += ", augmented" if rec.augmented else ""
    return text + (f"; tested on {rec.test_digits:,}" if rec.test_digits else "")


def how_it_ended(rec: Recorded, tested: int | None = None) -> str:
    """Finished, or stopped: then which weights were kept."""
    if not rec.stopped:
        return "finished"
    if rec.epoch == 0 or rec.partial_epoch:
        part = f" and tested on the first {tested:,} test digits there was time for" if tested else ""
        return f"stopped during epoch 1; the weights as they were at the stop{part}"
    return "stopped early; the best weights so far" + ("" if rec.epoch is None else f", from epoch {rec.epoch}")


def created_text(rec: Recorded) -> str:
    return "—" if rec.created is None else rec.created.strftime("%Y-%m-%d %H:%M UTC")


# ---- Gradients through time ------------------------------------------------------------------------------------


def decade(x: float) -> int:
    """x > 0 rounded to the nearest power of ten in log space: 3.2e-6 -> -5."""
    return round(float(np.log10(x)))


def power_of_ten(x: float) -> str:
    """x > 0 as its nearest power of ten, e.g. 3.2e-6 -> '10⁻⁵'; 0 -> '0'."""
    return "0" if x == 0 else "10" + str(decade(x)).translate(SUPERSCRIPT)


def decay_verdict(ratio: float) -> str:
    """'vanishing' or 'exploding' from the same rounding power_of_ten shows, so the two always agree; else ''."""
    if ratio == 0:
        return "vanishing"
    return "vanishing" if decade(ratio) <= VANISHING else "exploding" if decade(ratio) >= EXPLODING else ""


def decay_reading(ratios: dict[str, float], T, loss_at: str) -> str:
    """One line comparing models by how much of the last row's loss gradient reaches row 1 (batch medians).

    ratios[label] is median ||dl_T/dh_1|| / median ||dl_T/dh_T|| with l_T the loss on the prediction after
    the last row alone: with the loss at every row, row 1 also gets its own loss's gradient, which says
    nothing about how far a signal travels, so that term is left out (like for like across placements).
    """
    parts = []
    for label, r in ratios.items():
        if np.isnan(r):
            parts.append(f"{label}: no gradient at row {T}")
            continue
        verdict = decay_verdict(r)
        parts.append(f"{label} {power_of_ten(r)}" + (f" ({verdict})" if verdict else ""))
    if loss_at == "last":
        lead = f"Of the gradient the loss puts on row {T}, this fraction reaches row 1 (‖∂L/∂h_1‖ / ‖∂L/∂h_{T}‖)"
    else:
        lead = (
            f"With the loss at every row, row 1 also receives its own row's loss, so the first panel's row 1 "
            f"says nothing about how far a gradient travels. Like for like, the loss after row {T} alone "
            f"(second panel): this fraction of its gradient at row {T} reaches row 1 "
            f"(‖∂ℓ_{T}/∂h_1‖ / ‖∂ℓ_{T}/∂h_{T}‖)"
        )
    return (
        lead + ", batch medians: " + ", ".join(parts) + ". Vanishing means 10⁻² or less (rounded as shown), "
        "exploding 10² or more."
    )


def jacobian_caption(kinds: set[str], digits: int) -> str:
    """What the state-Jacobian chart shows, for the cell kinds on it."""
    state = {
        "lstm": "for an LSTM the whole state (h_t, c_t), both parts moved independently",
        "gru": "for a GRU h_t",
        "rnn": "for a plain RNN h_t",
    }
    which = "; ".join(state[k] for k in ("lstm", "gru", "rnn") if k in kinds)
    return (
        f"On the first {digits} digits of the batch: how strongly the final hidden state still depends on the "
        f"state s_t after row t, loss aside ({which}). At the last row it is the identity: √(hidden units)."
    )


def gradient_check_summary(max_error: float, threshold: float, passed: bool, checks: int) -> str:
    """One line: pass or fail against the threshold, and what was compared with what."""
    verdict = "PASS" if passed else "FAIL"
    return (
        f"{verdict}: the largest relative error of {checks} checks is {max_error:.1e} (threshold {threshold:.0e}). "
        "Reverse-mode BPTT through the explicit unroll (the code behind every chart on this page) against "
        "forward-mode derivatives of PyTorch's fused modules, in float64."
    )


# ---- Watch it read ---------------------------------------------------------------------------------------------


def prediction_path(probs: np.ndarray) -> str:
    """How the most likely class changes as rows are read, e.g. '2 → 5 → 7', from probs (T, 10)."""
    guess = probs.argmax(-1)
    path = [int(guess[0])] + [int(g) for prev, g in zip(guess, guess[1:]) if g != prev]
    return " → ".join(str(c) for c in path)


def scan_reading(image: np.ndarray, probs: np.ndarray) -> str:
    """How to read the animation, with this digit's blank rows and this model's path of guesses."""
    ink_rows = np.flatnonzero(np.asarray(image).max(axis=1) > 0)
    text = (
        "Each heatmap has one row per hidden unit and one column per image row; a white curtain lifts as the "
        "network reads. "
    )
    if len(ink_rows) == 0:
        text += "This digit has no ink: every step sees a zero row, so only biases and the state change anything. "
    elif ink_rows[0] > 0:
        first = int(ink_rows[0])
        rows = "Row 1 carries" if first == 1 else f"Rows 1–{first} carry"
        text += (
            f"{rows} no ink: there each step sees a zero input, so only its biases and its own state move "
            f"it, until the strokes arrive at row {first + 1}. "
        )
    path = prediction_path(probs)
    text += "The bars show what the classifier would answer if the digit ended at this row. "
    if "→" in path:
        return text + f"Here the guess goes {path} and settles at row {settled_after(probs)}."
    return text + f"Here it answers {path} from row 1 on and never changes its mind."


def gate_reading(kind: str, bidirectional: bool, h: np.ndarray | None = None) -> str:
    """What the cell's gates and states do, in the cell's own equations; for a plain RNN, how saturated h is.

    h: (T, H) hidden states of the digit shown (used for the plain RNN's saturation).
    """
    readout = (
        "the classifier reads the forward h after the last row and the backward h after row 1"
        if bidirectional
        else "the classifier reads only h after the last row"
    )
    if kind == "lstm":
        return (
            "Gates (yellow = open, purple = shut) decide what flows: cₜ = f ⊙ cₜ₋₁ + i ⊙ g and "
            "hₜ = o ⊙ tanh(cₜ). The input gate *i* lets the candidate *g* into the cell, the forget gate *f* "
            "keeps (near 1) or erases (near 0) what the cell *c* holds, and the output gate *o* decides how much "
            f"of it shows in the hidden state *h*. The next row reads both h and c; {readout}. Where forget "
            "gates close, units drop what they held and start over."
        )
    if kind == "gru":
        return (
            "hₜ = (1 − z) ⊙ n + z ⊙ hₜ₋₁: where the update gate *z* is open (yellow) a unit keeps its old "
            "state, where it shuts the unit takes the candidate n = tanh(W_in xₜ + b_in + r ⊙ (W_hn hₜ₋₁ + "
            "b_hn)). The reset gate *r* scales the recurrent part of the candidate, W_hn hₜ₋₁ + b_hn. "
            f"There is no cell state: the next row reads h, and {readout}."
        )
    text = (
        "A plain RNN has no gates: every row computes hₜ = tanh(W_ih xₜ + b_ih + W_hh hₜ₋₁ + b_hh) from "
        f"the new row and the old state; {readout}."
    )
    if h is not None:
        saturated = float((np.abs(h) > 0.9).mean())
        text += (
            f" On this digit {saturated:.0%} of the values of h are beyond ±0.9 (deep red and blue), where the "
            "tanh's slope is below 0.19: little gradient passes back through them."
        )
    return text


def unit_caption(kind: str) -> str:
    """What the unit inspector shows, for this kind of cell."""
    if kind == "lstm":
        return (
            "One unit's gates i, f, o (top) and its candidate g, cell c and hidden state h (bottom) at every "
            "row. A forget gate near 1 keeps what the cell holds; near 0 it wipes it."
        )
    if kind == "gru":
        return (
            "One unit's reset gate r and update gate z (top) and its candidate n and hidden state h (bottom) at "
            "every row. An update gate near 1 keeps the old h; near 0 the unit takes the candidate n."
        )
    return "One unit's hidden state h at every row (a plain RNN has no gates)."


def saturation_caption(digits: int) -> str:
    return (
        f"Each dot is a unit: how often its gate is nearly shut (< 0.1, up) or wide open (> 0.9, right) over all "
        f"rows of the {digits:,} test digits (Karpathy et al., 2015). Dots on the dotted line are always "
        "saturated, one way or the other; dots near the corner (0, 0) act like soft, graded switches."
    )


# ---- Truncation lab --------------------------------------------------------------------------------------------


def _pct(a: float) -> str:
    return f"{100 * a:.1f}%"


def _points(d: float) -> str:
    return f"{100 * abs(d):.1f} points {'lower' if d < 0 else 'higher'}"


def p_text(p: float) -> str:
    """Two significant digits; three near the 0.05 line, so that a p just above it never reads as 0.05."""
    if p < 0.001:
        return "p < 0.001"
    if p < 0.01 or 0.04 <= p < 0.06:
        return f"p = {p:.3f}"
    return f"p = {p:.2f}"


def _ks(ks: list[int]) -> str:
    words = [str(k) for k in ks]
    return "k = " + (words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1])


def _pm(c_mean: float, spread: float) -> str:
    return _pct(c_mean) + ("" if np.isnan(spread) else f" ± {100 * spread:.1f}")


def _verdict(c: Comparison) -> str:
    if np.isnan(c.p):
        return "not testable"
    if c.p_holm < ALPHA:
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
                "verdict": _verdict(c),
                "above chance": f"{c.above_chance} of {len(c.accuracies)}",
            }
        )
    return rows


def _kind_list(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def sweep_reading(sweep: Sweep, chance: float = 0.1) -> str:
    """The findings of a sweep as one paragraph (for the command line)."""
    return " ".join(sweep_findings(sweep, chance))


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
    fulls = [(kind, sweep.runs_of(kind, FULL, None)) for kind in cfg.kinds]
    fulls = [(kind, runs) for kind, runs in fulls if runs]
    of = f" (mean ± SD over {seeds} seeds)" if seeds > 1 else ""
    if fulls:
        accs = [f"{kind.upper()} {_pm(np.mean([r.accuracy for r in runs]), _sd(runs))}" for kind, runs in fulls]
        text = f"On {cfg.sequence_task.name}, full BPTT reaches {_kind_list(accs)}{of}."
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
        groups.setdefault((c.spec.kind, c.spec.scheme), []).append(c.spec.k)
    names = {"chunks": "TBPTT(k, k)", "window": "TBPTT(1, k)", "artbp": "ARTBP of mean k"}
    return "; ".join(
        f"{kind.upper()}{', ' + names[scheme] if name_schemes else ''} at {_ks(sorted(ks))}"
        for (kind, scheme), ks in groups.items()
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
        else:
            out.append(
                f"{head} (not significant, Holm-adjusted {p_text(c.p_holm)}): these seeds cannot tell what training "
                "the input weights adds."
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


def explain_caption(e) -> str:
    """What the equations of explain.Explanation show, and where their numbers come from."""
    where = f"layer {e.layer + 1}" + (", backward direction" if e.direction == 1 else "")
    reads = "the row's 28 pixels" if e.layer == 0 else f"layer {e.layer}'s hidden state at this row"
    text = (
        f"Unit {e.unit} at row {e.row + 1} ({where}): each line is the gate's equation, then the same with this "
        f"unit's numbers, recomputed in float64 from the weights; its last number is what the heatmap shows. "
        f"x_t is what the layer reads: {reads}."
    )
    if e.first_step:
        text += (
            " This is the direction's first step: the state it reads is the zero initial state, so every "
            "recurrent part is 0 and only the biases remain."
        )
    return text


def _decade(value: float) -> str:
    """10 to the nearest power, with superscripts: 10⁻³."""
    if not value > 0:
        return "0"
    return "10" + str(round(math.log10(value))).translate(SUPERSCRIPT)


def chain_reading(chain) -> str:
    """What the BPTT chain of one digit shows (explorer.chain.Chain), and that the recursion is the measured
    gradient."""
    T = len(chain.delta)
    first, last = (T - 1, 0) if chain.direction else (0, T - 1)
    row_first = first + 1
    text = (
        f"Going back from row {last + 1} to row {row_first}, the product of one-step Jacobians has norm "
        f"{chain.product_norm[first]:.3g} (about {_decade(chain.product_norm[first])}), against a bound of "
        f"{chain.bound[first]:.3g} from multiplying their norms. The recursion δ_t = J_{{t+1}}ᵀ δ_{{t+1}} started "
        f"from autograd's δ at the last step gives every row's ‖δ_t‖ to a relative "
        f"{max(chain.recursion_error, 1e-16):.0e} of autograd through the whole unroll."
    )
    if chain.gamma is not None:
        if chain.recurrent_norm < 1 / chain.gamma:
            text += (
                f" σ_max(W_hh) = {chain.recurrent_norm:.3g} is below 1/γ = {1 / chain.gamma:g}: every ‖J_t‖₂ is below "
                "1, so the gradient must vanish (Pascanu et al. 2013)."
            )
        else:
            below = int(np.sum(chain.step_norm[~np.isnan(chain.step_norm)] < 1))
            text += (
                f" σ_max(W_hh) = {chain.recurrent_norm:.3g} is not below 1/γ = {1 / chain.gamma:g}, so Pascanu et "
                f"al.'s sufficient condition for vanishing does not hold; what decides is tanh′ = 1 − h², which "
                f"brings ‖J_t‖₂ below 1 at {below} of {T - 1} steps here."
            )
    return text


def forget_reading(product: np.ndarray, row: int) -> str:
    """The forget-gate products of an LSTM at one row (0-based): how many units keep their cell."""
    column = product[:, row]
    H = len(column)
    kept = int(np.sum(column > 0.5))
    return (
        f"From row {row + 1} to the end, the forget gates alone keep a median {np.median(column):.2g} of what each "
        f"unit's cell held ({_decade(float(np.median(column)))}); {kept} of {H} units keep more than half. Where "
        "∏ f stays near 1, the cell path carries the gradient back without shrinking: the LSTM's gradient highway."
    )


def first_principles_summary(result) -> str:
    """The verdict of the NumPy BPTT against autograd (explorer.gradcheck.FirstPrinciples)."""
    verdict = "PASS" if result.max_error < 1e-8 else "FAIL"
    return (
        f"{verdict}: the hand-written BPTT's gradients agree with autograd's to a relative {result.max_error:.1e} "
        f"at worst (float64; 1e-8 or better passes); the loss, {result.loss_numpy:.6f}, to "
        f"{abs(result.loss_numpy - result.loss_autograd):.0e}."
    )


def occlusion_reading(occ, agree) -> str:
    """What the occlusion map says next to the gradient's row saliency (explorer.counterfactual)."""
    worst = int(occ.needed[0])
    if occ.change[worst] >= 0:
        head = (
            f"Erasing any single row does not lower P({occ.target}) = {occ.base:.1%}: the model does not need any "
            "one row for this answer."
        )
    else:
        head = (
            f"Erasing row {worst + 1} costs class {occ.target} the most: its probability goes from {occ.base:.1%} "
            f"to {occ.base + occ.change[worst]:.1%}."
        )
    rows = ", ".join(str(r + 1) for r in agree.top_occlusion)
    grads = ", ".join(str(r + 1) for r in agree.top_saliency)
    same = len(set(agree.top_occlusion) & set(agree.top_saliency))
    text = (
        f"{head} The rows whose erasure hurts most are {rows}; the gradient's largest row saliency is at {grads} "
        f"({same} of {len(agree.top_occlusion)} in common)."
    )
    if not np.isnan(agree.spearman):
        text += (
            f" Over the {agree.rows} rows with ink, the two rankings correlate with Spearman ρ = {agree.spearman:.2f}: "
            "the gradient says what a small change of a row would move, erasing says what the whole row was worth."
        )
    return text


def edit_caption(before: np.ndarray, after: np.ndarray, target: int) -> str:
    """What an edit did to the final answer: per-row probabilities (T, 10) before and after."""
    old, new = int(before[-1].argmax()), int(after[-1].argmax())
    change = after[-1, target] - before[-1, target]
    verdict = (
        f"the answer stays {new}" if old == new else f"the answer changes from {old} to {new} ({after[-1, new]:.1%})"
    )
    return (
        f"After the edit {verdict}; P({target}) after the last row goes from {before[-1, target]:.1%} to "
        f"{after[-1, target]:.1%} ({100 * change:+.1f} points)."
    )


def point_note(point) -> str:
    """What a point of training scored (explorer.snapshots.Point): its test accuracy and training loss."""
    acc = "test accuracy unrecorded" if point.test_accuracy is None else f"test accuracy {point.test_accuracy:.1%}"
    loss = "" if point.loss is None else f", training loss {point.loss:.3f}"
    return f"{acc}{loss}, after {point.step:,} optimizer steps"


def replay_caption(history: list, traces: list, label: int | None) -> str:
    """How one digit's answer evolved over training: the class tracked, from the first point to the last."""
    finals = [tr.probs[0, -1] for tr in traces]
    target = int(finals[-1].argmax()) if label is None else label
    guesses = [int(p.argmax()) for p in finals]
    text = (
        f"P({target}) after the last row goes from {finals[0][target]:.1%} at {history[0].label} to "
        f"{finals[-1][target]:.1%} at {history[-1].label}"
    )
    settled = next((i for i in range(len(guesses)) if all(g == target for g in guesses[i:])), None)
    if settled is None:
        return text + f"; the model's answer is {guesses[-1]} in the end, not {target}."
    return text + f"; the answer is {target} from {history[settled].label} on."


def training_decay_reading(ratios: dict, T: int) -> str:
    """How the share of the last row's gradient that reaches row 1 changed over training (label -> ratio, in
    order), compared by power of ten as shown."""
    labels = list(ratios)
    first, last = ratios[labels[0]], ratios[labels[-1]]
    a, b = _decade(first), _decade(last)
    if a == b:
        change = "it stays at the same power of ten over training"
    else:
        change = "training " + ("lengthened" if last > first else "shortened") + " how far the gradient travels back"
    return (
        f"Row 1 receives {a} of row {T}'s gradient at {labels[0]} and {b} at {labels[-1]} (batch medians, "
        f"rounded to a power of ten): {change} for these digits."
    )


PRESENT_KEYS = "Space play/pause · ←/→ one row · N next digit · M next model"


def present_line(final: np.ndarray, label: int | None) -> str:
    """Presentation mode's one line above the animation: the answer after the last row, and the keys."""
    guess = int(final.argmax())
    verdict = "" if label is None else (" — right" if guess == label else f" — wrong, it is a {label}")
    return f"**Prediction {guess}** ({final[guess]:.0%} sure){verdict} &nbsp;·&nbsp; keys: {PRESENT_KEYS}"
