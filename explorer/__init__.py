"""RNN Explorer engine: data, models, the step-by-step unroll, BPTT gradients, training, checkpoints."""
