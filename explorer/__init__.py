"""RNN Explorer engine: data, models, step-by-step internals, BPTT gradients, training, checkpoints."""
