"""Paired comparisons of classifiers: McNemar's exact test on one test set, paired t-tests across seeds, Holm."""

from dataclasses import dataclass

import numpy as np

ALPHA = 0.05  # significance level of every test the app reports
ROUND_OFF = 1e-12  # differences of accuracies closer than this are the same difference


def _scipy():
    """scipy.stats, imported when a test is computed: it takes most of a second, and a sweep's pool workers,
    which import this module, never need it."""
    from scipy import stats

    return stats


@dataclass(frozen=True)
class PairedResult:
    """How model a compares with model b on the same test digits (one run each)."""

    difference: float  # accuracy of a minus accuracy of b, as a fraction
    only_a: int  # digits a gets right and b gets wrong
    only_b: int  # digits b gets right and a gets wrong
    p: float  # two-sided exact McNemar p-value


def mcnemar(correct_a: np.ndarray, correct_b: np.ndarray) -> PairedResult:
    """McNemar's exact test: under 'no difference' each discordant digit favours a or b with probability 1/2."""
    correct_a, correct_b = np.asarray(correct_a, bool), np.asarray(correct_b, bool)
    if correct_a.shape != correct_b.shape or correct_a.ndim != 1:
        raise ValueError(
            f"need two equal-length vectors of per-digit correctness, got {correct_a.shape} and {correct_b.shape}"
        )
    only_a, only_b = int((correct_a & ~correct_b).sum()), int((~correct_a & correct_b).sum())
    n = only_a + only_b
    p = 1.0 if n == 0 else float(_scipy().binomtest(only_a, n, 0.5).pvalue)
    return PairedResult(float(correct_a.mean() - correct_b.mean()), only_a, only_b, p)


def above_chance(correct: np.ndarray, chance: float) -> float:
    """One-sided exact binomial p-value that an accuracy measured on these digits exceeds `chance`."""
    correct = np.asarray(correct, bool)
    return float(_scipy().binomtest(int(correct.sum()), len(correct), chance, alternative="greater").pvalue)


@dataclass(frozen=True)
class SeedsResult:
    """How a compares with b across seeds, each seed's pair trained alike except for what is compared."""

    differences: np.ndarray  # per seed: accuracy of a minus accuracy of b
    p: float  # two-sided paired t-test p-value (nan with fewer than 2 seeds or no spread beyond float round-off)

    @property
    def mean(self) -> float:
        return float(self.differences.mean())

    @property
    def same_sign(self) -> bool:
        """Whether every seed's difference points the same way (and none is zero)."""
        return bool(np.all(self.differences > 0) or np.all(self.differences < 0))


def paired_across_seeds(accuracy_a: np.ndarray, accuracy_b: np.ndarray) -> SeedsResult:
    """Paired t-test of per-seed accuracies (a[i] and b[i] share seed i)."""
    a, b = np.asarray(accuracy_a, float), np.asarray(accuracy_b, float)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"need per-seed accuracies of equal length, got {a.shape} and {b.shape}")
    d = a - b
    # The same difference in every seed but for float round-off (0.95 - 0.9 vs 0.85 - 0.8) has no spread to test.
    p = float(_scipy().ttest_rel(a, b).pvalue) if len(d) >= 2 and np.ptp(d) > ROUND_OFF else float("nan")
    return SeedsResult(d, p)


def t_interval(values: np.ndarray, confidence: float = 0.95) -> tuple[float, float]:
    """The t-interval of the mean over independent values (seeds): mean ± t_{n-1} SD / sqrt(n); nan below 2."""
    v = np.asarray(values, float)
    if len(v) < 2:
        return float("nan"), float("nan")
    half = float(_scipy().t.ppf((1 + confidence) / 2, len(v) - 1) * v.std(ddof=1) / np.sqrt(len(v)))
    return float(v.mean() - half), float(v.mean() + half)


def holm(pvalues: list[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values (nan stays nan and is left out of the family)."""
    p = np.asarray(pvalues, float)
    valid = np.flatnonzero(~np.isnan(p))
    order = valid[np.argsort(p[valid], kind="stable")]
    m, adjusted, running = len(order), p.copy(), 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[i]))  # monotone: never below an earlier step's
        adjusted[i] = running
    return adjusted.tolist()
