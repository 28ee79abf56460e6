"""LaTeX for the pages: the cells' equations as PyTorch defines them, and one step with its numbers substituted.

Notation (the same on every page): rows t = 1..T top to bottom; x_t the layer's input at row t (the digit's
row for layer 1, the layer below's h_t above it); h_{t-1} the state this direction read before row t (h_{t+1}
for the backward direction, which reads bottom to top); [j] one unit; σ the logistic sigmoid; ⊙ elementwise;
g (upright) the min cells' candidate activation, v + 1/2 for v ≥ 0 and σ(v) below (Feng et al. 2024).
"""

import math

from ..analysis.explain import Explanation


def num(value: float, digits: int = 4, paren: bool = True) -> str:
    """A number for LaTeX with `digits` significant digits: 0.1234, -1.5, 3.2\\times10^{-5}; parenthesised when
    negative (and `paren`), so that it can follow a + sign."""
    if value == 0:
        return "0"
    if not math.isfinite(value):
        return r"\infty" if value > 0 else r"-\infty"
    exponent = math.floor(math.log10(abs(value)))
    if -3 <= exponent < 4:
        text = f"{value:.{max(digits - 1 - exponent, 0)}f}"
        if "." in text:
            text = text.rstrip("0").rstrip(".")
    else:
        mantissa = value / 10**exponent
        text = f"{mantissa:.{digits - 1}f}".rstrip("0").rstrip(".") + rf"\times10^{{{exponent}}}"
    return f"({text})" if value < 0 and paren else text


POSITIVE = r"\operatorname{g}(v) = \begin{cases} v + \tfrac12 & v \ge 0 \\ \sigma(v) & v < 0 \end{cases}"
ACTIVATION = {"sigmoid": r"\sigma", "tanh": r"\tanh", "positive": r"\operatorname{g}"}


def equations(kind: str) -> list[str]:
    """The forward equations of a cell (no numbers), as torch.nn.RNN / LSTM / GRU and explorer.model.mincells compute
    them."""
    if kind == "mingru":
        return [
            r"z_t = \sigma(W_{iz} x_t + b_{iz})",
            r"n_t = \operatorname{g}(W_{in} x_t + b_{in})",
            r"h_t = (1 - z_t) \odot h_{t-1} + z_t \odot n_t",
            POSITIVE,
        ]
    if kind == "minlstm":
        return [
            r"f_t = \sigma(W_{if} x_t + b_{if})",
            r"i_t = \sigma(W_{ii} x_t + b_{ii})",
            r"g_t = \operatorname{g}(W_{ig} x_t + b_{ig})",
            r"h_t = \frac{f_t}{f_t + i_t} \odot h_{t-1} + \frac{i_t}{f_t + i_t} \odot g_t",
            POSITIVE,
        ]
    if kind == "rnn":
        return [r"h_t = \tanh(W_{ih} x_t + b_{ih} + W_{hh} h_{t-1} + b_{hh})"]
    if kind == "lstm":
        lines = [
            rf"{g}_t = {f}(W_{{i{g}}} x_t + b_{{i{g}}} + W_{{h{g}}} h_{{t-1}} + b_{{h{g}}})"
            for g, f in (("i", r"\sigma"), ("f", r"\sigma"), ("g", r"\tanh"), ("o", r"\sigma"))
        ]
        return lines + [r"c_t = f_t \odot c_{t-1} + i_t \odot g_t", r"h_t = o_t \odot \tanh(c_t)"]
    return [
        r"r_t = \sigma(W_{ir} x_t + b_{ir} + W_{hr} h_{t-1} + b_{hr})",
        r"z_t = \sigma(W_{iz} x_t + b_{iz} + W_{hz} h_{t-1} + b_{hz})",
        r"n_t = \tanh(W_{in} x_t + b_{in} + r_t \odot (W_{hn} h_{t-1} + b_{hn}))",
        r"h_t = (1 - z_t) \odot n_t + z_t \odot h_{t-1}",
    ]


def bptt_equations() -> list[str]:
    """The BPTT error recursion in the app's notation (s_t: the whole state, h_t or (h_t, c_t))."""
    return [
        r"\delta_t = \frac{\partial L}{\partial s_t} = \Big(\frac{\partial s_{t+1}}{\partial s_t}\Big)^{\!\top}"
        r" \delta_{t+1} + \frac{\partial \ell_t}{\partial s_t}",
        r"\delta_t = \Big(\prod_{u=t+1}^{T} \frac{\partial s_u}{\partial s_{u-1}}\Big)^{\!\top} \delta_T"
        r"\quad\text{(loss on the last row only)}",
        r"\|\delta_t\| \le \prod_{u=t+1}^{T} \Big\|\frac{\partial s_u}{\partial s_{u-1}}\Big\| \, \|\delta_T\|",
        r"\frac{\partial L}{\partial W_{hh}} = \sum_t \frac{\partial L}{\partial a_t} h_{t-1}^{\top}"
        r"\quad(a_t = W_{ih} x_t + b_{ih} + W_{hh} h_{t-1} + b_{hh})",
    ]


