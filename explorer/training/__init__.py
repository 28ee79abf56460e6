"""Layer 3, training: the loop (loop.py), the losses at the last or every row, the truncation schemes of
BPTT (full, TBPTT(k1, k2), windows, ARTBP; truncation.py), the training command line and what a checkpoint
records of it (cli.py, metadata.py), and dataclass-to-flags options shared by both command lines.

May import data and model."""
