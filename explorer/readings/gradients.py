"""Sentences of the Gradients page: how fast the gradient decays across rows, the chain of Jacobians,
the forget-gate product, decay over training."""

import numpy as np

from ..analysis.chain import KEEP_SHARE
from ..analysis.gradients import first_to_last_ratio
from ..model.config import MIN_KINDS, NAMES
from .sweep import EXPLODING, VANISHING

SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")
SHARE_AT = {"mingru": "1 − z_{0}", "minlstm": "f_{0}/(f_{0} + i_{0})"}  # a min cell's keep share at step {0}


def decade(x: float) -> int:
    """x > 0 rounded to the nearest power of ten in log space: 3.2e-6 -> -5."""
    return round(float(np.log10(x)))


def power_of_ten(x: float) -> str:
    """x ≥ 0 as its nearest power of ten, e.g. 3.2e-6 -> '10⁻⁵'; 0 -> '0'; nan -> 'NaN', inf -> '∞'."""
    if np.isnan(x):
        return "NaN"
    if np.isinf(x):
        return "∞"
    return "0" if x == 0 else "10" + str(decade(x)).translate(SUPERSCRIPT)


def decay_verdict(ratio: float) -> str:
    """'vanishing' or 'exploding' from the same rounding power_of_ten shows, so the two always agree; else ''
    (also for a ratio that is not a finite number: nothing was measured)."""
    if not np.isfinite(ratio):
        return ""
    if ratio == 0:
        return "vanishing"
    return "vanishing" if decade(ratio) <= VANISHING else "exploding" if decade(ratio) >= EXPLODING else ""


def decay_reading(ratios: dict[str, float], T, loss_at: str) -> str:
    """One line comparing models by how much of the last row's loss gradient reaches row 1 (batch medians).

    ratios[label] is median ||dl_T/dh_1|| / median ||dl_T/dh_T|| with l_T the loss on the prediction after
    the last row alone (nan where row T's median is 0; the page leaves out profiles that are not finite): with the
    loss at every row, row 1 also gets its own loss's gradient, which says nothing about how far a signal travels,
    so that term is left out (like for like across placements).
    """
    parts = []
    for label, r in ratios.items():
        if np.isnan(r):
            parts.append(f"{label}: no gradient at row {T}")
            continue
        if np.isinf(r):
            parts.append(f"{label}: not finite")
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
        "mingru": "for a minGRU h_t",
        "minlstm": "for a minLSTM h_t (it has no cell state)",
    }
    which = "; ".join(state[k] for k in state if k in kinds)
    return (
        f"On the first {digits} digits of the batch: how strongly the final hidden state still depends on the "
        f"state s_t after row t, loss aside ({which}). At the last row it is the identity: √(hidden units)."
    )


def _measured(chain, row_first: int, row_last: int) -> str:
    """The measured share of the last step's gradient that reaches the first row read, and its verdict."""
    T = len(chain.delta)
    ratio = f"‖δ_{row_first}‖ / ‖δ_{row_last}‖"
    if not np.isfinite(chain.delta).all():
        return f" Measured on this digit, ‖δ_t‖ is not finite at {int(np.sum(~np.isfinite(chain.delta)))} of {T} rows."
    if np.isnan(chain.decay):
        return f" Measured on this digit, no gradient reaches row {row_last} (‖δ_{row_last}‖ = 0): nothing to measure."
    verdict = decay_verdict(chain.decay)
    said = {
        "vanishing": "the gradient vanishes (10⁻² or less)",
        "exploding": "the gradient explodes (10² or more)",
        "": "it neither vanishes (10⁻² or less) nor explodes (10² or more)",
    }[verdict]
    return f" Measured on this digit, {ratio} = {chain.decay:.2g} (about {power_of_ten(chain.decay)}): {said}."


