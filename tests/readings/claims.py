"""What a reading claims, checked against the numbers it was computed from.

Each check_* takes a reading's text and the numbers behind it, recomputes what every claim says from those numbers
(independently of explorer.readings), and raises AssertionError on a false one. Words that make a factual claim
("vanish", "explode", "zero input", "only the biases", "shortened", "significant", ...) must each belong to a
phrase the check knows: an unknown use fails, so a new claim cannot slip past unchecked.
"""

import re

import numpy as np

SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def ten(x: float) -> str:
    """x ≥ 0 as its nearest power of ten, as the pages show it (written here independently)."""
    if x == 0 or not np.isfinite(x):
        return {0.0: "0", np.inf: "∞"}.get(x, "NaN")
    return "10" + str(int(np.round(np.log10(x)))).translate(SUPERSCRIPT)


def exponent(x: float) -> float:
    """The rounded power of ten of x ≥ 0 (-inf for 0)."""
    return -np.inf if x == 0 else float(np.round(np.log10(x)))


def claims_known(text: str, word: str, phrases: list[str]) -> None:
    """Every occurrence of `word` in text lies inside one of `phrases` (which the caller has checked)."""
    spans = [range(m.start(), m.end()) for p in phrases for m in re.finditer(re.escape(p), text)]
    for m in re.finditer(re.escape(word), text):
        assert any(m.start() in s for s in spans), f"unchecked claim {word!r} in: {text}"


def holds(condition, text: str, claim: str) -> None:
    assert condition, f"false claim {claim!r} in: {text}"


# ---- Gradients page ---------------------------------------------------------------------------------------------


def check_decay_reading(text: str, norms: dict, T, loss_at: str) -> None:
    """norms: label -> the per-sample ‖∂ℓ_T/∂h_t‖ (B, T) each ratio was computed from."""
    verdicts = []
    for label, n in norms.items():
        first, last = np.median(n[:, 0]), np.median(n[:, -1])
        if last == 0:
            holds(f"{label}: no gradient at row {T}" in text, text, f"{label} measured")
            continue
        holds(f"{label}: no gradient" not in text, text, f"no gradient at row {T} for {label}")
        r = first / last
        shown = f"{label} {ten(r)}"
        holds(shown in text, text, shown)
        vanishing, exploding = exponent(r) <= -2, exponent(r) >= 2
        holds((shown + " (vanishing)" in text) == vanishing, text, f"{label} vanishing")
        holds((shown + " (exploding)" in text) == exploding, text, f"{label} exploding")
        verdicts += [shown + " (vanishing)", shown + " (exploding)"]
    rule = "Vanishing means 10⁻² or less (rounded as shown), exploding 10² or more."
    claims_known(text, "anishing", [*verdicts, rule])
    claims_known(text, "xploding", [*verdicts, rule])
    holds(("every row" in text) == (loss_at == "every"), text, "where the loss is")


