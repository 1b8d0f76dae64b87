import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from conftest import TINY, compose_config
from curvegan.train import train


def test_short_cpu_run_leaves_everything_a_user_looks_for(tiny_config, tmp_path):
    metrics = train(tiny_config())

    assert metrics["steps"] == 40  # 2 epochs × 20 batches, one G update each
    written = json.loads((tmp_path / "metrics.json").read_text())
    for key in ("shape_rmse", "a_w1", "a_std", "steps", "seconds"):
        assert written[key] == pytest.approx(metrics[key])
    assert [h["epoch"] for h in written["history"]] == [1, 2]

    samples = np.load(tmp_path / "samples.npy")
    assert samples.shape == (1, 500, 16) and samples.dtype == np.float32  # [members, n, points], also for one

    ckpt = torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=True)
    assert ckpt["global_step"] == 80  # Lightning counts both optimizers' steps
    assert (tmp_path / "progress.gif").stat().st_size > 0

    events = EventAccumulator(str(tmp_path / "tensorboard"), size_guidance={"images": 0}).Reload()
    # TensorBoard's default dashboard sorts its sections by name and opens the first two: quality, then training
    sections = sorted({tag.split("/")[0] for tags in events.Tags().values() if isinstance(tags, list) for tag in tags})
    assert sections[:3] == ["1_quality", "2_train", "figures"]
    assert len(events.Images("figures/generated")) == 2  # one figure per epoch
    scalars = events.Tags()["scalars"]
    for tag in (
        "2_train/g_loss",
        "2_train/d_loss",
        "2_train/p_real",
        "2_train/p_fake",
        "1_quality/shape_rmse",
        "1_quality/a_w1",
    ):
        assert tag in scalars
    # the x axis is G updates; 2_train/* at the end of each training_step that passes a multiple of
    # model.log_every_n_updates (10): each takes the epoch's 20 batches here
    assert [e.step for e in events.Scalars("1_quality/a_w1")] == [20, 40]
    assert [e.step for e in events.Scalars("2_train/g_loss")] == [20, 40]
    # TensorBoard shows the figure in full colour; the GIF's frame is the same picture in 64 colours
    from PIL import Image

    (last,) = events.Images("figures/generated")[-1:]
    shown = Image.open(io.BytesIO(last.encoded_image_string))
    frame = Image.open(tmp_path / "frames" / "epoch002.png")
    assert shown.mode == "RGB" and frame.mode == "P" and shown.size == frame.size == (last.width, last.height)
    assert np.abs(np.asarray(shown, dtype=float) - np.asarray(frame.convert("RGB"), dtype=float)).mean() < 2


def test_csv_logger_and_no_logger_runs(tmp_path):
    train(compose_config(*TINY, "logger=csv", run_dir=tmp_path / "csv"))
    logged = (tmp_path / "csv" / "csv" / "metrics.csv").read_text()
    assert "2_train/g_loss" in logged and "1_quality/shape_rmse" in logged

    metrics = train(compose_config(*TINY, "logger=none", "trainer.max_epochs=1", run_dir=tmp_path / "none"))
    assert metrics["steps"] == 20


def test_same_seed_same_run_other_seed_other_run(tmp_path):
    quiet = [*TINY, "trainer.max_epochs=1", "logger=none"]
    first = train(compose_config(*quiet, run_dir=tmp_path / "first"))
    again = train(compose_config(*quiet, run_dir=tmp_path / "again"))
    other = train(compose_config(*quiet, "seed=1", run_dir=tmp_path / "other"))
    assert first["shape_rmse"] == again["shape_rmse"] and first["a_w1"] == again["a_w1"]
    assert first["shape_rmse"] != other["shape_rmse"]


