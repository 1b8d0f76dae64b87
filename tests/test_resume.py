"""A killed or stopped run, resumed, is the same run, an ensemble too; a torn write or a diverged run loses
nothing good; a member that diverges is frozen while the others train on."""

import json
import logging
import signal
import subprocess
import sys
import textwrap
import time

import pytest
import torch

from conftest import compose_config
from curvegan.families.quadratic import Quadratic
from curvegan.train import TrainingFailed, train

# 3 epochs of 60 batches (4 training_step calls of 15 each per epoch): long enough to be hit mid-epoch.
RUN = [
    "data.batches_per_epoch=60",
    "data.batches_per_step=15",
    "trainer.max_epochs=3",
    "logger=none",
    "evaluation.num_samples=200",
    "model.log_every_n_updates=15",
    "callbacks.monitor.gif_path=null",
]


def weights(run_dir):
    return torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"]


def assert_same_weights(a, b):
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


ENSEMBLE = "ensemble.size=3"


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("uninterrupted")
    train(compose_config(*RUN, run_dir=run_dir))
    return weights(run_dir)


@pytest.fixture(scope="module")
def uninterrupted_ensemble(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("uninterrupted_ensemble")
    train(compose_config(*RUN, ENSEMBLE, run_dir=run_dir))
    return weights(run_dir)


# Each training_step of a signalled run pauses 0.2 s (its updates unchanged), so a signal sent once the first
# checkpoint exists lands mid-run: unpaused, the run's remaining steps take about 0.2 s in all and can end first.
PAUSED = textwrap.dedent("""
    import time, curvegan.gan as gan
    step = gan.GAN.training_step
    def paused(self, *args):
        step(self, *args)
        time.sleep(0.2)
    gan.GAN.training_step = paused
""")


def start(run_dir, *extra, prelude=""):
    """The training command line in a subprocess, its steps paused (optionally with some Python run first)."""
    overrides = [*RUN, f"hydra.run.dir={run_dir}", *extra]
    code = PAUSED + prelude + f"\nimport sys, runpy\nsys.argv = ['curvegan.train', *{overrides!r}]\n"
    code += "runpy.run_module('curvegan.train', run_name='__main__')"
    return subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for(path, process, timeout=120):
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert process.poll() is None, process.stderr.read()
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.005)


def resume(run_dir, *extra):
    return train(compose_config(*RUN, *extra, "ckpt_path=last", run_dir=run_dir))


def test_resume_at_an_epoch_boundary_gives_the_same_weights(tmp_path, uninterrupted):
    train(compose_config(*RUN, "trainer.max_epochs=1", run_dir=tmp_path))
    metrics = resume(tmp_path)
    assert metrics["steps"] == 180
    assert_same_weights(weights(tmp_path), uninterrupted)


@pytest.mark.slow  # the default run resumes at an epoch's boundary (above) and after a SIGTERM mid-epoch (below)
@pytest.mark.parametrize("size", [1, 3], ids=["one GAN", "an ensemble of 3"])
def test_sigkill_after_the_first_checkpoint_then_resume_gives_the_same_weights(
    tmp_path, uninterrupted, uninterrupted_ensemble, size
):
    process = start(tmp_path, f"ensemble.size={size}")
    wait_for(tmp_path / "checkpoints" / "last.ckpt", process)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert not (tmp_path / "metrics.json").exists()
    metrics = resume(tmp_path, f"ensemble.size={size}")
    assert_same_weights(weights(tmp_path), uninterrupted if size == 1 else uninterrupted_ensemble)
    # the whole run's quality history, not only the epochs since the resume
    assert [h["epoch"] for h in json.loads((tmp_path / "metrics.json").read_text())["history"]] == [1, 2, 3]
    assert metrics["ensemble_size"] == size