def chain_reading(chain) -> str:
    """What the BPTT chain of one digit shows (explorer.analysis.chain.Chain): the product against its bound, that
    the recursion is the measured gradient, Pascanu et al.'s bound for a tanh RNN, and the measured decay."""
    T = len(chain.delta)
    first, last = (T - 1, 0) if chain.direction else (0, T - 1)
    row_first, row_last = first + 1, last + 1
    error = chain.recursion_error
    agree = (
        f"gives every row's ‖δ_t‖ to a relative {max(error, 1e-16):.0e} of autograd through the whole unroll."
        if np.isfinite(error)
        else "cannot be compared with autograd here: the numbers are not finite."
    )
    text = (
        f"Going back from row {row_last} to row {row_first}, the product of one-step Jacobians has norm "
        f"{chain.product_norm[first]:.3g} (about {power_of_ten(chain.product_norm[first])}), against a bound of "
        f"{chain.bound[first]:.3g} from multiplying their norms. The recursion δ_t = J_{{t+1}}ᵀ δ_{{t+1}} started "
        f"from autograd's δ at the last step {agree}"
    )
    if chain.gamma is not None and np.isfinite(chain.recurrent_norm):
        sigma, steps = chain.recurrent_norm, T - 1
        ceiling = (sigma * chain.gamma) ** steps  # Pascanu's bound on ‖δ_first‖ / ‖δ_last‖
        if sigma * chain.gamma < 1:
            text += (
                f" σ_max(W_hh) = {sigma:.3g} is below 1/γ = {1 / chain.gamma:g}, so every ‖J_t‖₂ ≤ σ_max·γ < 1 and "
                f"Pascanu et al.'s (2013) bound lets at most (σ_max·γ)^k of the gradient through k rows: here "
                f"{sigma * chain.gamma:.3g}^{steps} ≈ {ceiling:.2g} from row {row_last} to row {row_first}"
                + (
                    ", so over these rows the gradient must vanish."
                    if decay_verdict(ceiling) == "vanishing"
                    else f". That is a ceiling, not a measurement: over {steps} rows it does not force vanishing."
                )
            )
        else:
            below = int(np.sum(chain.step_norm[~np.isnan(chain.step_norm)] < 1))
            text += (
                f" σ_max(W_hh) = {sigma:.3g} is not below 1/γ = {1 / chain.gamma:g}, so Pascanu et al.'s bound does "
                f"not force the gradient to shrink; what decides is tanh′ = 1 − h², which brings ‖J_t‖₂ below 1 at "
                f"{below} of {steps} steps here."
            )
    if chain.kind in MIN_KINDS and len(chain.delta_layers) == 1:
        text += (
            f" A {NAMES[chain.kind]} has no W_hh: each J_t is diagonal, diag({SHARE_AT[chain.kind].format('t')}), "
            "read from the row alone, so the product's norm is the largest unit's product of keep shares "
            "(the heatmap below)."
        )
    return text + _measured(chain, row_first, row_last)


def forget_reading(product: np.ndarray, row: int, kind: str = "lstm") -> str:
    """The products of the keep share (an LSTM's forget gate, a minGRU's 1 − z, a minLSTM's f/(f + i)) at one
    row (0-based): how many units keep what they held."""
    column = product[:, row]
    H = len(column)
    kept = int(np.sum(column > 0.5))
    median = float(np.median(column))
    if kind == "lstm":
        return (
            f"From row {row + 1} to the end, the forget gates alone keep a median {median:.2g} of what each "
            f"unit's cell held ({power_of_ten(median)}); {kept} of {H} units keep more than half. Where "
            "∏ f stays near 1, the cell path carries the gradient back without shrinking: the LSTM's gradient highway."
        )
    return (
        f"From row {row + 1} to the end, the keep shares {KEEP_SHARE[kind]} keep a median {median:.2g} of what each "
        f"unit's h held ({power_of_ten(median)}); {kept} of {H} units keep more than half. A {NAMES[kind]}'s gates "
        f"read x_t alone, so within a layer this product is ∂h_last/∂h_t itself, unit by unit: where it stays "
        "near 1 the gradient travels back without shrinking, and nothing else can carry it along the layer."
    )


