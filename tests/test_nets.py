"""The member-wise layers PacGAN's networks need (batch norm, maxout), against torch's own single-network ones:
each member of an ensemble computes what one network of its own would, with its own batch statistics."""

import torch
from torch import nn

from curvegan.nets import EnsembleBatchNorm, EnsembleMLP


def test_batch_norm_normalises_each_member_by_its_own_batch_and_keeps_its_own_running_statistics():
    members, n, features = 3, 50, 4
    x = (
        torch.randn(members, n, features, generator=torch.Generator().manual_seed(0))
        * torch.tensor([1.0, 5.0, 0.2])[:, None, None]
        + torch.tensor([0.0, 3.0, -2.0])[:, None, None]
    )  # members with very different batches
    ours = EnsembleBatchNorm(members, features, momentum=0.05)
    with torch.no_grad():
        ours.weight.copy_(torch.rand(members, 1, features) + 0.5)
        ours.bias.copy_(torch.randn(members, 1, features))
    out = ours(x)
    for k in range(members):
        single = nn.BatchNorm1d(features, momentum=0.05)
        with torch.no_grad():
            single.weight.copy_(ours.weight[k, 0])
            single.bias.copy_(ours.bias[k, 0])
        assert torch.allclose(out[k], single(x[k]), atol=1e-5)
        assert torch.allclose(ours.running_mean[k, 0], single.running_mean, atol=1e-6)
        assert torch.allclose(ours.running_var[k, 0], single.running_var, atol=1e-5)
        ours.eval(), single.eval()
        assert torch.allclose(ours(x)[k], single(x[k]), atol=1e-5)  # evaluation: the running statistics
        ours.train()


def test_a_member_of_a_batch_norm_maxout_ensemble_is_the_network_it_would_be_alone():
    config = {"hidden": [8, 8], "activation": "maxout", "pieces": 3, "norm": "batch", "momentum": 0.05}
    torch.manual_seed(0)
    ensemble = EnsembleMLP(4, 2, 1, **config)
    x = torch.randn(4, 30, 2)
    whole = ensemble(x)
    alone = ensemble(x[2:3], members=slice(2, 3))  # the layers' slice of member 2 only
    assert torch.allclose(whole[2:3], alone, atol=1e-6)


def test_maxout_takes_the_largest_of_its_pieces_for_each_unit():
    torch.manual_seed(1)
    net = EnsembleMLP(2, 3, 1, hidden=[5], activation="maxout", pieces=4)
    x = torch.randn(2, 7, 3)
    first, last = net.layers
    hidden = (x @ first.weight + first.bias).view(2, 7, 5, 4).max(dim=-1).values  # 5 units of 4 pieces each
    assert torch.allclose(net(x), hidden @ last.weight + last.bias, atol=1e-6)


def test_batch_norm_per_slot_normalises_each_slots_samples_by_their_own_statistics():
    """PacGAN's G sees each pack slot's samples as a batch of its own: with slots 2, samples 0, 2, 4, … are
    normalised by their mean and variance, 1, 3, 5, … by theirs (by hand, per member)."""
    from curvegan.nets import EnsembleBatchNorm

    norm = EnsembleBatchNorm(2, 3, slots=2)
    x = torch.randn(2, 8, 3) * torch.tensor([1.0, 5.0, 0.5]) + 3
    out = norm(x)
    for member in range(2):
        for slot in range(2):
            own = x[member, slot::2]
            by_hand = (own - own.mean(dim=0)) / torch.sqrt(own.var(dim=0, unbiased=False) + 1e-5)
            assert torch.allclose(out[member, slot::2], by_hand, atol=1e-5)
    assert not torch.allclose(out, EnsembleBatchNorm(2, 3)(x), atol=1e-3)  # the whole batch's statistics differ
