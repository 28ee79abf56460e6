"""Resume points: a run resumed from an epoch end ends exactly as the run that was never interrupted."""

import pytest
import torch

from explorer.data.digits import Digits, load_sample
from explorer.model.config import ModelConfig
from explorer.training import resume
from explorer.training.loop import TrainConfig, train


@pytest.fixture(scope="module")
def digits():
    train_set, test_set = load_sample()
    return Digits(train_set.images[:192], train_set.labels[:192]), Digits(test_set.images[:64], test_set.labels[:64])


def run(digits, **kwargs):
    model_cfg = ModelConfig("lstm", 8, num_layers=2, dropout=0.2)  # dropout: the masks' seeding must resume too
    cfg = TrainConfig(epochs=3, batch_size=32, seed=3, lr=0.01, snapshots=True, schedule="cosine")
    return train(model_cfg, cfg, *digits, **kwargs)


def same(a, b) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_a_resumed_run_ends_with_the_weights_history_and_snapshots_of_the_uninterrupted_one(digits, tmp_path):
    points = []
    straight = run(digits, on_resume_point=points.append)
    assert [p.epoch for p in points] == [1, 2, 3]
    point = resume.load(resume.save(points[0], tmp_path / "after-epoch-1.pt"))  # through the file, as a worker does
    resumed = run(digits, resume=point)
    assert same(resumed.model.state_dict(), straight.model.state_dict())
    a, b = resumed.history.to_dict(), straight.history.to_dict()
    assert {k: v for k, v in a.items() if k != "seconds"} == {k: v for k, v in b.items() if k != "seconds"}
    assert [s.step for s in resumed.snapshots] == [s.step for s in straight.snapshots]
    assert all(same(x.state, y.state) for x, y in zip(resumed.snapshots, straight.snapshots))
    assert resumed.metrics["steps"] == straight.metrics["steps"] and not list(tmp_path.glob(".*.tmp"))


def test_a_resume_point_missing_its_generator_state_would_not_match(digits):
    """The check above can fail: the same point with the generator drawn afresh trains to other weights."""
    points = []
    straight = run(digits, on_resume_point=points.append)
    point = points[0]
    point.generator = torch.Generator().manual_seed(99).get_state()
    assert not same(run(digits, resume=point).model.state_dict(), straight.model.state_dict())
