import torch

from curvegan.data import RealData
from curvegan.families.modes import Modes
from curvegan.families.quadratic import Quadratic, fit_a


def epoch(dm, e=0):
    """An epoch's draws [batches, members, batch_size] and their samples, as training sees them."""
    drawn = torch.cat(list(dm.epoch_draws(e)))
    return drawn, dm.family.samples(drawn)


def test_batches_are_curves_of_the_family_with_a_in_range():
    dm = RealData(Quadratic(a_min=1.0, a_max=2.0, num_points=16, batch_size=32, batches_per_epoch=30))
    a, real = epoch(dm)
    assert a.shape == (30, 1, 32) and real.shape == (30, 1, 32, 16)
    assert torch.allclose(real[0, 0, 0, 0], real[0, 0, 0, -1])  # symmetric in x
    fitted = fit_a(real, dm.family.x)
    assert torch.allclose(fitted, a, atol=1e-5)
    assert torch.allclose(real, fitted[..., None] * (dm.family.x**2 + 1) - 1, atol=1e-5)
    assert a.min() >= 1.0 and a.max() <= 2.0


def test_config_values_shape_the_data():
    dm = RealData(Quadratic(a_min=3.0, a_max=4.0, num_points=5, batch_size=7, batches_per_epoch=4), members=3)
    a, real = epoch(dm)
    assert real.shape == (4, 3, 7, 5)
    assert a.min() >= 3.0 and a.max() <= 4.0


def test_each_epoch_is_fresh_and_reproducible_from_the_seed():
    dm = RealData(Quadratic(), seed=0)
    assert not torch.equal(epoch(dm, 0)[0], epoch(dm, 1)[0])
    assert torch.equal(epoch(dm, 3)[0], epoch(RealData(Quadratic(), seed=0), 3)[0])
    assert not torch.equal(epoch(dm, 0)[0], epoch(RealData(Quadratic(), seed=1), 0)[0])


def test_each_member_gets_curves_of_its_own():
    a, _ = epoch(RealData(Quadratic(batches_per_epoch=10), members=4))
    assert len({tuple(a[:, k].flatten().tolist()) for k in range(4)}) == 4


def test_stream_hands_out_the_epoch_in_groups_of_batches_per_step():
    dm = RealData(Quadratic(batches_per_epoch=25, batches_per_step=10), members=2)
    items = list(dm.train_dataloader())
    assert [i.shape for i in items] == [(10, 2, 32), (10, 2, 32), (5, 2, 32)]
    assert len(dm.train_dataloader()) == 3
    # how an epoch is cut into steps changes nothing about its samples
    whole = RealData(Quadratic(batches_per_epoch=25), members=2)
    assert torch.equal(torch.cat(items), torch.cat(list(whole.epoch_draws(0))))
    # the device receives what was drawn and makes the samples there
    a, curves = dm.on_after_batch_transfer(items[0], 0)
    assert torch.equal(a, items[0]) and torch.equal(curves, dm.family.samples(items[0]))


def test_a_mixture_of_modes_draws_a_near_its_centres():
    dm = RealData(Modes(modes=[-2.0, -1.0, 1.0, 2.0], mode_std=0.01, batches_per_epoch=50))
    a, _ = epoch(dm)
    distance, nearest = (a[..., None] - torch.tensor([-2.0, -1.0, 1.0, 2.0])).abs().min(dim=-1)
    assert distance.max() < 0.06  # 6 std: none of 1,600 draws should be further
    assert torch.bincount(nearest.flatten()).min() > 300  # every mode drawn, about equally (400 each)


def test_a_fixed_set_is_drawn_once_and_reshuffled_every_epoch():
    """data.fixed_set (PacGAN's training set): every epoch serves the same batch_size × batches_per_epoch draws,
    each member its own set, in another order every epoch; by hand from the same generators."""
    import torch

    from curvegan.data import RealData
    from curvegan.families.ring import Ring

    family = Ring(batch_size=4, batches_per_epoch=3, batches_per_step=2, fixed_set=True)
    data = RealData(family, members=2, seed=5)
    epochs = [torch.cat(list(data.epoch_draws(e)), dim=0) for e in range(2)]  # [3, members, 4, 2] each
    assert epochs[0].shape == (3, 2, 4, 2)
    by_hand = family.draw((2, 12), torch.Generator().manual_seed(5 * 1_000_003 + 999_983))
    for number, epoch in enumerate(epochs):
        for member in range(2):
            served = epoch[:, member].reshape(12, 2)
            order = torch.rand((2, 12), generator=torch.Generator().manual_seed(5 * 1_000_003 + number))
            assert torch.equal(served, by_hand[member][order[member].argsort()])
    assert not torch.equal(epochs[0], epochs[1])  # reshuffled
    assert torch.equal(epochs[0].flatten(0, 2).sort(dim=0).values, epochs[1].flatten(0, 2).sort(dim=0).values)
    resumed = torch.cat(list(data.epoch_draws(1, start=1)), dim=0)
    assert torch.equal(resumed, epochs[1][2:])  # a resumed epoch serves what the uninterrupted one did