def test_an_ensemble_run_reports_every_member_and_their_median_and_worst(tiny_config, tmp_path):
    metrics = train(tiny_config("ensemble.size=3"))

    written = json.loads((tmp_path / "metrics.json").read_text(), parse_constant=pytest.fail)  # strict JSON
    members = written["members"]
    assert [m["member"] for m in members] == [0, 1, 2] and not any(m["diverged"] for m in members)
    # a collapse: a* spread less than 87% of the family's (a_std < 0.25 for U(1, 2))
    assert [m["collapsed"] for m in members] == [m["a_std"] < 0.25 for m in members]
    assert written["collapsed"] == sum(m["collapsed"] for m in members)
    for key in ("shape_rmse", "a_w1", "a_std", "objective"):
        assert written[key] == pytest.approx(sorted(m[key] for m in members)[1])  # the median of three
    assert written["worst"]["a_w1"] == pytest.approx(max(m["a_w1"] for m in members))
    assert written["worst"]["shape_rmse"] == pytest.approx(max(m["shape_rmse"] for m in members))
    assert len({m["a_w1"] for m in members}) == 3  # three different GANs
    assert [h["epoch"] for h in written["history"]] == [1, 2]
    assert set(written["history"][-1]["worst"]) >= {"shape_rmse", "a_w1"}
    assert metrics["ensemble_size"] == 3 and metrics["steps"] == 40

    assert np.load(tmp_path / "samples.npy").shape == (3, 500, 16)
    ckpt = torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=True)
    assert ckpt["state_dict"]["generator.layers.0.weight"].shape == (3, 10, 32)

    events = EventAccumulator(str(tmp_path / "tensorboard"), size_guidance={"images": 0, "histograms": 0}).Reload()
    scalars = events.Tags()["scalars"]
    assert {"1_quality/shape_rmse", "worst/shape_rmse", "worst/a_w1"} <= set(scalars)
    assert [e.value for e in events.Scalars("worst/a_w1")][-1] == pytest.approx(written["worst"]["a_w1"])
    assert "members/diverged" not in scalars  # none diverged: no flat zero to read
    assert {"histograms/members_shape_rmse", "histograms/members_a_w1"} <= set(events.Tags()["histograms"])
    images = events.Tags()["images"]
    assert {"figures/generated", "figures/best_median_worst"} <= set(images)
    assert not any(tag.startswith("figures/members") for tag in images)  # 3 members: best_median_worst shows all


def test_the_members_pages_show_the_other_members_best_to_worst_three_to_a_card():
    from curvegan.callbacks import member_pages

    ranking = [5, 9, 0, 14, 3, 7, 1, 12, 8, 2, 15, 6, 11, 4, 13, 10]  # best to worst
    extremes = [5, 12, 10]  # best, median, worst: figures/best_median_worst
    pages = member_pages(ranking, extremes, 16)
    shown = [k for page in pages for k in page]
    assert shown == [k for k in ranking if k not in extremes]  # every other member once, best to worst
    assert [len(page) for page in pages] == [3, 3, 3, 2, 2]  # at most three a card, as even as can be
    fewer = [k for page in member_pages(ranking, extremes, 6) for k in page]
    assert len(fewer) == 6 and fewer[0] == 9 and fewer[-1] == 13  # spread over the whole ranking
    assert member_pages([2, 0, 1, 3], [2, 0, 3], 16) == [[1]] and member_pages([1, 0, 2], [1, 0, 2], 16) == []


def test_a_single_runs_metrics_are_its_members(tiny_config, tmp_path):
    train(tiny_config())
    written = json.loads((tmp_path / "metrics.json").read_text(), parse_constant=pytest.fail)
    (member,) = written["members"]
    for key in ("shape_rmse", "a_w1", "a_std"):
        assert written[key] == member[key] == written["worst"].get(key, member[key])


