"""Layer 2, the models: the recurrent classifier and its cells (network.py), the explicit step-by-step unroll and
trace of every gate, cell and hidden state (unroll.py), predictions as rows are read, weight snapshots, and
checkpoints: the file format (checkpoint_file.py) and the owned library of saved models (checkpoints.py).

May import data only."""
