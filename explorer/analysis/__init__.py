"""Layer 4, analysis of trained models: BPTT gradient norms by row, the chain of Jacobians, the gradient-bias
meter of truncation, explain-a-number, counterfactual reading (occlusion, edits), gradient checks and the
first-principles NumPy BPTT, unit statistics, the live look inside during training, and the statistics
(paired tests, Holm) every claim goes through.

May import data, model and training."""
