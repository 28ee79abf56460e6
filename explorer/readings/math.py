"""Sentences of the Math page: the first-principles NumPy BPTT against autograd."""


def first_principles_summary(result) -> str:
    """The verdict of the NumPy BPTT against autograd (analysis.gradcheck.FirstPrinciples)."""
    verdict = "PASS" if result.max_error < 1e-8 else "FAIL"
    return (
        f"{verdict}: the hand-written BPTT's gradients agree with autograd's to a relative {result.max_error:.1e} "
        f"at worst (float64; 1e-8 or better passes); the loss, {result.loss_numpy:.6f}, to "
        f"{abs(result.loss_numpy - result.loss_autograd):.0e}."
    )