def step_lines(e: Explanation) -> list[str]:
    """One unit's step with its numbers: one LaTeX line per gate, then c_t and h_t."""
    t = e.row + 1
    prev = t - 1 if e.direction == 0 else t + 1  # h_0 (or h_{T+1} going backward) is the zero initial state
    x = rf"x_{{{t}}}" if e.layer == 0 else rf"h^{{({e.layer})}}_{{{t}}}"
    j = rf"[{e.unit}]"
    lines = []
    for name, term in e.terms.items():
        f = ACTIVATION[term.nonlinearity]
        w = name  # W_ii, W_hi ... as torch names them; the plain RNN's W_ih, W_hh
        symbolic_rec = numbers_rec = ""  # a min cell's gate reads x_t alone
        if term.recurrent_part is not None:
            symbolic_rec = rf"W_{{h{w}}}{j} \cdot h_{{{prev}}} + b_{{h{w}}}{j}"
            numbers_rec = rf"{num(term.recurrent_part)} + {num(term.recurrent_bias)}"
        if term.reset is not None:
            symbolic_rec = rf"r_{{{t}}}{j}\,({symbolic_rec})"
            numbers_rec = rf"{num(term.reset)} \cdot ({numbers_rec})"
        lhs = rf"{name}_{{{t}}}{j}"
        lines.append(  # two lines: the equation, then its numbers (one line would not fit a page)
            rf"\begin{{aligned}}{lhs} &= {f}\big(W_{{i{w}}}{j} \cdot {x} + b_{{i{w}}}{j}{_plus(symbolic_rec)}\big)\\"
            rf" &= {f}\big({num(term.input_part)} + {num(term.input_bias)}{_plus(numbers_rec)}\big)"
            rf" = {f}({num(term.preactivation, paren=False)}) = {num(term.value, paren=False)}\end{{aligned}}"
        )
    if e.kind == "lstm":
        i, f, g, o = (e.terms[k].value for k in "ifgo")
        lines.append(
            rf"c_{{{t}}}{j} = f_{{{t}}}{j}\, c_{{{prev}}}{j} + i_{{{t}}}{j}\, g_{{{t}}}{j}"
            rf" = {num(f)} \cdot {num(e.c_prev)} + {num(i)} \cdot {num(g)} = {num(e.c, paren=False)}"
        )
        lines.append(
            rf"h_{{{t}}}{j} = o_{{{t}}}{j} \tanh(c_{{{t}}}{j}) = {num(o)} \cdot \tanh({num(e.c, paren=False)})"
            rf" = {num(e.h, paren=False)}"
        )
    elif e.kind == "gru":
        z, n = e.terms["z"].value, e.terms["n"].value
        lines.append(
            rf"h_{{{t}}}{j} = (1 - z_{{{t}}}{j})\, n_{{{t}}}{j} + z_{{{t}}}{j}\, h_{{{prev}}}{j}"
            rf" = (1 - {num(z)}) \cdot {num(n)} + {num(z)} \cdot {num(e.h_prev)} = {num(e.h, paren=False)}"
        )
    elif e.kind == "mingru":
        z, n = e.terms["z"].value, e.terms["n"].value
        lines.append(
            rf"h_{{{t}}}{j} = (1 - z_{{{t}}}{j})\, h_{{{prev}}}{j} + z_{{{t}}}{j}\, n_{{{t}}}{j}"
            rf" = (1 - {num(z)}) \cdot {num(e.h_prev)} + {num(z)} \cdot {num(n)} = {num(e.h, paren=False)}"
        )
    elif e.kind == "minlstm":
        f, i, g = (e.terms[k].value for k in "fig")
        lines.append(
            rf"h_{{{t}}}{j} = \tfrac{{f_{{{t}}}{j}}}{{f_{{{t}}}{j} + i_{{{t}}}{j}}}\, h_{{{prev}}}{j}"
            rf" + \tfrac{{i_{{{t}}}{j}}}{{f_{{{t}}}{j} + i_{{{t}}}{j}}}\, g_{{{t}}}{j}"
            rf" = \tfrac{{{num(f)}}}{{{num(f)} + {num(i)}}} \cdot {num(e.h_prev)}"
            rf" + \tfrac{{{num(i)}}}{{{num(f)} + {num(i)}}} \cdot {num(g)} = {num(e.h, paren=False)}"
        )
    return lines


def _plus(term: str) -> str:
    """' + term', or nothing for an empty term (a min cell's gate has no recurrent part)."""
    return f" + {term}" if term else ""
