#!/usr/bin/env bash
# Trains the memory experiment the Memory page reads (checkpoints/memory): every cell on the digit followed by
# D = 20 and D = 40 blank rows, 64 units, 5 seeds, full BPTT, the same 15 epochs, Adam and schedule for all.
# One sweep folder per delay and per LSTM initialisation (a sweep has one forget-bias setting): the main one holds
# RNN, GRU, minGRU, minLSTM and the LSTM with forget bias 1; the others the LSTM with PyTorch's init (bias ≈ 0),
# bias 2 and chrono initialisation. About 40 minutes on two CPU cores.
set -euo pipefail
cd "$(dirname "$0")/.."
sweep() {
  OMP_NUM_THREADS=1 python -m explorer sweep --hidden 64 --task blank --epochs 15 --seeds 0 1 2 3 4 --ks \
    --backend process --workers "${WORKERS:-2}" "$@"
}
for delay in 20 40; do
  sweep --delay "$delay" --kinds rnn gru lstm mingru minlstm --forget-bias 1 --out "checkpoints/memory/d$delay-cells"
  sweep --delay "$delay" --kinds lstm --out "checkpoints/memory/d$delay-lstm-bias0"
  sweep --delay "$delay" --kinds lstm --forget-bias 2 --out "checkpoints/memory/d$delay-lstm-bias2"
  sweep --delay "$delay" --kinds lstm --chrono --out "checkpoints/memory/d$delay-lstm-chrono"
done
