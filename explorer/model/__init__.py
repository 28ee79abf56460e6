"""Layer 2, the models: the recurrent classifier and its cells (network.py, mincells.py; its configuration and the
cells' names and tensor shapes in config.py, without torch), the explicit step-by-step unroll and trace of every
gate, cell and hidden state (unroll.py), predictions as rows are read, weight snapshots, and checkpoints: the file
format (header.py checks framing, metadata and shapes without torch; checkpoint_file.py loads the tensors), the
owned library of saved models (checkpoints.py) and what reading a file found out, kept across server runs
(catalog.py); the blob the browser runs (portable.py), packed from a file in NumPy (arrays.py).

May import data only."""
