"""Layer 5, experiments: a sweep over cells, truncation schemes, lengths k and seeds: its config and plan
(spec.py), running it inline, in a process pool or on Ray (runner.py), its paired comparisons (results.py),
its folder on disk (storage.py), what it will cost (cost.py), and `python -m explorer sweep` (cli.py).

May import data, model, training and analysis."""