def check_chain_reading(text: str, chain) -> None:
    """A chain (explorer.analysis.chain.Chain) and its reading."""
    T = len(chain.delta)
    first, last = (T - 1, 0) if chain.direction else (0, T - 1)
    holds(f"from row {last + 1} to row {first + 1}" in text, text, "the rows")
    holds(f"has norm {chain.product_norm[first]:.3g}" in text, text, "the product's norm")
    holds(f"a bound of {chain.bound[first]:.3g}" in text, text, "the bound")
    phrases = []
    d_first, d_last = chain.delta[first], chain.delta[last]
    if "not finite at" in text:
        holds(not np.isfinite(chain.delta).all(), text, "not finite")
    elif "no gradient reaches row" in text:
        holds(d_last == 0, text, "no gradient reaches the last row")
    else:
        measured = d_first / d_last
        holds(f"= {measured:.2g} (about {ten(measured)})" in text, text, "the measured decay")
        phrases += ["the gradient vanishes (10⁻² or less)", "the gradient explodes (10² or more)"]
        phrases += ["it neither vanishes (10⁻² or less) nor explodes (10² or more)"]
        vanishing, exploding = exponent(measured) <= -2, exponent(measured) >= 2
        holds(("the gradient vanishes" in text) == vanishing, text, "vanishes")
        holds(("the gradient explodes" in text) == exploding, text, "explodes")
        holds(("neither vanishes" in text) == (not vanishing and not exploding), text, "neither")
    if "Pascanu" in text:
        holds(chain.gamma is not None and chain.kind == "rnn", text, "a tanh RNN's bound")
        sigma, gamma = chain.recurrent_norm, chain.gamma
        steps = np.isfinite(chain.step_norm)
        if "is below 1/γ" in text:
            holds(sigma * gamma < 1, text, "σ_max below 1/γ")
            holds(np.all(chain.step_norm[steps] <= sigma * gamma * (1 + 1e-9)), text, "every ‖J_t‖₂ ≤ σ_max·γ")
            ceiling = (sigma * gamma) ** (T - 1)
            holds(f"{sigma * gamma:.3g}^{T - 1} ≈ {ceiling:.2g}" in text, text, "the ceiling")
            holds(d_first <= ceiling * d_last * (1 + 1e-9), text, "the ceiling holds in the data")
            if "must vanish" in text:
                holds(exponent(ceiling) <= -2 and exponent(d_first / d_last) <= -2, text, "must vanish")
                phrases.append("so over these rows the gradient must vanish")
            else:
                holds(exponent(ceiling) > -2, text, "does not force vanishing")
                phrases.append("does not force vanishing")
        else:
            holds("is not below 1/γ" in text and sigma * gamma >= 1, text, "σ_max not below 1/γ")
            below = int(np.sum(chain.step_norm[steps] < 1))
            holds(f"below 1 at {below} of {T - 1} steps" in text, text, "steps below 1")
    else:
        holds(chain.gamma is None, text, "Pascanu's line for a tanh RNN")
    if "has no W_hh: each J_t is diagonal" in text:
        holds(chain.kind in ("mingru", "minlstm") and len(chain.delta_layers) == 1, text, "one min-cell layer")
        largest = np.max(chain.forget_product[:, first])  # the largest unit's product of keep shares
        holds(
            np.isclose(chain.product_norm[first], largest, rtol=1e-9), text, "the product's norm is the largest unit's"
        )
    else:
        holds(chain.kind not in ("mingru", "minlstm") or len(chain.delta_layers) > 1, text, "a min cell's diagonal")
    claims_known(text, "vanish", phrases)
    claims_known(text, "xplode", phrases)


def check_forget_reading(text: str, product: np.ndarray, row: int, kind: str = "lstm") -> None:
    share = {
        "lstm": "the forget gates alone",
        "mingru": "the keep shares (1 − z)",
        "minlstm": "the keep shares f/(f + i)",
    }
    holds(f"to the end, {share[kind]} keep" in text, text, "the gate multiplied")
    column = product[:, row]
    median = float(np.median(column))
    holds(f"median {median:.2g}" in text and f"({ten(median)})" in text, text, "the median")
    holds(f"{int(np.sum(column > 0.5))} of {len(column)} units keep more than half" in text, text, "units kept")


def check_product_title(text: str, kind: str) -> None:
    product = {"lstm": "∏ f_s", "mingru": "∏ (1 − z_s)", "minlstm": "∏ (f_s/(f_s + i_s))"}[kind]
    holds(f"** {product} over the rows after t, per unit" in text, text, "the product drawn")
    holds(("with no W_hh" in text) == (kind != "lstm"), text, "no W_hh")


def check_no_recurrent_weights(text: str, kinds: dict, what: str) -> None:
    """kinds: label -> cell kind of every model the text names (and only those)."""
    holds(all(k in ("mingru", "minlstm") for k in kinds.values()), text, "every model named has no W_hh")
    listed = text.split("Left out: ", 1)[1].split(". ", 1)[0] if what == "contributions" else None
    if listed is None:
        listed = text.split("does not change ", 1)[1].split(": a minGRU", 1)[0]
    holds(listed == ", ".join(kinds), text, "the models named")


def check_no_chrono(text: str, kinds: dict) -> None:
    """kinds: label -> cell kind of every model the text names (and only those)."""
    holds(all(k == "rnn" for k in kinds.values()), text, "every model named is a plain RNN")
    listed = text.split("leaves ", 1)[1].split(" at PyTorch's init", 1)[0]
    holds(listed == ", ".join(kinds), text, "the models named")


def check_training_decay_reading(text: str, norms: dict, T) -> None:
    """norms: label -> per-sample ‖∂ℓ_T/∂h_t‖ (B, T) at that point of training, in order."""
    labels = list(norms)
    ends = [labels[0], labels[-1]]
    shares = {}
    for label in ends:
        n = norms[label]
        if not np.isfinite(n).all():
            holds(f"the gradients at {label} are not finite" in text, text, f"{label} not finite")
        elif np.median(n[:, -1]) == 0:
            holds(f"no gradient reached row {T} at {label}" in text, text, f"no gradient at {label}")
        else:
            shares[label] = np.median(n[:, 0]) / np.median(n[:, -1])
    for word in ("shortened", "lengthened", "stays at the same power of ten"):
        if word in text:
            holds(len(shares) == 2 and len(labels) > 1, text, word + " (measured at both ends)")
            a, b = shares[ends[0]], shares[ends[1]]
            expected = "stays at the same power of ten" if ten(a) == ten(b) else "lengthened" if b > a else "shortened"
            holds(word == expected, text, word)
            holds(f"{ten(a)} of row {T}'s gradient at {ends[0]} and {ten(b)} at {ends[1]}" in text, text, "shares")
    if len(shares) < 2:
        holds("Nothing to compare over training" in text or len(labels) == 1, text, "a comparison")