@pytest.mark.parametrize(
    "signum", [signal.SIGTERM, pytest.param(signal.SIGINT, marks=pytest.mark.slow)], ids=["SIGTERM", "Ctrl-C"]
)
def test_sigterm_or_ctrl_c_writes_a_checkpoint_mid_epoch_and_exits_non_zero(
    tmp_path, uninterrupted_ensemble, signum, caplog
):
    # The signal arrives mid-epoch, after G update 90 (the second epoch's second training_step), sent by the process
    # to itself: from outside, the moment it lands depends on the machine's load (at an epoch's end it is the case
    # of the next test).
    prelude = textwrap.dedent(f"""
        import os, curvegan.gan as gan
        stepped = gan.GAN.training_step
        def signalled(self, *args):
            stepped(self, *args)
            if self.g_updates == 90:
                os.kill(os.getpid(), {int(signum)})
        gan.GAN.training_step = signalled
    """)
    process = start(tmp_path, ENSEMBLE, prelude=prelude)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 128 + signum
    assert f"stopped by {signum.name} after G update 90" in stderr and "ckpt_path=last" in stderr
    assert not (tmp_path / "metrics.json").exists()  # not mistaken for a finished run
    assert torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=True)["global_step"] // 2 == 90
    with caplog.at_level(logging.INFO, logger="curvegan.callbacks"):
        resume(tmp_path, ENSEMBLE)
    assert_same_weights(weights(tmp_path), uninterrupted_ensemble)
    (resumed_epoch,) = [r.getMessage() for r in caplog.records if r.getMessage().startswith("epoch 2/3")]
    assert " · 0 G updates/s" not in resumed_epoch  # its speed over the updates made since the resume


def signalled_at(g_updates: int, signum: int) -> str:
    """A prelude: the run signals itself once G update `g_updates` is done (deterministic, whatever the load)."""
    return textwrap.dedent(f"""
        import os, curvegan.gan as gan
        stepped = gan.GAN.training_step
        def signalled(self, *args):
            stepped(self, *args)
            if self.g_updates == {g_updates}:
                os.kill(os.getpid(), {int(signum)})
        gan.GAN.training_step = signalled
    """)


# with the slow tests (each case is a training process, 6 s): the default run stops by SIGTERM, as these do
@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGUSR1, signal.SIGUSR2, signal.SIGHUP], ids=lambda s: s.name)
def test_sigusr1_sigusr2_and_sighup_stop_a_run_as_sigterm_does(tmp_path, signum):
    """SLURM's --signal and submitit's timeout send SIGUSR1 or SIGUSR2, a closed terminal SIGHUP: each is a stop
    with a checkpoint, one line and 128 + the signal (outside a SLURM job that Lightning requeues)."""
    default = "import signal\nsignal.signal(signal.SIGHUP, signal.SIG_DFL)\n"  # as in a terminal (nohup ignores it)
    process = start(tmp_path, "trainer.max_epochs=2", prelude=default + signalled_at(75, signum))
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 128 + signum, stderr
    assert stderr.strip().splitlines()[-1].startswith(f"curvegan: stopped by {signum.name} after G update 75")
    assert "Traceback" not in stderr and not (tmp_path / "metrics.json").exists()
    assert torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=True)["global_step"] // 2 == 75


@pytest.mark.slow
def test_a_signal_on_an_epochs_last_step_keeps_that_epochs_measurement_through_the_resume(tmp_path, uninterrupted):
    """Landing in the first epoch's last training_step: the run stops after that epoch's end work, and the resumed
    run's history has every epoch, as the uninterrupted run's (Lightning resumes a checkpoint of the last batch's
    end as a finished epoch, without its end work: a stop there lost the epoch's entry)."""
    process = start(tmp_path / "run", prelude=signalled_at(60, signal.SIGTERM))
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 128 + signal.SIGTERM, stderr
    assert "stopped by SIGTERM after G update 60" in stderr
    before = torch.load(tmp_path / "run" / "checkpoints" / "last.ckpt", weights_only=True)["curvegan_seconds"]
    resume(tmp_path / "run")
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert [h["epoch"] for h in metrics["history"]] == [1, 2, 3]
    assert 0 < before < metrics["seconds"]  # the training time of both starts, not the resumed one's alone
    assert_same_weights(weights(tmp_path / "run"), uninterrupted)


def test_the_day_lightning_no_longer_says_which_batch_is_last_a_stop_comes_at_once():
    """StopOnSignal reads Lightning's `fit_loop.epoch_loop.batch_progress.is_last_batch` (its internals): a
    Lightning without it (simulated: a trainer whose loops lack it) makes every batch 'not the last', so a stop
    is taken at the step's end, as before the wait for the epoch's end work."""
    from types import SimpleNamespace

    from curvegan.signals import last_batch

    def trainer(progress):
        return SimpleNamespace(fit_loop=SimpleNamespace(epoch_loop=SimpleNamespace(batch_progress=progress)))

    assert last_batch(trainer(SimpleNamespace(is_last_batch=True))) is True
    assert last_batch(trainer(SimpleNamespace(is_last_batch=False))) is False
    assert last_batch(trainer(SimpleNamespace())) is False  # the attribute renamed
    assert last_batch(SimpleNamespace()) is False  # the loops reorganised


