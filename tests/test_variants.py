"""The conditional GAN and InfoGAN: their metrics by hand, training with every objective and with ensembles,
their pictures, resuming, and the sampler's a= and code=."""

import json

import numpy as np
import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from conftest import compose_config
from curvegan.evaluation import evaluate
from curvegan.families.quadratic import Quadratic, quadratic_curves
from curvegan.gan import GAN
from curvegan.registry import named
from curvegan.sample import SampleError, sample
from curvegan.sampling import walk
from curvegan.train import train
from curvegan.variants.cgan import Conditional
from curvegan.variants.infogan import InfoGAN
from test_sample import sample_cfg

X = Quadratic().x


def quality(gan, n=20000):
    return {k: v.item() for k, v in evaluate(gan, n, 1234).items()}


def drawing(generate):
    """A GAN whose generator is replaced by `generate(inputs) -> curves [n, 16]` (for any member)."""
    return type("Drawing", (GAN,), {"generate": lambda self, inputs, members=None: generate(inputs)[None]})


def perfect(inputs):
    """Draws exactly the real curve of the requested a."""
    return quadratic_curves(inputs[..., -1] * 0.5 + 1.5, X)  # the condition, scaled back from [-1, 1] to [1, 2]


def ignoring(inputs):
    """Draws real curves, but for its own a ~ U(1, 2), whatever was asked."""
    return quadratic_curves(torch.rand(inputs.shape[-2], generator=torch.Generator().manual_seed(7)) + 1, X)


def test_a_perfect_conditional_generator_scores_a_rmse_0_and_one_ignoring_a_about_0_41():
    perfect_run = quality(drawing(perfect)(variant=Conditional()))
    assert perfect_run["a_rmse"] < 1e-5 and perfect_run["shape_rmse"] < 1e-5 and perfect_run["a_w1"] < 0.01
    ignored = quality(drawing(ignoring)(variant=Conditional()))
    # a* and the request are independent U(1, 2): E[(a* − a)²] = 2 · 1/12, so a_rmse = √(1/6) ≈ 0.408
    assert ignored["a_rmse"] == pytest.approx((1 / 6) ** 0.5, abs=0.01)
    assert ignored["shape_rmse"] < 1e-5 and ignored["a_w1"] < 0.02  # good curves, good coverage: only a_rmse sees it


def test_code_corr_is_one_when_the_code_carries_a_and_near_zero_when_it_does_not():
    carried = quality(drawing(lambda i: quadratic_curves(1.5 + 0.5 * i[..., -1], X))(variant=InfoGAN()))
    assert carried["code_corr"] == pytest.approx(1.0, abs=1e-6) and carried["a_w1"] < 0.01
    decreasing = quality(drawing(lambda i: quadratic_curves(1.5 - 0.5 * i[..., -1], X))(variant=InfoGAN()))
    assert decreasing["code_corr"] == pytest.approx(1.0, abs=1e-6)  # absolute: a falling with c counts too
    assert quality(drawing(ignoring)(variant=InfoGAN()))["code_corr"] < 0.03


def test_with_several_codes_code_corr_is_the_largest():
    gan = drawing(lambda i: quadratic_curves(1.5 + 0.5 * i[..., -1], X))(variant=InfoGAN(codes=3))
    assert quality(gan)["code_corr"] == pytest.approx(1.0, abs=1e-6)


TINY_VARIANT = [
    "data.batches_per_epoch=20",
    "trainer.max_epochs=2",
    "evaluation.num_samples=400",
    "model.log_every_n_updates=10",
]


VARIANTS = named("model/variant")
CONDITIONED = sorted(name for name in VARIANTS if name != "plain")  # each has its model=NAME YAML


def own_metric(model: str) -> str:
    return VARIANTS[model].metrics[0].name


@pytest.mark.parametrize("model", CONDITIONED)
@pytest.mark.parametrize("objective", sorted(named("objective")))
def test_every_objective_trains_each_variant(tmp_path, model, objective):
    cfg = compose_config(
        f"model={model}",
        f"objective={objective}",
        *TINY_VARIANT,
        "trainer.max_epochs=1",
        "logger=none",
        "callbacks.monitor.gif_path=null",
        run_dir=tmp_path,
    )
    metrics = train(cfg)
    assert metrics["steps"] == 20
    assert np.isfinite(metrics[own_metric(model)])