def check_gradient_check_summary(
    text: str, max_error: float, threshold: float, passed: bool, checks: int, kind: str = "lstm"
) -> None:
    holds(text.startswith("PASS") == (passed and max_error < threshold), text, "PASS")
    scan = kind in ("mingru", "minlstm")  # no fused torch module: the reference is the cell's parallel scan
    holds(("fused modules" in text) != scan and ("parallel scan" in text) == scan, text, "the reference")
    holds(f"largest relative error of {checks} checks is {max_error:.1e}" in text, text, "the error")


def check_jacobian_caption(text: str, kinds: set, digits: int) -> None:
    holds(f"first {digits} digits" in text, text, "digits")
    holds(("(h_t, c_t)" in text) == ("lstm" in kinds), text, "an LSTM's state")
    holds(("for a GRU" in text) == ("gru" in kinds), text, "a GRU")
    holds(("for a minGRU" in text) == ("mingru" in kinds), text, "a minGRU")
    holds(("for a minLSTM h_t (it has no cell state)" in text) == ("minlstm" in kinds), text, "a minLSTM")


# ---- Watch it read ----------------------------------------------------------------------------------------------


def _same_states(trace, blank, layer: int, direction: int, rows: int) -> bool:
    """Whether every state (h, c, gates) of one layer and direction at the first `rows` rows equals the blank
    sequence's."""
    a, b = trace.states[layer][direction], blank.states[layer][direction]
    return all(np.allclose(a[k][0, :rows], b[k][0, :rows], rtol=0, atol=1e-6) for k in a)


def check_scan_reading(text: str, sequence: np.ndarray, trace, blank, bidirectional: bool, layers: int) -> None:
    """trace: the model's on the sequence; blank: its trace on an all-zero sequence of the same length."""
    seq = np.asarray(sequence)
    phrases = []
    if "has no ink" in text:
        holds(not np.any(seq), text, "no ink")
        holds(
            all(
                _same_states(trace, blank, lay, d, len(seq))
                for lay in range(layers)
                for d in range(len(trace.states[0]))
            ),
            text,
            "biases alone",
        )
        phrases.append("layer 1 reads a zero input at every row")
    if m := re.search(r"Rows? 1(?:–(\d+))? carr(?:y|ies) no ink", text):
        k = int(m.group(1) or 1)
        holds(not np.any(seq[:k]) and np.any(seq[k]), text, f"the first {k} rows are blank, then ink")
        holds(f"arrive at row {k + 1}" in text, text, "where the strokes arrive")
        holds("there layer 1 reads a zero input" in text, text, "layer 1 reads zero")  # seq[:k] is that input
        phrases.append("there layer 1 reads a zero input")
        directions = 2 if bidirectional else 1
        if "only the biases and the states move the model" in text:
            holds(not bidirectional, text, "the states of a one-way model")
            holds(all(_same_states(trace, blank, lay, 0, k) for lay in range(layers)), text, "states as for blank")
        if "Layer 1's forward direction is moved only by its biases" in text:
            holds(_same_states(trace, blank, 0, 0, k), text, "layer 1 forward as for blank")
        if "has read every stroke" in text or "have read every stroke" in text:
            holds(directions == 2, text, "a backward direction")
        holds(("each layer above" in text) == (layers > 1), text, "layers above")
    else:
        holds(np.any(seq[0]) or not np.any(seq), text, "blank top rows are said")
    claims_known(text, "zero input", phrases)
    claims_known(text, "only the biases", ["only the biases and the states move the model"])
    probs = trace.probs[0]
    guess = probs.argmax(-1)
    path = [int(guess[0])] + [int(g) for a, g in zip(guess, guess[1:]) if g != a]
    if len(path) > 1:
        settled = 1 + max(t + 1 for t in range(len(guess)) if guess[t] != guess[-1])
        holds(f"goes {' → '.join(map(str, path))} and settles at row {settled}." in text, text, "the path")
    else:
        holds(f"answers {path[0]} from row 1 on and never changes its mind" in text, text, "never changes")
    settled = 1 + max((t + 1 for t in range(len(guess)) if guess[t] != guess[-1]), default=0)
    ink = np.flatnonzero(np.abs(seq).max(axis=1) > 0)
    before_ink = len(ink) > 0 and settled <= ink[0]
    holds(("before the first ink" in text) == before_ink, text, "settled before the ink")
    if before_ink:
        holds(f"before the first ink (row {ink[0] + 1}): the strokes never change it." in text, text, "first ink")