@pytest.mark.parametrize(
    "signum", [signal.SIGTERM, pytest.param(signal.SIGUSR1, marks=pytest.mark.slow)], ids=lambda s: s.name
)
def test_a_signal_during_an_epochs_end_work_stops_the_run_with_a_checkpoint(tmp_path, uninterrupted, signum):
    """Landing while the monitor measures after the first epoch (StopOnSignal stops at that epoch's end; Lightning's
    own SIGTERM checks no longer see the signal once training starts): 128 + the signal, its one line, a checkpoint
    of the state at the stop, and a resume that gives the uninterrupted run's weights. The run signals itself from
    inside the measurement: no timing."""
    prelude = textwrap.dedent(f"""
        import os, curvegan.callbacks as callbacks
        measure = callbacks.Monitor.measure
        def signalling(self, trainer, gan):
            if gan.g_updates == 60:
                os.kill(os.getpid(), {int(signum)})
            measure(self, trainer, gan)
        callbacks.Monitor.measure = signalling
    """)
    process = start(tmp_path / "run", prelude=prelude)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 128 + signum, stderr
    lines = stderr.strip().splitlines()
    assert lines[-1].startswith(f"curvegan: stopped by {signum.name} after G update 60; checkpoint: ")
    assert lines[-1].endswith("ckpt_path=last") and "Traceback" not in stderr
    assert not (tmp_path / "run" / "metrics.json").exists()
    resume(tmp_path / "run")
    assert_same_weights(weights(tmp_path / "run"), uninterrupted)


def test_a_sigterm_while_starting_up_exits_143_with_one_line(tmp_path):
    """The signal lands while the config is validated (before the run dir exists), sent from there."""
    prelude = textwrap.dedent("""
        import os, signal, curvegan.config as config
        validate = config.validate
        def signalling(cfg):
            os.kill(os.getpid(), signal.SIGTERM)
            validate(cfg)
        config.validate = signalling
    """)
    process = start(tmp_path / "run", prelude=prelude)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 143
    assert stderr.strip().splitlines() == ["curvegan: stopped by SIGTERM"], stderr
    assert not (tmp_path / "run" / "metrics.json").exists()


def test_a_resumed_run_gif_covers_the_whole_run(tmp_path):
    from PIL import Image

    train(
        compose_config(
            *RUN, "trainer.max_epochs=1", "callbacks.monitor.gif_path=${run_dir}/progress.gif", run_dir=tmp_path
        )
    )
    resume(tmp_path, "callbacks.monitor.gif_path=${run_dir}/progress.gif")
    with Image.open(tmp_path / "progress.gif") as gif:
        assert gif.n_frames == 3


@pytest.mark.slow
def test_a_kill_while_writing_a_checkpoint_leaves_the_previous_one_intact(tmp_path, uninterrupted):
    # Die half-way through writing the 4th checkpoint file (epoch001.ckpt; epoch 0's last.ckpt came before it).
    prelude = textwrap.dedent("""
        import os, pathlib, signal
        write, count = pathlib.Path.write_bytes, [0]
        def torn(self, data):
            if self.name.endswith(".ckpt.partial"):
                count[0] += 1
                if count[0] == 3:
                    write(self, data[: len(data) // 2]); os.kill(os.getpid(), signal.SIGKILL)
            return write(self, data)
        pathlib.Path.write_bytes = torn
    """)
    process = start(tmp_path, prelude=prelude)
    process.wait(timeout=120)
    assert process.returncode == -signal.SIGKILL
    ckpts = sorted(p.name for p in (tmp_path / "checkpoints").glob("*.ckpt"))
    assert ckpts == ["epoch000.ckpt", "last.ckpt"]  # the torn file never took a checkpoint's name
    for name in ckpts:
        assert torch.load(tmp_path / "checkpoints" / name, weights_only=True)["epoch"] == 0
    resume(tmp_path)
    assert_same_weights(weights(tmp_path), uninterrupted)


