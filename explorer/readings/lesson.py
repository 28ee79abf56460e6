"""The result sentences of the lesson "Why LSTMs beat plain RNNs", one function per kind of view: each turns the
live numbers of a step's view into plain text. The lesson's own prose comes from its file (lesson_file.py)."""

import numpy as np

from ..model.config import NAMES
from .gradients import power_of_ten

CHANCE = 0.1  # ten classes


def percent(x: float) -> str:
    return f"{100 * x:.0f}%"


def prediction_reading(label: str, probs: np.ndarray, digit_label: int | None, settled: int) -> str:
    """What a model made of one digit: probs (T, 10) after each row, the row from which its guess held."""
    T = len(probs)
    guess = int(probs[-1].argmax())
    verdict = "" if digit_label is None else (" (right)" if guess == digit_label else f" (the label is {digit_label})")
    return (
        f"After all {T} rows the {label} says {guess} with probability {probs[-1, guess]:.2f}{verdict}; "
        f"its guess held from row {settled} on."
    )


def accuracy_reading(label: str, accuracy: float, task_name: str, digits: int) -> str:
    """A model's accuracy on its task against chance."""
    above = accuracy - CHANCE
    how = "within 5 points of chance" if above < 0.05 else "well above chance" if accuracy >= 0.7 else "above chance"
    return (
        f"On {digits:,} test digits read as {task_name}, the {label} is right {percent(accuracy)} of the time: "
        f"{how} (10%)."
    )


def forget_reading(kept: np.ndarray, rows: int) -> str:
    """kept (H,): per unit, ∏ f over the `rows` delay rows on this digit."""
    if rows == 0:
        return ""
    return (
        f"Across the {rows} rows after the digit, the median cell unit keeps {np.median(kept):.2f} of its content "
        f"through the forget gates alone; {int(np.sum(kept > 0.5))} of {len(kept)} units keep more than half, "
        f"the best-kept {kept.max():.2f}."
    )


def gate_reading(f: np.ndarray, c: np.ndarray) -> str:
    """f, c (T, H) of one digit: the forget gate's mean and the cell's largest magnitude."""
    return (
        f"On this digit its forget gates average {f.mean():.2f} over units and rows, and {np.mean(f > 0.9):.0%} "
        f"of them are above 0.9 (nearly all kept); the largest |c| is {np.abs(c).max():.2f}."
    )


def memory_reading(curves: dict[str, np.ndarray], end_of_digit: int) -> str:
    """curves[label] = P(right class) after each row; end_of_digit = rows of ink (28). One clause per model."""
    T = len(next(iter(curves.values())))
    if end_of_digit == T:
        return "P(right class) after the last row: " + ", ".join(f"{m} {p[-1]:.2f}" for m, p in curves.items()) + "."
    parts = [f"{m} {p[end_of_digit - 1]:.2f} → {p[-1]:.2f}" for m, p in curves.items()]
    return f"P(right class) after the digit's last row (row {end_of_digit}) → after row {T}: " + "; ".join(parts) + "."


def chain_reading(delta: np.ndarray, end_of_digit: int) -> str:
    """delta (T,): ‖∂L/∂s_t‖ per row by autograd; how much of the last row's gradient reaches the digit."""
    T = len(delta)
    last = delta[-1]
    if not last > 0:
        return f"No gradient reaches row {T}: nothing to follow back."
    at_digit, at_top = delta[end_of_digit - 1] / last, delta[0] / last
    rows = f"row {end_of_digit}, the digit's last row" if end_of_digit < T else f"row {end_of_digit}"
    return (
        f"Of the gradient at row {T}, a fraction {at_digit:.2g} (about {power_of_ten(at_digit)}) reaches {rows}, "
        f"and {at_top:.2g} (about {power_of_ten(at_top)}) reaches row 1."
    )


def product_reading(product: float, bound: float, steps: int, T: int, step_norms: np.ndarray) -> str:
    """The product of the last `steps` one-step Jacobians: its norm, the bound ∏‖J_t‖, and the typical ‖J_t‖."""
    return (
        f"Going back {steps} rows from row {T}, the product of {steps} Jacobians has norm {product:.2g} "
        f"(about {power_of_ten(product)}), under the bound {bound:.2g} from multiplying their norms; "
        f"the median one-step norm ‖J_t‖ over those rows is {np.median(step_norms):.2f}."
    )


def truncation_reading(grad: np.ndarray, full: np.ndarray, k: int, digit_rows: range) -> str:
    """grad, full (T,): median ‖∂L/∂h_t‖ per row with BPTT truncated to k and with full BPTT."""
    T = len(grad)
    zero = next((t for t, g in enumerate(grad) if g != 0), T)  # the earliest rows, up to the first that gets any
    reached = [r for r in digit_rows if grad[r] > 0]
    digit = (
        "none of the digit's rows gets any gradient: training cannot learn from the ink"
        if not reached
        else f"{len(reached)} of the digit's {len(digit_rows)} rows get gradient"
    )
    share = grad.sum() / full.sum() if full.sum() > 0 else float("nan")
    return (
        f"With k = {k}, the {zero} earliest of {T} rows get exactly zero gradient and {digit}; "
        f"the rows that do get it keep {share:.0%} of the full-BPTT gradient summed over rows."
    )


def sweep_reading(means: dict[str, dict], k: int, full_k: int) -> str:
    """means[kind][k] = mean test accuracy over seeds; full BPTT under key full_k (T)."""
    parts = [
        f"{NAMES.get(kind, kind)} {percent(by_k[k])} against {percent(by_k[full_k])} with full BPTT"
        for kind, by_k in means.items()
        if k in by_k and full_k in by_k
    ]
    if not parts:
        return f"No cell of this experiment was trained with k = {k}."
    return f"Trained with k = {k} (mean over seeds): " + "; ".join(parts) + "."


def bias_reading(
    bias: str, history: list[float], final: float, init_keep: float, delay: int, rows: str = "blank"
) -> str:
    """history: test accuracy per epoch of the LSTM trained with forget-gate bias `bias`; rows: the kind of the
    `delay` rows after the digit (blank or noise)."""
    first = next((i + 1 for i, a in enumerate(history) if a >= 0.5), None)
    when = f"first passed 50% after epoch {first}" if first else "never passed 50%"
    keep = (
        f"before training the forget gates keep a median {init_keep:.2g} of a cell across the {delay} {rows} rows"
        if delay
        else "its task has no rows after the digit"
    )
    return f"With forget bias {bias}, {keep}; trained, the LSTM {when} and ended at {percent(final)}."


def accuracy_table_reading(accuracies: dict[str, float], delay: int, trained: int | None) -> str:
    """accuracies[label] at a delay of `delay` rows, for models all trained at `trained` rows of the same kind
    (None: trained on other tasks, or not all on the same one)."""
    parts = ", ".join(f"{label} {percent(a)}" for label, a in accuracies.items())
    best = max(accuracies, key=accuracies.get)
    if trained is None:
        where = "not the task they were trained on"
    else:
        where = "the delay they were trained on" if delay == trained else f"trained on {trained}"
    return f"With {delay} rows after the digit ({where}): {parts}. Best: {best}."
