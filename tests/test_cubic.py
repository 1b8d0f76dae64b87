"""Curve families of several parameters, by the cubics y = a·x³ + b (data=cubic): fitting, the per-parameter
distances and the joint coverage on constructed curves, the joint coverage's exact value for a uniform box, a
conditional GAN's conditioning on the whole vector, InfoGAN's codes against each parameter, and short runs."""

import numpy as np
import pytest
import torch

from conftest import TINY, compose_config
from curvegan.evaluation import evaluate
from curvegan.families.cubic import Cubic
from curvegan.families.curves import CELLS, cell_coverage, uniform_joint_coverage
from curvegan.gan import GAN
from curvegan.sample import SampleError, sample
from curvegan.train import train
from curvegan.variants.cgan import Conditional
from curvegan.variants.infogan import InfoGAN
from test_sample import sample_cfg

CUBIC = Cubic()


def quality_of(p: torch.Tensor) -> dict:
    """The family's metrics of the real curves of parameter vectors p [n, 2], as one member."""
    return {k: v.item() for k, v in CUBIC.quality(CUBIC.samples(p)[None]).items()}


def test_real_cubics_are_fitted_exactly_and_score_as_the_family():
    p = CUBIC.draw((20000,), torch.Generator().manual_seed(0))
    assert torch.allclose(CUBIC.fit_parameters(CUBIC.samples(p)), p, atol=1e-5)
    q = quality_of(p)
    assert q["shape_rmse"] < 1e-5 and q["a_w1"] < 0.01 and q["b_w1"] < 0.01
    assert q["a_std"] == pytest.approx(1 / 12**0.5, abs=0.01) and q["joint_coverage"] == 1.0
    assert q["objective"] == pytest.approx(q["shape_rmse"] + (q["a_w1"] + q["b_w1"]) / 2)


def test_a_generator_that_covers_each_parameter_but_not_their_combinations_is_seen_by_the_joint_coverage():
    """a and b each uniform over their ranges, but b always tied to a (the box's diagonal): the per-parameter
    distances are as good as the family's own, the joint coverage only counts the diagonal's cells."""
    a = torch.rand(20000, generator=torch.Generator().manual_seed(1)) + 0.5
    q = quality_of(torch.stack([a, a - 1.0], dim=-1))
    assert q["a_w1"] < 0.01 and q["b_w1"] < 0.01
    assert q["joint_coverage"] == pytest.approx(CELLS / CELLS**2)


def test_the_joint_coverage_of_a_uniform_box_matches_its_exact_expectation():
    """40 vectors in 16 cells: a cell counts with at least ⌈40/80⌉ = 1 vector, so E = 1 − (15/16)^40."""
    assert uniform_joint_coverage(40, 2) == pytest.approx(1 - (15 / 16) ** 40)
    p = torch.rand(4000, 40, 2, generator=torch.Generator().manual_seed(2))
    measured = cell_coverage(p, [(0.0, 1.0), (0.0, 1.0)]).mean().item()
    assert measured == pytest.approx(uniform_joint_coverage(40, 2), abs=0.005)


def test_a_perfect_conditional_generator_on_cubics_scores_a_rmse_0():
    """G returns the real cubic of the requested (a, b), read back from its scaled condition."""

    def perfect(inputs):
        low, high = torch.tensor(CUBIC.parameter_ranges()).T
        p = inputs[..., -2:] * (high - low) / 2 + (low + high) / 2
        return CUBIC.samples(p)[None]

    gan = type("Perfect", (GAN,), {"generate": lambda self, inputs, members=None: perfect(inputs)})(
        family=Cubic(), variant=Conditional()
    )
    quality = {k: v.item() for k, v in evaluate(gan, 4000, 0).items()}
    assert quality["a_rmse"] < 1e-5 and quality["shape_rmse"] < 1e-5 and quality["joint_coverage"] == 1.0


def test_infogan_correlates_its_codes_with_each_parameter():
    """One code carries a, the other b: code_corr, the mean over the parameters of the best code's
    |correlation|, is 1; a code that carries only a leaves b uncorrelated: about 1/2."""

    def carrying(both):
        def generate(self, inputs, members=None):
            c = inputs[..., -2:]
            b = c[..., 1] * 0.5 if both else torch.zeros_like(c[..., 0])
            return CUBIC.samples(torch.stack([1 + 0.5 * c[..., 0], b], dim=-1))[None]

        return type("Carrying", (GAN,), {"generate": generate})(family=Cubic(), variant=InfoGAN(codes=2))

    assert evaluate(carrying(True), 4000, 0)["code_corr"].item() == pytest.approx(1.0, abs=1e-6)
    assert evaluate(carrying(False), 4000, 0)["code_corr"].item() < 0.55


@pytest.fixture(scope="module")
def cgan_run(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("cubic_cgan")
    train(compose_config("data=cubic", "model=cgan", *TINY, "logger=none", run_dir=run_dir))
    return run_dir


def test_cubics_train_unconditionally(tmp_path):
    metrics = train(compose_config("data=cubic", *TINY, "ensemble.size=2", "logger=none", run_dir=tmp_path))
    for name in ("shape_rmse", "a_w1", "b_w1", "a_std", "b_std", "joint_coverage", "objective"):
        assert np.isfinite(metrics[name]) and all(name in m for m in metrics["members"])
    assert np.load(tmp_path / "samples.npy").shape == (2, 500, 16)


def test_the_sampler_draws_a_conditional_cubic_for_requested_parameters(cgan_run, tmp_path):
    ckpt = str(cgan_run / "checkpoints" / "last.ckpt")
    out = tmp_path / "p.npy"
    drawn = sample(sample_cfg(ckpt_path=ckpt, params=[1.2, 0.3], n=50, out=str(out)))
    assert np.load(out).shape == (50, 16) and np.isfinite(drawn["a_rmse"])
    refusals = {
        "a=1.2: this family has parameters a, b: give params=": {"a": 1.2},
        r"params=\[1.2\]: must be 2 numbers, one for each of a, b": {"params": [1.2]},
        r"params=\[1.2, 0.9\]: b must be within the range this model was trained on, \[-0.5, 0.5\]": {
            "params": [1.2, 0.9]
        },
    }
    for line, options in refusals.items():
        with pytest.raises(SampleError, match=f"^{line}"):
            sample(sample_cfg(ckpt_path=ckpt, out=str(tmp_path / "no.npy"), **options))
    assert not (tmp_path / "no.npy").exists()
    sample(sample_cfg(ckpt_path=ckpt, mode="walk", plot=str(tmp_path / "walk.png")))  # a and b walked first
    assert (tmp_path / "walk.png").stat().st_size > 0