class Overflowing(Quadratic):
    """From the second epoch on, the members in `hit` get real curves beyond float32's range: their first
    update then makes their losses non-finite. (With seed 0 an epoch's stream is seeded with the epoch.)"""

    hit: tuple[int, ...] = ()

    def draw(self, shape, generator):
        a = super().draw(shape, generator)
        if len(shape) == 3 and generator.initial_seed() >= 1:
            a[:, list(self.hit)] = 3e38
        return a


def test_when_every_member_diverges_the_run_stops_naming_the_step_and_keeps_the_last_good_checkpoint(
    tmp_path, monkeypatch
):
    monkeypatch.setattr(Overflowing, "hit", (0,))
    with pytest.raises(TrainingFailed, match=r"training diverged at G update 61: g_loss=\S+, d_loss=\S+") as failed:
        train(compose_config(*RUN, "data._target_=test_resume.Overflowing", run_dir=tmp_path))
    assert "last good checkpoint" in str(failed.value)
    last = torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=True)
    assert last["epoch"] == 0 and last["global_step"] == 120  # epoch 1's checkpoint: 60 G updates
    assert not (tmp_path / "metrics.json").exists()


def test_a_diverged_member_is_frozen_and_reported_while_the_others_train_on(tmp_path, monkeypatch, caplog):
    monkeypatch.setattr(Overflowing, "hit", (1,))
    metrics = train(compose_config(*RUN, ENSEMBLE, "data._target_=test_resume.Overflowing", run_dir=tmp_path))

    members = json.loads((tmp_path / "metrics.json").read_text(), parse_constant=pytest.fail)["members"]
    assert [m["diverged"] for m in members] == [False, True, False]
    assert members[1]["diverged_at"] == 61 and metrics["diverged"] == 1
    assert "member 1 diverged at G update 61" in caplog.text and "2 of 3 train on" in caplog.text
    # frozen at its weights from before the step it diverged in (the end of epoch 1), finite; the others moved on
    before = torch.load(tmp_path / "checkpoints" / "epoch000.ckpt", weights_only=True)["state_dict"]
    after = weights(tmp_path)
    layer = "generator.layers.0.weight"
    assert torch.equal(after[layer][1], before[layer][1]) and after[layer].isfinite().all()
    assert not torch.equal(after[layer][0], before[layer][0])
    # the medians are over the members that did not diverge
    kept = sorted(m["shape_rmse"] for m in members if not m["diverged"])
    assert metrics["shape_rmse"] == pytest.approx(sum(kept) / 2)


def test_gradient_clipping_is_applied(tmp_path):
    plain = train(compose_config(*RUN, "trainer.max_epochs=1", run_dir=tmp_path / "plain"))
    clipped = train(compose_config(*RUN, "trainer.max_epochs=1", "model.grad_clip=1e-3", run_dir=tmp_path / "clip"))
    assert clipped["shape_rmse"] != plain["shape_rmse"]
    assert torch.isfinite(torch.stack([v.sum() for v in weights(tmp_path / "clip").values()])).all()


def test_a_run_resumed_into_another_run_dir_finishes_with_a_complete_result(tmp_path, uninterrupted):
    """The README allows resuming into a new run dir: the result is complete there (metrics.json with the whole
    history, samples.npy, last.ckpt at the end, a GIF of the epochs this dir saw), the first dir untouched."""
    gif = ["callbacks.monitor.gif_path=${run_dir}/progress.gif"]
    train(compose_config(*RUN, *gif, "trainer.max_epochs=1", run_dir=tmp_path / "first"))
    first_ckpt = tmp_path / "first" / "checkpoints" / "last.ckpt"
    before = first_ckpt.read_bytes()
    metrics = train(compose_config(*RUN, *gif, f"ckpt_path={first_ckpt}", run_dir=tmp_path / "second"))
    second = tmp_path / "second"
    assert metrics["steps"] == 180 and (second / "samples.npy").is_file()
    assert [h["epoch"] for h in json.loads((second / "metrics.json").read_text())["history"]] == [1, 2, 3]
    assert_same_weights(weights(second), uninterrupted)
    assert sorted(p.name for p in (second / "checkpoints").iterdir()) == ["epoch001.ckpt", "epoch002.ckpt", "last.ckpt"]
    from PIL import Image

    with Image.open(second / "progress.gif") as frames:
        assert frames.n_frames == 2  # epochs 2 and 3: epoch 1's frame is in the first run dir
    assert first_ckpt.read_bytes() == before