def check_explain_caption(text: str, e) -> None:
    """An explanation (explorer.analysis.explain.Explanation) and its caption."""
    holds(f"Unit {e.unit} at row {e.row + 1} (layer {e.layer + 1}" in text, text, "where")
    holds(("backward direction" in text) == (e.direction == 1), text, "direction")
    holds(("the row's 28 pixels" in text) == (e.layer == 0), text, "what the layer reads")
    holds(("first step" in text) == e.first_step, text, "first step")
    terms = e.terms.values()
    if e.first_step:
        holds(e.h_prev == 0 and (e.c_prev in (None, 0.0)), text, "the zero initial state")
    if "every recurrent part W_hh · h is 0" in text:
        holds(all(not np.any(t.recurrent_terms) and t.recurrent_part == 0 for t in terms), text, "recurrent 0")
    if "only the biases remain" in text:
        holds(all(not np.any(t.input_terms) and t.input_part == 0 for t in terms), text, "input 0")
        for t in terms:
            rest = t.input_bias + (1.0 if t.reset is None else t.reset) * t.recurrent_bias
            holds(np.isclose(t.preactivation, rest, rtol=1e-12, atol=1e-12), text, "biases alone")
    if "the input part and the biases remain" in text:
        holds(any(np.any(t.input_terms) for t in terms), text, "an input part")
    claims_known(text, "only the biases", ["only the biases remain"])
    claims_known(text, "is 0", ["every recurrent part W_hh · h is 0"])


def check_gate_reading(text: str, kind: str, bidirectional: bool, h) -> None:
    holds(("backward h after row 1" in text) == bidirectional, text, "what the classifier reads")
    forget = ("forget gate" in text) == (kind in ("lstm", "minlstm"))
    update = ("update gate" in text) == (kind in ("gru", "mingru"))
    holds(forget and update, text, "gates")
    holds(("no W_hh" in text) == (kind in ("mingru", "minlstm")), text, "no W_hh")
    if "never negative" in text and h is not None:
        holds(bool(np.all(h >= 0)) and f"h goes up to {float(np.max(h)):.2f}." in text, text, "h >= 0, its largest")
    if kind == "rnn" and h is not None:
        holds(f"{np.mean(np.abs(h) > 0.9):.0%} of the values of h are beyond ±0.9" in text, text, "saturation")


def check_occlusion_reading(text: str, occ, agree) -> None:
    worst = int(np.argmin(occ.change))
    if "does not lower" in text:
        holds(np.all(occ.change >= 0), text, "no row lowers it")
    else:
        holds(f"Erasing row {worst + 1} costs class {occ.target} the most" in text, text, "the costliest row")
        holds(occ.change[worst] < 0, text, "erasing costs")
    holds(("Spearman" in text) == bool(np.isfinite(agree.spearman)), text, "a correlation")
    same = len(set(agree.top_occlusion) & set(agree.top_saliency))
    holds(f"({same} of {len(agree.top_occlusion)} in common)" in text, text, "in common")


def check_edit_caption(text: str, before: np.ndarray, after: np.ndarray, target: int) -> None:
    old, new = int(before[-1].argmax()), int(after[-1].argmax())
    holds(("the answer stays" in text) == (old == new), text, "stays")
    holds(f"{100 * (after[-1, target] - before[-1, target]):+.1f} points" in text, text, "points")


def check_replay_caption(text: str, history: list, finals: list, label) -> None:
    """finals: each point's probabilities after the last row (10,)."""
    target = int(finals[-1].argmax()) if label is None else label
    guesses = [int(p.argmax()) for p in finals]
    if m := re.search(r"the answer is (\d) from (.+) on\.$", text):
        start = [p.label for p in history].index(m.group(2))
        holds(int(m.group(1)) == target and all(g == target for g in guesses[start:]), text, "from then on")
        holds(start == 0 or guesses[start - 1] != target, text, "not earlier")
    else:
        holds(f"answer is {guesses[-1]} in the end, not {target}" in text and guesses[-1] != target, text, "in the end")


# ---- Truncation lab ---------------------------------------------------------------------------------------------


