"""Counterfactual rows against re-running the edited digit, for every model kind."""

import numpy as np
import pytest
import torch
from scipy import stats

from explorer.analysis.counterfactual import agreement, erase, final_probabilities, keep_only, occlusion, row_saliency
from explorer.analysis.gradients import bptt_profile
from explorer.data.digits import load_sample
from explorer.model.checkpoint_file import read_checkpoint
from explorer.model.checkpoints import shipped_dir
from explorer.readings.watch import occlusion_reading

NAMES = ["rnn-128", "gru-128", "lstm-128", "bilstm-128", "lstm-2x128"]


@pytest.fixture(scope="module")
def digit():
    x, y = load_sample()[1].tensors()
    return x[21].numpy(), int(y[21])


def shipped(name):
    return read_checkpoint(shipped_dir() / f"{name}.safetensors").model


def test_erase_and_keep_only(digit):
    image = digit[0]
    edited = erase(image, [3, 4])
    assert np.all(edited[[3, 4]] == 0) and np.array_equal(edited[5:], image[5:])
    kept = keep_only(image, range(10, 15))
    assert np.array_equal(kept[10:15], image[10:15]) and not kept[:10].any() and not kept[15:].any()
    with pytest.raises(ValueError, match="rows"):
        erase(image, [28])


@pytest.mark.parametrize("name", NAMES)
def test_the_occlusion_map_is_each_edited_digit_re_run(digit, name):
    model = shipped(name)
    image, label = digit
    occ = occlusion(model, image, label)
    with torch.no_grad():
        base = torch.softmax(model(torch.from_numpy(image)[None]).double(), -1)[0, label].item()
        for t in (0, 8, 14, 20, 27):
            erased = image.copy()
            erased[t] = 0
            p = torch.softmax(model(torch.from_numpy(erased)[None]).double(), -1)[0, label].item()
            expected = 0.0 if not image[t].any() else p - base
            assert occ.change[t] == pytest.approx(expected, abs=1e-6)
    assert occ.base == pytest.approx(base, abs=1e-6) and np.array_equal(occ.blank, ~image.any(axis=1))


@pytest.mark.parametrize("name", ["rnn-128", "bilstm-128"])
def test_row_saliency_is_the_bptt_profiles(digit, name):
    model = shipped(name)
    image, label = digit
    prof = bptt_profile(model, torch.from_numpy(image)[None], torch.tensor([label]), "last")
    np.testing.assert_allclose(row_saliency(model, image, label), prof.dx[0], rtol=1e-4, atol=1e-10)


def test_agreement_and_its_reading(digit):
    model = shipped("lstm-128")
    image, label = digit
    occ = occlusion(model, image, label)
    sal = row_saliency(model, image, label)
    agree = agreement(occ, sal)
    ink = np.flatnonzero(image.any(axis=1))
    assert agree.rows == len(ink)
    assert agree.spearman == pytest.approx(stats.spearmanr(-occ.change[ink], sal[ink]).statistic)
    assert agree.top_occlusion[0] == int(np.argmin(occ.change)) and agree.top_saliency[0] == int(
        ink[np.argmax(sal[ink])]
    )
    text = occlusion_reading(occ, agree)
    worst = int(np.argmin(occ.change))
    assert f"Erasing row {worst + 1} costs class {label} the most" in text
    assert f"to {occ.base + occ.change[worst]:.1%}" in text and f"ρ = {agree.spearman:.2f}" in text


def test_final_probabilities_of_a_batch(digit):
    model = shipped("gru-128")
    p = final_probabilities(model, np.stack([digit[0], erase(digit[0], range(28))]))
    assert p.shape == (2, 10) and np.allclose(p.sum(1), 1)
