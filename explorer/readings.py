"""What the app says about its numbers: every sentence here is computed from the data it describes.

No Streamlit: pages place these strings; tests check each against the numbers (and under every setting the
page offers: both loss placements, every cell kind, bidirectional and multi-layer models, untrained models).
"""

import numpy as np

from .data import T
from .metadata import Recorded
from .predictions import settled_after
from .stats import ALPHA
from .sweep import Sweep, compare_ks

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


def decay_reading(ratios: dict[str, float], T: int, loss_at: str) -> str:
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


def _p(p: float) -> str:
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}" if p < 0.01 else f"p = {p:.2f}"


def _ks(ks: list[int]) -> str:
    words = [str(k) for k in ks]
    return "k = " + (words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1])


def sweep_table(sweep: Sweep, chance: float = 0.1) -> list[dict]:
    """One row per k: accuracy (mean ± spread over seeds), difference from the reference, the paired test."""
    rows = []
    for r in compare_ks(sweep, chance):
        acc = _pct(r.mean) + ("" if np.isnan(r.spread) else f" ± {100 * r.spread:.1f}")
        if r.k == r.reference:
            versus, test, verdict = "reference", "", ""
        elif np.isnan(r.p):
            versus, test, verdict = f"{100 * r.difference:+.1f}", r.test, "not testable"
        else:
            versus, test = f"{100 * r.difference:+.1f}", f"{r.test}, {_p(r.p_holm)}"
            verdict = (
                f"significantly {'lower' if r.difference < 0 else 'higher'}" if r.p_holm < ALPHA else "not significant"
            )
        rows.append(
            {
                "k": r.k,
                "test accuracy": acc,
                f"vs k = {r.reference} (points)": versus,
                "paired test (Holm-adjusted)": test,
                "verdict": verdict,
                "above chance": f"{r.above_chance} of {len(r.accuracies)}",
            }
        )
    return rows


def sweep_reading(sweep: Sweep, chance: float = 0.1) -> str:
    """A few sentences about a sweep, with paired tests; never reads 'not significant' as 'equal'."""
    results = compare_ks(sweep, chance)
    if not results:
        return "The sweep was stopped before any model finished; nothing to read yet."
    seeds = len(sweep.seeds)
    runs = sum(len(r.accuracies) for r in results)
    if all(r.above_chance == 0 for r in results):
        best = max(a for r in results for a in r.accuracies)
        return (
            f"Every model is at chance level (best {_pct(best)}, chance {_pct(chance)}; none of the {runs} is "
            "significantly above it): they learned nothing, so this sweep says nothing about k. Train for more "
            "epochs, with more hidden units or more training digits."
        )
    first, ref = results[0], next(r for r in results if r.k == r.reference)
    of = f" (means over {seeds} seeds)" if seeds > 1 else ""
    full = " (full BPTT)" if ref.k == T else ""
    out = [f"Test accuracy goes from {_pct(first.mean)} at k = {first.k} to {_pct(ref.mean)} at k = {ref.k}{full}{of}."]
    compared = [r for r in results if r.k != r.reference and not np.isnan(r.p)]
    if compared:
        how = (
            "McNemar's exact test on the same test digits, one run per k"
            if seeds == 1
            else f"paired t-tests over the {seeds} seeds"
        )
        worse = [r.k for r in compared if r.p_holm < ALPHA and r.difference < 0]
        better = [r.k for r in compared if r.p_holm < ALPHA and r.difference > 0]
        unclear = [r for r in compared if r.p_holm >= ALPHA]
        parts = []
        if worse:
            parts.append(f"{_ks(worse)} {'is' if len(worse) == 1 else 'are'} significantly worse than k = {ref.k}")
        if better:
            parts.append(f"{_ks(better)} {'is' if len(better) == 1 else 'are'} significantly better than k = {ref.k}")
        if parts:
            out.append(" and ".join(parts) + f" ({how}, Holm-adjusted {_p(ALPHA).replace('=', '<')}).")
        for r in unclear:
            seen = f", lower in {r.lower_in} of {len(r.accuracies)} seeds" if seeds > 1 else ""
            out.append(
                f"k = {r.k} scores {_points(r.difference)} than k = {ref.k}{seen}, which is not significant "
                f"(Holm-adjusted {_p(r.p_holm)}): {'this single run' if seeds == 1 else 'these seeds'} "
                f"cannot tell whether the gap is real, which does not make k = {r.k} as good."
            )
    if seeds == 1:
        out.append(
            "Each k was trained once, with one seed; another seed moves each accuracy too, so run several "
            "seeds to see how much."
        )
    if sweep.config.loss_at == "last" and first.k < T:
        rows = f"row {T}" if first.k == 1 else f"rows {T - first.k + 1}–{T}"
        if first.above_chance:
            some = "" if first.above_chance == len(first.accuracies) else f" ({first.above_chance} of its seeds)"
            story = (
                f"still beats chance ({_pct(chance)}) by {100 * (first.mean - chance):.0f} points{some}: the "
                f"forward pass carries rows 1–{T - first.k} into the state and the last "
                f"{'step learns' if first.k == 1 else f'{first.k} steps learn'} to read it, but no gradient "
                "teaches the earlier steps what to keep"
            )
        else:
            story = f"is at chance ({_pct(chance)})"
        out.append(f"With the loss on the last row, k = {first.k} sends gradient only to {rows}; that model {story}.")
    if sweep.stopped:
        out.append(f"The sweep was stopped: only {_ks(sweep.ks)} finished.")
    return " ".join(out)