def _arm_ks(listing: str) -> set:
    """'GRU at k = 8, 16 and 24; LSTM at k = 8' -> {('gru', 8), ('gru', 16), ...} (scheme names dropped)."""
    out = set()
    for part in listing.split("; "):
        kind, ks = part.split(" at k = ")
        for k in re.split(r", | and ", ks):
            out.add((kind.split(",")[0].lower(), int(k)))
    return out


def check_sweep_findings(findings: list[str], comparisons: list, alpha: float, above_chance: int) -> None:
    """comparisons: explorer.experiments.results.compare's for the sweep; above_chance: runs significantly above."""
    text = " ".join(findings)
    tested = [c for c in comparisons if np.isfinite(c.p)]
    trunc = [c for c in tested if c.role == "truncation"]
    phrases = ["significantly above it"]  # "none of the N is significantly above it": checked below
    if "Every model is at chance level" in text:
        holds(above_chance == 0, text, "every model at chance")
        return
    for head, sign in (("Significantly below their cell's full BPTT", -1), ("Significantly above their cell's", 1)):
        m = re.search(re.escape(head) + r"[^:]*: ([^.]+)\.", text)
        listed = _arm_ks(m.group(1)) if m else set()
        expected = {(c.spec.kind, c.spec.k) for c in trunc if c.p_holm < alpha and np.sign(c.difference) == sign}
        holds(listed == expected, text, head)
        phrases.append(head)
    lead = "Not significant against their cell's full BPTT (Holm-adjusted): "
    if lead in text:
        unsure = text[text.index(lead) + len(lead) : text.index(". For each,")]
        for c in trunc:
            listed = unsure.startswith(c.label + " ") or f"; {c.label} " in unsure
            holds(listed == (c.p_holm >= alpha), text, f"{c.label} listed as not significant")
        phrases.append("Not significant against")
    else:
        holds(all(c.p_holm < alpha for c in trunc), text, "the not significant ones listed")
    for c in (c for c in tested if c.role == "cells"):
        word = "significantly" if c.p_holm < alpha else "not significantly"
        side = "lower" if c.difference < 0 else "higher"
        kind, versus = c.label.split(",")[0], c.versus.split(",")[0]
        phrase = f"{kind} is {100 * abs(c.difference):.1f} points {side} than {versus} ({word}, Holm-adjusted"
        holds(phrase in text, text, phrase)
        phrases.append(phrase)
    for c in (c for c in tested if c.role == "control"):
        word = "significant" if c.p_holm < alpha else "not significant"
        m = re.search(rf"Control: {c.label.split(',')[0]} with [^(]*\((not )?significant, Holm-adjusted", text)
        holds(m is not None and (m.group(1) is None) == (word == "significant"), text, f"control {word}")
        phrases.append(m.group(0))
    blind = {(c.spec.kind, c.spec.k) for c in tested if c.role == "blind" and c.p_holm < alpha and c.difference < 0}
    if m := re.search(r"Also significantly below their cell's control \(Holm-adjusted p < 0\.05\): ([^.]+)\.", text):
        holds(_arm_ks(m.group(1)) == blind, text, "below the control")
        phrases.append("Also significantly below")
    else:
        holds(not blind, text, "below the control listed")
    phrases += ["p < 0.05"]
    claims_known(text, "ignificant", phrases)
    for word in ("equal", "the same as", "no difference", "no effect"):
        holds(word not in text, text, word)


def check_sweep_headline(text: str, findings: list[str], comparisons: list, alpha: float, above_chance: int) -> None:
    """The headline: full BPTT's accuracies as the findings give them, and the largest significant loss (or none)."""
    if text.startswith("Every model is at chance level"):
        holds(above_chance == 0, text, "every model at chance")
        return
    trunc = [c for c in comparisons if np.isfinite(c.p) and c.role == "truncation"]
    worse = [c for c in trunc if c.p_holm < alpha and c.difference < 0]
    first = text.split(" Truncating costs")[0].split(" No truncation here")[0]
    holds(findings[0].startswith(first), text, "full BPTT's accuracies as in the findings")
    phrases = []
    if m := re.search(r"Truncating costs up to ([\d.]+) points: (.+), significantly below its cell's full BPTT", text):
        most = min(worse, key=lambda c: c.difference)
        holds((m.group(2), m.group(1)) == (most.label, f"{100 * abs(most.difference):.1f}"), text, "the largest loss")
        phrases.append(m.group(0))
    else:
        holds(not worse and ("No truncation here is significantly below" in text) == bool(trunc), text, "no loss")
        phrases.append("No truncation here is significantly below")
    claims_known(text, "ignificant", phrases)
    for word in ("equal", "the same as", "no difference", "no effect"):
        holds(word not in text, text, word)


