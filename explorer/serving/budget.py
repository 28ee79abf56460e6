"""How many digits an analysis chart may use for a given model, so every page answers in a few seconds."""

import math

import torch

from ..model.config import ModelConfig
from ..model.network import SequenceClassifier, count_parameters
from .limits import CHART_SECONDS

# Seconds per unit of work on one core of the reference machine (2-core x86, torch 2.13 CPU), measured on
# LSTM/RNN/BiLSTM models of 20 K to 2 M parameters (the largest per-unit cost seen, so small models too).
# A unit is one parameter x one digit x one step; for the state Jacobian also x one output unit; for the BPTT
# chain (dense S x S Jacobians, their products and singular values, S the state size) S^3 x one step.
COST = {"profile": 4e-10, "jacobian": 2.2e-10, "saturation": 6.5e-11, "check": 1.4e-7, "chain": 1.2e-9}
TOO_SLOW = 5.0  # a chart that would need longer than this for a single digit is not drawn at all


def parameters(config: ModelConfig) -> int:
    with torch.device("meta"):  # shapes only: no memory, and no draws from the global RNG
        return count_parameters(SequenceClassifier(config))


def units(work: str, config: ModelConfig, steps: int) -> float:
    """Work of one digit."""
    if work == "chain":
        state = config.num_layers * config.hidden_size * (2 if config.kind == "lstm" else 1)  # every layer
        return state**3 * steps
    per = parameters(config) * steps
    return per * config.hidden_size if work == "jacobian" else per


def digits_for(work: str, config: ModelConfig, requested: int, steps: int = 28) -> int:
    """At most `requested` digits such that the chart takes about CHART_SECONDS; 0 if one digit is too slow."""
    one = COST[work] * units(work, config, steps)
    if one > TOO_SLOW:
        return 0
    return max(1, min(requested, math.floor(CHART_SECONDS / one)))


def seconds_for(work: str, config: ModelConfig, digits: int, steps: int = 28) -> float:
    """Predicted time of a chart on `digits` digits."""
    return COST[work] * units(work, config, steps) * digits
