"""Layer 1, the data: the bundled MNIST sample and full MNIST (download, validation, caching), drawings turned into
digits (digits.py), and the sequence tasks that pad a digit with blank or noise rows (sequences.py).

Imports nothing of explorer; torch and numpy only."""