def check_sweep_table(rows: list[dict], comparisons: list, alpha: float) -> None:
    assert len(rows) == len(comparisons)
    for row, c in zip(rows, comparisons):
        assert (row["runs"], row["compared with"]) == (c.label, c.versus)
        verdict = row["verdict"]
        if not np.isfinite(c.p):
            holds(verdict == "not testable", verdict, "not testable")
        elif c.p_holm < alpha:
            holds(verdict == f"significantly {'lower' if c.difference < 0 else 'higher'}", verdict, "significant")
        else:
            holds(verdict == "not significant", verdict, "not significant")


def check_p_text(text: str, p: float) -> None:
    """The p shown never crosses the 0.05 line the tests use."""
    if text == "p < 0.001":
        holds(p < 0.001, text, "p < 0.001")
        return
    shown = float(text.removeprefix("p = "))
    holds((shown < 0.05) == (p < 0.05) and abs(shown - p) <= 0.005 + 1e-12, text, f"p = {p}")


# ---- Memory across cells ----------------------------------------------------------------------------------------
# truth: (arm name, delay) -> {seed: accuracy}, read by the test from what it trained or from the folders' JSON.

MEMORY_FORBIDDEN = ("equal", "the same", "no difference", "no effect", "as good as", "identical")


def _t95(values) -> tuple[float, float]:
    v = np.asarray(values, float)
    import scipy.stats

    if np.ptp(v) == 0:  # no spread: the interval is the mean itself (scipy answers nan for a zero scale)
        return v.mean(), v.mean()
    return scipy.stats.t.interval(0.95, len(v) - 1, loc=v.mean(), scale=scipy.stats.sem(v))


def _accuracy_shown(accs) -> str:
    v = np.asarray(list(accs), float)
    if len(v) < 2:
        return f"{100 * v.mean():.1f}% (one seed: no interval)"
    lo, hi = _t95(v)
    return f"{100 * v.mean():.1f}% (95% t-interval {100 * lo:.1f}–{100 * hi:.1f}%, {len(v)} seeds)"


def check_memory_table(rows: list[dict], truth: dict, planned: dict) -> None:
    """planned: (arm name, delay) -> seeds its sweep was asked for."""
    delays = sorted({d for _, d in truth})
    holds({row["cell"] for row in rows} == {name for name, _ in truth}, str(rows), "the cells listed")
    for row in rows:
        for d in delays:
            accs = truth.get((row["cell"], d))
            shown = _accuracy_shown(accs.values()) if accs else "not trained yet"
            holds(row[f"D = {d}"] == shown, row[f"D = {d}"], f"{row['cell']} at D = {d}: {shown}")
            seeds = f"{len(accs)} of {planned[row['cell'], d]}" if accs else "0"
            holds(row[f"seeds at D = {d}"] == seeds, str(row), f"{row['cell']} seeds at D = {d}")


def _holm(p: list[float]) -> list[float]:
    valid = sorted((x, i) for i, x in enumerate(p) if np.isfinite(x))
    out, running = list(p), 0.0
    for rank, (x, i) in enumerate(valid):
        running = max(running, min(1.0, (len(valid) - rank) * x))
        out[i] = running
    return out


def memory_pairs(truth: dict, pairs: list) -> list[dict]:
    """Each (arm name, reference name) at each delay both have, by seed: the paired t-test, Holm over all of them."""
    import scipy.stats

    out = []
    for a, b in pairs:
        for d in sorted({d for _, d in truth}):
            if (a, d) not in truth or (b, d) not in truth:
                continue
            seeds = [s for s in truth[a, d] if s in truth[b, d]]
            if not seeds:
                continue
            mine, theirs = (np.array([truth[x, d][s] for s in seeds]) for x in (a, b))
            diff = mine - theirs
            p = scipy.stats.ttest_rel(mine, theirs).pvalue if len(seeds) > 1 and np.ptp(diff) > 1e-12 else np.nan
            ci = _t95(diff) if np.isfinite(p) else (np.nan, np.nan)
            out.append(dict(a=a, b=b, delay=d, n=len(seeds), diff=diff.mean(), ci=ci, p=float(p)))
    for row, adjusted in zip(out, _holm([r["p"] for r in out])):
        row["p_holm"] = adjusted
    return out


def _memory_verdict(row: dict, alpha: float) -> str:
    if not np.isfinite(row["p"]):
        return "not testable"
    if row["p_holm"] < alpha:
        return "significantly " + ("lower" if row["diff"] < 0 else "higher")
    return "not significant"