def test_the_command_line_logs_one_line_per_epoch_to_a_file_and_ends_with_its_summary_and_run_dir(tmp_path):
    import subprocess
    import sys

    with open(tmp_path / "log.txt", "w") as log:
        result = subprocess.run(
            [sys.executable, "-m", "curvegan.train", *TINY, "trainer.max_epochs=3", f"hydra.run.dir={tmp_path}/run"],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    assert result.returncode == 0
    text = (tmp_path / "log.txt").read_text()
    assert text.splitlines()[-2].startswith("curvegan: 60 G updates in ") and "shape_rmse" in text.splitlines()[-2]
    assert text.splitlines()[-1] == f"run dir: {tmp_path}/run"
    assert "\r" not in text
    epochs = [line for line in text.splitlines() if " - epoch " in line]
    assert len(epochs) == 3
    assert (
        "epoch 3/3 · 60 G updates · g_loss" in epochs[-1] and "shape_rmse" in epochs[-1] and "G updates/s" in epochs[-1]
    )
    assert len(text.splitlines()) < 20  # the whole log of a 3-epoch run


def test_the_command_lines_start_up_is_not_collected_and_training_is():
    """`cli` turns Python's garbage collection off for its start-up; before fit it freezes what start-up made and
    turns collection on again. A `train` called from Python (collection on) leaves collection as it is."""
    import gc

    from curvegan.train import collect_from_here

    frozen = gc.get_freeze_count()  # an in-process command line in an earlier test may have frozen some
    collect_from_here()
    assert gc.isenabled() and gc.get_freeze_count() == frozen
    gc.disable()
    try:
        collect_from_here()
        assert gc.isenabled() and gc.get_freeze_count() > frozen
    finally:
        gc.unfreeze()
        gc.enable()


# A process as a run sets itself up (`prepare`, which lone runs and packed groups call), then 50 steps' worth of
# tensors as a 256-member ensemble's activations are made and freed (1 MiB each); prints the page faults they cost.
STEPS_AFTER_PREPARE = """
import resource, sys
from pathlib import Path
sys.path.insert(0, {tests!r})
import torch
from conftest import compose_config
from curvegan.train import prepare
prepare(compose_config(run_dir=Path({run_dir!r})), Path({run_dir!r}))
warm_up = [[torch.ones(256, 32, 32) for _ in range(8)] for _ in range(2)]
del warm_up
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(50):
    step = [torch.ones(256, 32, 32) for _ in range(8)]
    del step
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc, and its page-fault count")
def test_a_runs_process_reuses_the_memory_a_step_frees_without_page_faults(tmp_path):
    """glibc's defaults give a large ensemble's freed activations back to the system and fault them in again at
    the next step (100,032 faults for these 50 steps on the README's machine, without `prepare`'s call); a run's
    process keeps them."""
    code = STEPS_AFTER_PREPARE.format(tests=str(Path(__file__).parent), run_dir=str(tmp_path / "run"))
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    assert int(result.stdout.split()[-1]) < 50  # fewer than one a step


def test_malloc_is_left_alone_where_it_cannot_be_tuned_and_never_half_tuned(monkeypatch):
    """No C library to open, or one without mallopt (macOS, musl): nothing happens. One that refuses the mmap
    threshold is not given the trim threshold alone, which would send every block above 128 KiB to a fresh
    mapping."""
    import ctypes

    import curvegan

    def no_library(name):
        raise OSError("no C library")

    monkeypatch.setattr(ctypes, "CDLL", no_library)
    assert curvegan.reuse_freed_memory() is False
    monkeypatch.setattr(ctypes, "CDLL", lambda name: object())
    assert curvegan.reuse_freed_memory() is False

    calls = []

    class Refusing:
        def mallopt(self, param, value):
            calls.append(param)
            return 0

    monkeypatch.setattr(ctypes, "CDLL", lambda name: Refusing())
    assert curvegan.reuse_freed_memory() is False
    assert calls == [curvegan.M_MMAP_THRESHOLD]


def test_an_ensemble_with_member_wise_settings_records_each_members_own(tmp_path):
    """Learning rates and R1 weights given one per member: each member's row of metrics.json says which it had."""
    from conftest import TINY, compose_config

    lrs, r1 = [1e-4, 4e-4], [0.0, 5.0]
    overrides = ["ensemble.size=2", f"model.g_lr=[{lrs[0]},{lrs[1]}]", f"objective.r1=[{r1[0]},{r1[1]}]"]
    train(compose_config(*TINY, *overrides, "logger=none", "trainer.max_epochs=1", run_dir=tmp_path))
    members = json.loads((tmp_path / "metrics.json").read_text())["members"]
    assert [m["settings"] for m in members] == [{"model.g_lr": lrs[k], "objective.r1": r1[k]} for k in range(2)]
