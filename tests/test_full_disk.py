"""A full disk: every file a run writes (checkpoints, metrics.json, samples.npy, the GIF) is written whole or not
at all, the previous good file stays, nothing half-written is left, and the run stops with one line naming its run
dir and saying the disk is full. Injected at each kind of write, and on a real full tmpfs where this may mount one."""

import errno
import json
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest
import torch

from conftest import compose_config
from curvegan.train import TrainingFailed, train

RUN = [
    "data.batches_per_epoch=20",
    "data.batches_per_step=10",
    "trainer.max_epochs=3",
    "logger=none",
    "evaluation.num_samples=200",
    "evaluation.generic=false",
    "callbacks.monitor.gif_path=${run_dir}/progress.gif",
]


def full_when_writing(monkeypatch, name: str, nth: int = 1) -> None:
    """The disk fills up half-way through the `nth` writing of the file `name` (its temporary file beside it)."""
    write_bytes, count = pathlib.Path.write_bytes, [0]

    def filling(self, data):
        count[0] += self.name == f".{name}.partial"
        if self.name == f".{name}.partial" and count[0] == nth:
            write_bytes(self, data[: len(data) // 2])
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return write_bytes(self, data)

    monkeypatch.setattr(pathlib.Path, "write_bytes", filling)


def assert_nothing_torn(run_dir: pathlib.Path) -> None:
    """No temporary file left, and every file of the run whole."""
    assert not [p for p in run_dir.rglob("*") if p.name.endswith(".partial")]
    for ckpt in run_dir.rglob("*.ckpt"):
        torch.load(ckpt, weights_only=True)
    if (run_dir / "metrics.json").exists():
        json.loads((run_dir / "metrics.json").read_text())
    if (run_dir / "samples.npy").exists():
        np.load(run_dir / "samples.npy")


@pytest.mark.parametrize("name", ["epoch001.ckpt", "last.ckpt", "metrics.json", "progress.gif"])
def test_a_disk_that_fills_up_while_writing_keeps_the_previous_files_whole(tmp_path, monkeypatch, name):
    if name == "progress.gif":  # written by PIL through its own file: the disk fills as it closes
        from PIL import Image

        save = Image.Image.save

        def filling(self, fp, *args, **kwargs):
            if isinstance(fp, str | os.PathLike) and pathlib.Path(fp).name == ".progress.gif.partial":
                pathlib.Path(fp).write_bytes(b"GIF89a")
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            return save(self, fp, *args, **kwargs)

        monkeypatch.setattr(Image.Image, "save", filling)
    else:
        full_when_writing(monkeypatch, name, nth=2 if name == "last.ckpt" else 1)  # epoch 1's, over epoch 0's
    with pytest.raises(TrainingFailed) as failed:
        train(compose_config(*RUN, run_dir=tmp_path))
    message = str(failed.value)
    assert message.startswith(f"{tmp_path}: the disk is full (writing ") and "\n" not in message
    assert name in message
    assert_nothing_torn(tmp_path)
    assert not (tmp_path / "metrics.json").exists()  # a run that did not finish never looks finished
    epochs = torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=True)["epoch"]
    assert epochs == (0 if name in ("epoch001.ckpt", "last.ckpt") else 2)


def test_a_disk_that_fills_up_while_writing_samples_leaves_no_half_file(tmp_path, monkeypatch):
    header = np.lib.format.write_array_header_1_0

    def filling(out, *args):
        header(out, *args)
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(np.lib.format, "write_array_header_1_0", filling)
    with pytest.raises(TrainingFailed, match=r"the disk is full \(writing samples\.npy\)"):
        train(compose_config(*RUN, run_dir=tmp_path))
    assert_nothing_torn(tmp_path)
    assert not (tmp_path / "samples.npy").exists()


def mounted_tmpfs(path: pathlib.Path, size: str) -> bool:
    if os.geteuid() != 0:
        return False
    path.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True)
    return done.returncode == 0


def test_on_a_real_full_disk_the_run_stops_in_one_line_and_nothing_is_torn(tmp_path):
    disk = tmp_path / "disk"
    if not mounted_tmpfs(disk, "200k"):
        pytest.skip("needs root and a tmpfs mount (CI runs as root)")
    try:
        run_dir = disk / "run"
        result = subprocess.run(
            [sys.executable, "-m", "curvegan.train", *RUN, "trainer.max_epochs=30", f"hydra.run.dir={run_dir}"],
            capture_output=True,
            text=True,
            cwd=tmp_path,
        )
        assert result.returncode != 0
        last = result.stderr.strip().splitlines()[-1]
        assert last.startswith(f"curvegan.train: {run_dir}: the disk is full (writing "), result.stderr
        assert "Traceback" not in result.stderr
        assert_nothing_torn(run_dir)
        assert not (run_dir / "metrics.json").exists()
    finally:
        subprocess.run(["umount", str(disk)], check=False)