def check_memory_comparisons(findings: list[str], table: list[dict], expected: list[dict], alpha: float) -> None:
    """expected: memory_pairs' rows, in the page's order."""
    text = " ".join(findings)
    holds(len(findings) == len(expected) == len(table), text, "one finding and one row per comparison")
    phrases = []
    for sentence, row, e in zip(findings, table, expected):
        verdict = _memory_verdict(e, alpha)
        side = "lower" if e["diff"] < 0 else "higher"
        size = f"{100 * abs(e['diff']):.1f}"
        gap = f"{size} points from" if size == "0.0" else f"{size} points {side} than"
        head = f"D = {e['delay']}: {e['a']} is {gap} {e['b']}"
        holds(sentence.startswith(head), sentence, head)
        holds(
            (row["cell"], row["compared with"], row["delay"]) == (e["a"], e["b"], f"D = {e['delay']}"), str(row), "row"
        )
        holds(row["mean difference (points)"] == f"{100 * e['diff']:+.1f}", str(row), "the mean difference")
        holds(row["paired seeds"] == e["n"], str(row), "paired seeds")
        holds(row["verdict"] == verdict, str(row), f"verdict {verdict}")
        if verdict == "not testable":
            holds(sentence.endswith("not testable (one paired seed).") == (e["n"] < 2), sentence, "not testable")
            holds(row["95% t-interval (points)"] == row["paired t-test"] == "—", str(row), "nothing to infer")
            continue
        ci = f"{100 * e['ci'][0]:+.1f} to {100 * e['ci'][1]:+.1f}"
        holds(
            f"unadjusted 95% t-interval {ci} points" in sentence and row["95% t-interval (points)"] == ci,
            sentence,
            "interval",
        )
        m = re.search(r"Holm-adjusted (p < 0\.001|p = [\d.]+)\)", sentence)
        holds(m is not None and m.group(1) == row["Holm-adjusted"], sentence, "Holm's p shown")
        check_p_text(m.group(1), e["p_holm"])
        check_p_text(row["paired t-test"], e["p"])
        if verdict == "not significant":
            ending = f"): not significant; these {e['n']} seeds cannot tell which is better."
            holds(sentence.endswith(ending), sentence, "not significant")
            phrases.append("not significant")
        else:
            holds(sentence.endswith(f"): {verdict}."), sentence, verdict)
            phrases.append(verdict)
    claims_known(text, "ignificant", phrases)
    for word in MEMORY_FORBIDDEN:
        holds(word not in text.lower(), text, word)


def _extreme_holds(part: str, truth: dict, d: int, means: dict, value: float, which: str) -> None:
    """part: what the headline says of the highest or lowest arm(s) at delay d; every arm at that mean is named,
    and only those (in any order)."""
    tied = {n for n, m in means.items() if abs(m - value) <= 1e-12}
    if len(tied) == 1:
        (name,) = tied
        shown = f"{name} has the {which} mean test accuracy, {_accuracy_shown(truth[name, d].values())}"
        holds(part == shown, part, shown)
        return
    ending = f" share the {which} mean test accuracy, {100 * value:.1f}%"
    holds(part.endswith(ending), part, ending)
    first, last = part.removesuffix(ending).rsplit(" and ", 1)
    holds({*first.split("; "), last} == tied, part, f"the arms tied at {100 * value:.1f}%")


def check_memory_headline(text: str, truth: dict) -> None:
    if not truth:
        holds(text.startswith("No model of the memory experiment has finished yet"), text, "nothing finished")
        return
    for d in sorted({d for _, d in truth}):
        means = {name: np.mean(list(accs.values())) for (name, dd), accs in truth.items() if dd == d}
        start, end = f"D = {d} blank rows after the digit, ", f" ({len(means)} cells)."
        holds(start in text, text, start)
        said = text.split(start, 1)[1].split(end, 1)[0]
        top, bottom = max(means.values()), min(means.values())
        parts = said.split("; ", 1) if top - bottom > 1e-12 else [said]
        # the highest part may itself hold "; " between tied names: split at the lowest part's first name
        if len(parts) == 2 and "share the highest" in said:
            head, tail = said.split(" share the highest", 1)
            parts = [head + " share the highest" + tail.split("; ", 1)[0], tail.split("; ", 1)[1]]
        _extreme_holds(parts[0], truth, d, means, top, "highest")
        if top - bottom > 1e-12:
            holds(len(parts) == 2, said, "the lowest named")
            _extreme_holds(parts[1], truth, d, means, bottom, "lowest")
    holds("ignificant" not in text, text, "no significance in the headline")
    for word in MEMORY_FORBIDDEN:
        holds(word not in text.lower(), text, word)


