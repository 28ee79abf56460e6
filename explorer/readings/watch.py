"""Sentences of Watch it read: what the prediction did row by row, what the gates show, captions."""

import numpy as np

from ..model.predictions import settled_after


def prediction_path(probs: np.ndarray) -> str:
    """How the most likely class changes as rows are read, e.g. '2 → 5 → 7', from probs (T, 10)."""
    guess = probs.argmax(-1)
    path = [int(guess[0])] + [int(g) for prev, g in zip(guess, guess[1:]) if g != prev]
    return " → ".join(str(c) for c in path)


def _blank_top(rows: int, bidirectional: bool, layers: int) -> str:
    """What the first `rows` blank rows of a sequence mean for each layer and direction of the model."""
    head = ("Row 1 carries" if rows == 1 else f"Rows 1–{rows} carry") + " no ink: there layer 1 reads a zero input"
    arrive = f"until the strokes arrive at row {rows + 1}"
    if not bidirectional:
        above = ", and each layer above reads the h of the layer below" if layers > 1 else ""
        return (
            f"{head}{above}, so only the biases and the states move the model: its states there are the same for "
            f"every digit blank there, {arrive}. "
        )
    above = ", and each layer above reads both directions' h of the layer below" if layers > 1 else ""
    backward = (
        "the backward direction reads bottom to top and has read every stroke before it gets there"
        if layers == 1
        else "the backward directions read bottom to top and have read every stroke before they get there, and so "
        "has every layer above layer 1, which reads them"
    )
    return (
        f"{head}{above}. Layer 1's forward direction is moved only by its biases and its own state, the same for "
        f"every digit blank there, {arrive}; {backward}. "
    )


def scan_reading(image: np.ndarray, probs: np.ndarray, bidirectional: bool, layers: int) -> str:
    """How to read the animation, with this sequence's blank top rows (what they mean for a model with this many
    layers and directions) and this model's path of guesses. image: the sequence the model reads (T, 28)."""
    ink_rows = np.flatnonzero(np.abs(np.asarray(image)).max(axis=1) > 0)
    text = (
        "Each heatmap has one row per hidden unit and one column per image row; a white curtain lifts as the "
        "network reads. "
    )
    if len(ink_rows) == 0:
        text += (
            "This digit has no ink: layer 1 reads a zero input at every row, so everything the model computes comes "
            "from its biases alone. "
        )
    elif ink_rows[0] > 0:
        text += _blank_top(int(ink_rows[0]), bidirectional, layers)
    path, settled = prediction_path(probs), settled_after(probs)
    text += "The bars show what the classifier would answer if the digit ended at this row. "
    if "→" in path:
        text += f"Here the guess goes {path} and settles at row {settled}."
    else:
        text += f"Here it answers {path} from row 1 on and never changes its mind."
    if len(ink_rows) and settled <= ink_rows[0]:  # settled on blank rows: the ink changed nothing
        text += f" That answer comes before the first ink (row {ink_rows[0] + 1}): the strokes never change it."
    return text


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
    if kind in ("mingru", "minlstm"):
        return _min_gate_reading(kind, readout, h)
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


def _min_gate_reading(kind: str, readout: str, h: np.ndarray | None) -> str:
    """minGRU and minLSTM (explorer.model.mincells): no W_hh, so h is a running average the row alone gates."""
    if kind == "mingru":
        text = (
            "A minGRU has no W_hh: its gates read the row alone, z = σ(W_iz xₜ + b_iz) and the candidate "
            "n = pos(W_in xₜ + b_in), and hₜ = (1 − z) ⊙ hₜ₋₁ + z ⊙ n is a running average of the candidates. "
            "Where the update gate *z* is open (yellow) a unit takes the candidate; where it is shut (purple) the "
            "unit keeps its old state, the other way round from a GRU's z. "
        )
    else:
        text = (
            "A minLSTM has no W_hh and no cell state: its gates read the row alone, f = σ(W_if xₜ + b_if), "
            "i = σ(W_ii xₜ + b_ii) and the candidate g = pos(W_ig xₜ + b_ig), and hₜ = f/(f + i) ⊙ hₜ₋₁ + "
            "i/(f + i) ⊙ g is a running average of the candidates: the forget gate *f* and the input gate *i*, "
            "scaled to add up to 1, share each unit between what it held and the new candidate. "
        )
    text += (
        "pos(v) = v + 0.5 for v ≥ 0 and σ(v) below, so every candidate is positive and h, an average of them "
        "from h₀ = 0, is never negative (on a log colour scale: blue below pos(0) = 0.5, red above). The next "
        f"row reads h, and {readout}."
    )
    if h is not None:
        text += f" On this digit h goes up to {float(np.max(h)):.2f}."
    return text


def unit_caption(kind: str) -> str:
    """What the unit inspector shows, for this kind of cell."""
    if kind == "mingru":
        return (
            "One unit's update gate z (top) and its candidate n and hidden state h (bottom) at every row. An "
            "update gate near 1 takes the candidate n; near 0 the unit keeps its old h (no W_hh: z reads the row "
            "alone)."
        )
    if kind == "minlstm":
        return (
            "One unit's forget gate f and input gate i (top) and its candidate g and hidden state h (bottom) at "
            "every row. h moves towards g by the share i/(f + i); with f near 1 and i near 0 it holds (no W_hh: "
            "the gates read the row alone)."
        )
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
        text += " This is the direction's first step: the state it reads is the zero initial state"
        if all(t.recurrent_part == 0 for t in e.terms.values()):
            text += ", so every recurrent part W_hh · h is 0"
            if all(not np.any(t.input_terms) for t in e.terms.values()):
                text += ", and so is every input part here: only the biases remain."
            else:
                text += "; the input part and the biases remain."
        else:
            text += "."
    return text


def occlusion_reading(occ, agree) -> str:
    """What the occlusion map says next to the gradient's row saliency (explorer.analysis.counterfactual)."""
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
