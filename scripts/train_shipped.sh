#!/usr/bin/env bash
# Retrains the shipped checkpoints on the bundled sample, with their snapshots (about 20 minutes on 2 CPU cores).
set -euo pipefail
cd "$(dirname "$0")/.."
train() { python -m explorer train "$@"; }
train --kind lstm --hidden 128 --out checkpoints/lstm-128.safetensors
train --kind lstm --hidden 128 --bidirectional --out checkpoints/bilstm-128.safetensors
train --kind lstm --hidden 128 --layers 2 --out checkpoints/lstm-2x128.safetensors
train --kind gru --hidden 128 --out checkpoints/gru-128.safetensors
train --kind rnn --hidden 128 --out checkpoints/rnn-128.safetensors
train --kind mingru --hidden 128 --out checkpoints/mingru-128.safetensors
train --kind minlstm --hidden 128 --out checkpoints/minlstm-128.safetensors