def check_interval_note(text: str, truth: dict) -> None:
    beyond = []
    for (name, d), accs in truth.items():
        if len(accs) > 1:
            lo, hi = _t95(list(accs.values()))
            if lo < 0 or hi > 1:
                beyond.append(f"{name} at D = {d}")
    holds("95% t-interval, mean ± t·SD/√n" in text, text, "the kind of interval")
    holds(("reaches beyond 0–100%" in text) == (len(beyond) == 1), text, "an interval beyond 0–100%")
    holds(("reach beyond 0–100%" in text) == (len(beyond) > 1), text, "intervals beyond 0–100%")
    for where in beyond:
        holds(where in text, text, where)


def check_training_note(text: str, configs: list) -> None:
    """configs: (SweepConfig, TrainConfig of its runs) of every sweep found."""
    if not configs:
        holds(text == "", text, "no note without a sweep")
        return
    for name, phrase in (
        ("epochs", lambda s, t: f"{t.epochs} epochs"),
        ("hidden units", lambda s, t: f"{s.hidden_size} hidden units"),
        ("learning rate", lambda s, t: f"peak learning rate {t.lr:g}"),
        ("batch", lambda s, t: f"{t.batch_size} digits per step"),
        ("optimiser", lambda s, t: {"adam": "Adam", "sgd": "SGD with momentum 0.9"}[t.optimizer]),
    ):
        values = {phrase(s, t) for s, t in configs}
        for v in values:
            holds(v in text, text, v)
        holds((f"the folders differ in {name}" in text) == (len(values) > 1), text, f"{name} differ")
    seeds = {s.seeds for s, _ in configs}
    holds(("the folders differ in seeds" in text) == (len(seeds) > 1), text, "seeds differ")
    for ss in seeds:
        listed = ", ".join(map(str, ss[:-1])) + " and " + str(ss[-1]) if len(ss) > 1 else str(ss[0])
        holds(f"seeds {listed}" in text, text, f"seeds {listed}")
    holds("full BPTT" in text and all(s.ks == () for s, _ in configs), text, "full BPTT only")


def check_status_note(
    text: str, found: list[str], expected: list[str], unreadable: dict, runs: int, planned: int
) -> None:
    missing = [f for f in expected if f not in found and f not in unreadable]
    if not found and not unreadable:
        holds(text.startswith("The memory experiment has not been trained here"), text, "nothing trained")
        return
    holds(text == "" or text.endswith("."), text, "a sentence")
    holds(("Not trained yet" in text) == bool(missing), text, "missing folders")
    for f in missing:
        holds(f in text, text, f"{f} missing")
    for f in unreadable:
        holds(f"{f} (" in text, text, f"{f} unreadable")
    holds((f"{runs} of the {planned} runs" in text) == (runs < planned), text, "runs finished")


def check_readme_tables(text: str, tables: list[list[dict]]) -> None:
    lines = text.splitlines()
    for rows in tables:
        for row in rows:
            line = "| " + " | ".join(str(v) for v in row.values()) + " |"
            holds(line in lines, text, line)


def check_chance_note(text: str, correct: dict) -> None:
    """correct: (arm name, delay) -> {seed: which test digits its model gets right}."""
    import scipy.stats

    def above(bits) -> bool:
        return scipy.stats.binomtest(int(np.sum(bits)), len(bits), 0.1, alternative="greater").pvalue < 0.05

    none = {key for key, by_seed in correct.items() if not any(above(b) for b in by_seed.values())}
    holds((text == "") == (not none), text, "cells at chance")
    if none:
        holds(text.startswith("No seed significantly above chance (10%; a one-sided exact binomial test"), text, "test")
        listed = text.split("): ", 1)[1].removesuffix(".").split("; ")
        seeds = {key: len(correct[key]) for key in none}
        expected = {f"{name} at D = {d} ({seeds[name, d]} seed{'s' * (seeds[name, d] > 1)})" for name, d in none}
        holds(set(listed) == expected, text, "the cells listed")
    claims_known(text, "ignificant", ["No seed significantly above chance"])


def check_profile_reading(text: str, profiles: dict, digit_row: int) -> None:
    """profiles: (arm name, delay) -> median ||dL/dh_t|| per row; digit_row: the digit's last row, from 1."""
    holds(f"reaches the digit's last row (row {digit_row};" in text, text, "the row")
    for (name, delay), norms in profiles.items():
        shown = "no gradient at the last row" if norms[-1] == 0 else ten(norms[digit_row - 1] / norms[-1])
        part = text.split(f"D = {delay}: ", 1)[1].split(".")[0] if f"D = {delay}: " in text else ""
        holds(f"{name} {shown}" in part.split("; "), text, f"{name} at D = {delay}: {shown}")