def product_title(kind: str) -> str:
    """The heading of the keep-share product heatmap of an LSTM, a minGRU or a minLSTM (Markdown)."""
    if kind == "lstm":
        return "**The forget-gate product** ∏ f_s over the rows after t, per unit: the LSTM's cell path."
    return (
        f"**The keep-share product** ∏ ({SHARE_AT[kind].format('s')}) over the rows after t, per unit: with no "
        f"W_hh, the whole of what carries a {NAMES[kind]}'s gradient back along its layer."
    )


def no_recurrent_weights(labels: list[str], what: str) -> str:
    """Why models without W_hh (minGRU, minLSTM) are left out of the per-row ∂L/∂W_hh chart (what = 'contributions')
    or untouched by the recurrent weight scale (what = 'scale')."""
    names = ", ".join(labels)
    if what == "contributions":
        return (
            f"Left out: {names}. A minGRU's and a minLSTM's gates read x_t alone: there is no W_hh, so no row adds "
            "to a ∂L/∂W_hh."
        )
    return (
        f"The recurrent weight scale does not change {names}: a minGRU or minLSTM has no W_hh to scale, so "
        "PyTorch's init stays."
    )


def no_chrono(labels: list[str]) -> str:
    """Why chrono initialisation leaves these untrained copies (of plain RNNs) at PyTorch's init."""
    return (
        f"Chrono initialisation leaves {', '.join(labels)} at PyTorch's init: a plain RNN has no gates whose "
        "biases it could set."
    )


def _unmeasured(label: str, norms: np.ndarray, T) -> str:
    """Why a point of training has no share to show, or '' when it has one."""
    if not np.isfinite(norms).all():
        return f"the gradients at {label} are not finite"
    if np.isnan(first_to_last_ratio(norms)):
        return f"no gradient reached row {T} at {label} (batch median 0)"
    return ""


def training_decay_reading(norms: dict, T: int) -> str:
    """How the share of the last row's gradient that reaches row 1 changed over training, compared by power of ten
    as shown. norms: label -> per-sample ‖∂ℓ_T/∂h_t‖ (B, T) at that point of training, in order."""
    labels = list(dict.fromkeys([next(iter(norms)), list(norms)[-1]]))  # first and last point (one if only one)
    missing = [why for label in labels if (why := _unmeasured(label, norms[label], T))]
    if missing:
        return (
            f"Nothing to compare over training: {' and '.join(missing)}, so no share of row {T}'s gradient "
            "reaching row 1 was measured there."
        )
    a, b = first_to_last_ratio(norms[labels[0]]), first_to_last_ratio(norms[labels[-1]])
    if len(labels) == 1:
        return f"Row 1 receives {power_of_ten(a)} of row {T}'s gradient at {labels[0]} (batch medians)."
    if power_of_ten(a) == power_of_ten(b):
        change = "it stays at the same power of ten over training"
    else:
        change = "training " + ("lengthened" if b > a else "shortened") + " how far the gradient travels back"
    return (
        f"Row 1 receives {power_of_ten(a)} of row {T}'s gradient at {labels[0]} and {power_of_ten(b)} at "
        f"{labels[1]} (batch medians, rounded to a power of ten): {change} for these digits."
    )


def gradient_check_summary(max_error: float, threshold: float, passed: bool, checks: int, kind: str = "lstm") -> str:
    """One line: pass or fail against the threshold, and what was compared with what (for a minGRU or minLSTM the
    reference is its parallel scan: torch has no fused module of it)."""
    verdict = "PASS" if passed else "FAIL"
    reference = (
        f"the {NAMES[kind]}'s parallel scan (explorer.model.mincells)"
        if kind in MIN_KINDS
        else "PyTorch's fused modules"
    )
    return (
        f"{verdict}: the largest relative error of {checks} checks is {max_error:.1e} (threshold {threshold:.0e}). "
        "Reverse-mode BPTT through the explicit unroll (the code behind every chart on this page) against "
        f"forward-mode derivatives of {reference}, in float64."
    )
