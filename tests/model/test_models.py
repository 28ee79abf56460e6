"""Model helpers: seeded construction that never disturbs the global RNG, eval-mode blocks, state and weight access."""

import threading

import pytest
import torch

from explorer.model.network import (
    ModelConfig,
    SequenceClassifier,
    evaluating,
    final_hidden,
    layer_weights,
    seeded_model,
    untrained_model,
)


def same_weights(a, b) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_seeded_model_depends_on_the_seed_only_and_leaves_the_global_rng_alone():
    cfg = ModelConfig(kind="gru", hidden_size=8, num_layers=2, bidirectional=True)
    torch.manual_seed(123)
    before = torch.get_rng_state()
    a = seeded_model(cfg, 5)
    assert torch.equal(torch.get_rng_state(), before)
    torch.rand(100)  # whatever the global RNG has been through, the weights are the same
    assert same_weights(a, seeded_model(cfg, 5)) and not same_weights(a, seeded_model(cfg, 6))
    torch.manual_seed(5)
    assert same_weights(a, SequenceClassifier(cfg))  # = seeding torch, then building: old checkpoints' recipe
    before = torch.get_rng_state()
    assert same_weights(untrained_model(cfg, 5), a) and torch.equal(torch.get_rng_state(), before)


def test_seeded_model_is_safe_from_many_threads():
    cfg = ModelConfig(kind="lstm", hidden_size=8)
    expected = {seed: seeded_model(cfg, seed) for seed in range(4)}
    bad = []

    def build(seed):
        for _ in range(25):
            if not same_weights(seeded_model(cfg, seed), expected[seed]):
                bad.append(seed)

    threads = [threading.Thread(target=build, args=(seed,)) for seed in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert bad == []


@pytest.mark.parametrize("training", [True, False])
def test_evaluating_restores_the_mode_even_on_error(training):
    model = SequenceClassifier(ModelConfig(hidden_size=4)).train(training)
    with evaluating(model) as m:
        assert m is model and not model.training
    assert model.training == training
    with pytest.raises(RuntimeError), evaluating(model):
        raise RuntimeError("boom")
    assert model.training == training


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_final_hidden_and_layer_weights(kind):
    cfg = ModelConfig(kind=kind, hidden_size=4, num_layers=2, bidirectional=True)
    model = SequenceClassifier(cfg)
    _, state = model.rnn(torch.rand(2, 28, 28))
    h_n = state[0] if kind == "lstm" else state
    assert final_hidden(cfg, state) is h_n and final_hidden(model, state) is h_n
    rnn = model.rnn
    assert layer_weights(model, 1, 1) == (
        rnn.weight_ih_l1_reverse,
        rnn.bias_ih_l1_reverse,
        rnn.weight_hh_l1_reverse,
        rnn.bias_hh_l1_reverse,
    )
    assert layer_weights(model, 0, 0)[2] is rnn.weight_hh_l0
