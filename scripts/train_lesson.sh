#!/usr/bin/env bash
# Trains the Lesson page's models (explorer/readings/lessons/why-lstms.toml): RNN, LSTM (forget-gate bias 0 and 1)
# and GRU, hidden 64, on the digit followed by 20 blank rows (T = 48), as the shipped truncation sweep does; about
# 2 minutes on one CPU core. The lesson never trains: it reads these files.
set -euo pipefail
cd "$(dirname "$0")/.."
train() { OMP_NUM_THREADS=1 python -m explorer train --hidden 64 --task blank --delay 20 --epochs 15 --no-augment --device cpu "$@"; }
train --kind rnn --out checkpoints/delay-rnn-64.safetensors
train --kind lstm --forget-bias 0 --out checkpoints/delay-lstm-64-bias0.safetensors
train --kind lstm --forget-bias 1 --out checkpoints/delay-lstm-64.safetensors
train --kind gru --out checkpoints/delay-gru-64.safetensors
