import torch

from curvegan.data import QuadraticCurves
from curvegan.metrics import fit_a


def test_batches_are_curves_of_the_family_with_a_in_range():
    dm = QuadraticCurves(a_min=1.0, a_max=2.0, num_points=16, batch_size=32, batches_per_epoch=30)
    real = dm.epoch_batches(0)
    assert real.shape == (30, 32, 16)
    assert torch.allclose(real[0, 0, 0], real[0, 0, -1])  # symmetric in x
    a = fit_a(real.reshape(-1, 16), dm.x)
    assert torch.allclose(real.reshape(-1, 16), a[:, None] * (dm.x**2 + 1) - 1, atol=1e-5)
    assert a.min() >= 1.0 and a.max() <= 2.0


def test_config_values_shape_the_data():
    dm = QuadraticCurves(a_min=3.0, a_max=4.0, num_points=5, batch_size=7, batches_per_epoch=4)
    a = fit_a(dm.epoch_batches(0).reshape(-1, 5), dm.x)
    assert dm.epoch_batches(0).shape == (4, 7, 5)
    assert a.min() >= 3.0 and a.max() <= 4.0


def test_each_epoch_is_fresh_and_reproducible_from_the_seed():
    dm = QuadraticCurves(seed=0)
    assert not torch.equal(dm.epoch_batches(0), dm.epoch_batches(1))
    assert torch.equal(dm.epoch_batches(3), QuadraticCurves(seed=0).epoch_batches(3))
    assert not torch.equal(dm.epoch_batches(0), QuadraticCurves(seed=1).epoch_batches(0))


def test_stream_hands_out_the_epoch_in_groups_of_batches_per_step():
    dm = QuadraticCurves(batches_per_epoch=25, batches_per_step=10)
    items = list(dm.train_dataloader())
    assert [len(i) for i in items] == [10, 10, 5]
    assert len(dm.train_dataloader()) == 3
    assert torch.equal(torch.cat(items), dm.epoch_batches(0))