@pytest.fixture(scope="module", params=CONDITIONED)
def variant_run(request, tmp_path_factory):
    """A 2-epoch ensemble of 3 of each variant, with TensorBoard."""
    run_dir = tmp_path_factory.mktemp(request.param)
    train(compose_config(f"model={request.param}", *TINY_VARIANT, "ensemble.size=3", run_dir=run_dir))
    return request.param, run_dir


def test_a_variant_ensemble_reports_its_metric_per_member_and_in_tensorboard(variant_run):
    model, run_dir = variant_run
    metric = own_metric(model)
    written = json.loads((run_dir / "metrics.json").read_text())
    assert len(written["members"]) == 3 and all(metric in m for m in written["members"])
    assert written[metric] == pytest.approx(sorted(m[metric] for m in written["members"])[1])
    assert metric in written["worst"] and [metric in h for h in written["history"]] == [True, True]
    events = EventAccumulator(str(run_dir / "tensorboard"), size_guidance={"images": 0}).Reload()
    assert f"1_quality/{metric}" in events.Tags()["scalars"] and f"worst/{metric}" in events.Tags()["scalars"]
    assert len(events.Images("figures/generated")) == 2


def test_the_sampler_draws_a_cgan_curve_for_a_requested_a_and_refuses_one_outside_the_range(tmp_path):
    run_dir = tmp_path / "run"
    train(compose_config("model=cgan", *TINY_VARIANT, "logger=none", run_dir=run_dir))
    ckpt = str(run_dir / "checkpoints/last.ckpt")
    out = tmp_path / "a13.npy"
    drawn = sample(sample_cfg(ckpt_path=ckpt, a=1.3, n=50, out=str(out)))
    assert np.load(out).shape == (50, 16) and "a_rmse" in drawn
    # the default draws a from the data's distribution: the run's own samples.npy
    default = tmp_path / "default.npy"
    sample(sample_cfg(ckpt_path=ckpt, n=400, out=str(default)))
    assert np.array_equal(np.load(default), np.load(run_dir / "samples.npy")[0])
    with pytest.raises(SampleError, match=r"^a=2.5: must be within the range this model was trained on, \[1, 2\]"):
        sample(sample_cfg(ckpt_path=ckpt, a=2.5))
    with pytest.raises(
        SampleError, match=r"^code=0.5: this checkpoint holds a conditional GAN \(model=cgan\), which takes a="
    ):
        sample(sample_cfg(ckpt_path=ckpt, code=0.5))
    sample(sample_cfg(ckpt_path=ckpt, mode="walk", plot=str(tmp_path / "walk.png")))
    assert (tmp_path / "walk.png").stat().st_size > 0


def test_the_sampler_fixes_an_infogan_code_and_walks_the_code_first(tmp_path):
    run_dir = tmp_path / "run"
    train(compose_config("model=infogan", *TINY_VARIANT, "logger=none", run_dir=run_dir))
    ckpt = str(run_dir / "checkpoints/last.ckpt")
    low, high = tmp_path / "low.npy", tmp_path / "high.npy"
    sample(sample_cfg(ckpt_path=ckpt, code=-1.0, n=50, out=str(low)))
    sample(sample_cfg(ckpt_path=ckpt, code=0.8, n=50, out=str(high)))
    assert not np.array_equal(np.load(low), np.load(high))  # the code moves the curves
    with pytest.raises(SampleError, match=r"^code=1.5: must be within \[-1, 1\]"):
        sample(sample_cfg(ckpt_path=ckpt, code=1.5))
    with pytest.raises(
        SampleError, match=r"^a=1.3: this checkpoint holds an InfoGAN \(model=infogan\), which takes code="
    ):
        sample(sample_cfg(ckpt_path=ckpt, a=1.3))
    gan = GAN(variant=InfoGAN(codes=2), latent_dim=3)
    _, values, labels = walk(gan)
    assert labels == ["c[0]", "c[1]", "z[0]", "z[1]", "z[2]"] and values[0].min() == -1


def test_a_variant_ensemble_resumed_at_an_epoch_boundary_is_the_same_run(tmp_path):
    from test_resume import assert_same_weights, weights

    run = ["model=infogan", *TINY_VARIANT, "ensemble.size=2", "logger=none", "callbacks.monitor.gif_path=null"]
    train(compose_config(*run, run_dir=tmp_path / "whole"))
    train(compose_config(*run, "trainer.max_epochs=1", run_dir=tmp_path / "halves"))
    train(compose_config(*run, "ckpt_path=last", run_dir=tmp_path / "halves"))
    assert_same_weights(weights(tmp_path / "halves"), weights(tmp_path / "whole"))
