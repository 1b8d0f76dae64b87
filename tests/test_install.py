"""curvegan installs like a library: the wheel carries the configs, and a plain (not editable) install trains and
samples from any folder."""

import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_the_wheel_carries_the_configs_and_a_plain_install_trains_and_samples_from_any_folder(tmp_path):
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp_path / "dist"), str(ROOT)],
        check=True,
        capture_output=True,
    )
    (wheel,) = (tmp_path / "dist").glob("curvegan-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    shipped = {p.relative_to(ROOT / "configs").as_posix() for p in (ROOT / "configs").rglob("*.yaml")}
    assert {f"curvegan/conf/{name}" for name in shipped} <= names  # every config, from the one configs/ folder

    # A fresh environment with curvegan from the wheel alone; its dependencies come from this environment.
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(tmp_path / "env")], check=True)
    python = tmp_path / "env" / "bin" / "python"
    site = Path(
        subprocess.check_output(
            [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], text=True
        ).strip()
    )
    (site / "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(site), str(wheel)],
        check=True,
        capture_output=True,
    )

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    where = subprocess.check_output(
        [python, "-c", "import curvegan; print(curvegan.__file__)"], cwd=elsewhere, text=True
    )
    assert where.startswith(str(site))  # not this checkout
    run = [
        python,
        "-m",
        "curvegan.train",
        "trainer.max_epochs=1",
        "data.batches_per_epoch=20",
        "logger=none",
        "evaluation.num_samples=100",
        "hydra.run.dir=run",
    ]
    result = subprocess.run(run, cwd=elsewhere, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    assert (elsewhere / "run" / "metrics.json").exists()
    sampled = subprocess.run(
        [python, "-m", "curvegan.sample", "ckpt_path=run/checkpoints/last.ckpt", "n=5", "out=five.csv"],
        cwd=elsewhere,
        capture_output=True,
        text=True,
    )
    assert sampled.returncode == 0, sampled.stderr
    assert len((elsewhere / "five.csv").read_text().splitlines()) == 5
    # the packed launcher is found in the wheel's hydra_plugins, as Hydra finds joblib's
    packed = subprocess.run(
        [*run[:2], "curvegan.train", "-m", "hydra/launcher=packed", "seed=0,1", *run[3:-1], "hydra.sweep.dir=sweep"],
        cwd=elsewhere,
        capture_output=True,
        text=True,
    )
    assert packed.returncode == 0, packed.stderr[-2000:]
    assert "as one ensemble of 2 GANs" in packed.stdout + packed.stderr
    assert sorted(p.parent.name for p in (elsewhere / "sweep").glob("*/metrics.json")) == ["0", "1"]


@pytest.mark.slow
def test_lightning_imports_without_scipy_signal_and_scipy_signal_still_works_after():
    code = (
        "import sys, curvegan; curvegan.import_lightning(); import lightning\n"
        "assert 'scipy.signal' not in sys.modules  # skipped at import: the start-up it saves\n"
        "import scipy.signal; assert callable(scipy.signal.find_peaks)  # and the real one loads afterwards\n"
    )
    if subprocess.run([sys.executable, "-c", "import scipy"], capture_output=True).returncode != 0:
        import pytest

        pytest.skip("scipy is not installed: nothing to skip")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


@pytest.mark.slow
def test_lightning_still_imports_the_day_torchmetrics_reads_more_of_scipy_signal(tmp_path):
    """A torchmetrics that reads a name the stand-in lacks (simulated: scipy.signal.windows, read as torchmetrics
    starts to import) makes import_lightning fall back to a plain import, and a run trains."""
    if subprocess.run([sys.executable, "-c", "import scipy"], capture_output=True).returncode != 0:
        import pytest

        pytest.skip("scipy is not installed: no stand-in is used")
    code = (
        "import importlib.abc, sys\n"
        "class ReadsMore(importlib.abc.MetaPathFinder):\n"
        "    def find_spec(self, name, path, target=None):\n"
        "        if name == 'torchmetrics':\n"
        "            import scipy; scipy.signal.windows  # AttributeError on the stand-in\n"
        "        return None\n"
        "sys.meta_path.insert(0, ReadsMore())\n"
        "import curvegan; curvegan.import_lightning()\n"
        "import scipy.signal; assert hasattr(scipy.signal, 'windows')  # the real module\n"
        f"sys.argv = ['curvegan.train', 'trainer.max_epochs=1', 'data.batches_per_epoch=5', 'logger=none',"
        f" 'evaluation.num_samples=20', 'hydra.run.dir={tmp_path}/run']\n"
        "import runpy; runpy.run_module('curvegan.train', run_name='__main__')\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    assert (tmp_path / "run" / "metrics.json").exists()
