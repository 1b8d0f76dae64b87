"""A checkpoint is data: loading one never imports or calls what it names (curvegan.registry).

Each crafted checkpoint below names a gadget in one node that the loader builds (the family, each network, the
variant, the objective, the model's own class) or hides one in a key of a node it knows. A gadget that ran
would write a marker file, and naming a module of ours imports it, which writes the marker too. Every one must
be refused in one line naming the node, with no marker, under `curvegan.sample`, `curvegan.train ckpt_path=`
and the notebook's loading code (`curvegan.sample.load_checkpoint`).
"""

import copy
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from curvegan.sample import SampleError, load_checkpoint
from curvegan.train import train

EVIL = """
from pathlib import Path
Path({marker!r}).write_text("imported")

def run(*args, **kwargs):
    Path({marker!r}).write_text("called")

class Anything:
    def __init__(self, *args, **kwargs):
        Path({marker!r}).write_text("called")
"""


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    from conftest import TINY, compose_config

    run_dir = tmp_path_factory.mktemp("run")
    train(
        compose_config(*TINY, "trainer.max_epochs=1", "logger=none", "callbacks.monitor.gif_path=null", run_dir=run_dir)
    )
    return run_dir


@pytest.fixture
def evil(tmp_path, monkeypatch):
    """A module on the import path whose import, or any call into it, writes the marker."""
    marker = tmp_path / "MARKER"
    (tmp_path / "evil_gadget.py").write_text(EVIL.format(marker=str(marker)))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    sys.modules.pop("evil_gadget", None)
    return marker


def gadgets(marker: Path) -> dict[str, dict]:
    """Nodes that would run code if built as Hydra builds them."""
    return {
        "a function of an imported module": {"_target_": "evil_gadget.run"},
        "a class of an imported module": {"_target_": "evil_gadget.Anything"},
        "a standard library writer": {"_target_": "pathlib.Path.write_text", "_args_": [str(marker), "x"]},
        "a subprocess": {"_target_": "subprocess.run", "args": ["touch", str(marker)]},
        "numpy's pickle loader": {"_target_": "numpy.load", "file": str(marker), "allow_pickle": True},
    }


def crafted(run_dir: Path, tmp_path: Path, where: str, gadget) -> Path:
    """The run's last.ckpt with `gadget` put at `where` (a dotted path into hyper_parameters, or the model's own
    class name)."""
    ckpt = torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)
    ckpt = copy.deepcopy(ckpt)
    if where == "curvegan_model":
        ckpt["curvegan_model"] = gadget["_target_"]
    else:
        node = ckpt["hyper_parameters"]
        *parents, last = where.split(".")
        for name in parents:
            node = node[name]
        node[last] = gadget
    path = tmp_path / "crafted.ckpt"
    torch.save(ckpt, path)
    return path


NODES = ["family", "generator", "discriminator", "variant", "objective", "curvegan_model"]
NAMED = {
    "family": "data",
    "generator": "model.generator",
    "discriminator": "model.discriminator",
    "variant": "model.variant",
    "objective": "objective",
    "curvegan_model": "curvegan_model",
}


def refused_running_nothing(path, named: str, evil: Path) -> None:
    """Loading `path` is refused in one line that names `named`, and nothing of the gadget ran or was imported."""
    with pytest.raises(SampleError) as err:
        load_checkpoint(path)
    assert "\n" not in str(err.value) and named in str(err.value), str(err.value)
    assert not evil.exists(), f"a gadget ran: {evil.read_text()}"
    assert "evil_gadget" not in sys.modules


@pytest.mark.parametrize("where", NODES)
def test_a_checkpoint_naming_a_gadget_in_any_node_is_refused_and_runs_nothing(run_dir, tmp_path, evil, where):
    for gadget in gadgets(evil).values():
        path = crafted(run_dir, tmp_path, where, gadget)
        refused_running_nothing(path, f"{NAMED[where]}._target_={gadget['_target_']}", evil)


HIDDEN = {  # where a gadget is hidden: what the refusal names
    "family.batch_size": "data.batch_size",
    "generator.hidden": "model.generator.hidden",
    "variant._args_": "model.variant._args_",
    "objective.r1": "objective.r1",
    "g_lr": "model.g_lr",
}


@pytest.mark.parametrize("key", HIDDEN)
def test_a_gadget_hidden_in_a_key_of_a_known_node_is_refused(run_dir, tmp_path, evil, key):
    path = crafted(run_dir, tmp_path, key, {"_target_": "evil_gadget.run", "_args_": ["x"]})
    refused_running_nothing(path, HIDDEN[key], evil)


def test_a_value_outside_its_rule_in_a_checkpoint_is_refused_naming_it(run_dir, tmp_path):
    path = crafted(run_dir, tmp_path, "generator.hidden", [32, -1])
    with pytest.raises(SampleError, match=r"model\.generator\.hidden=\[32, -1\]: must be a list of layer widths"):
        load_checkpoint(path)


def test_the_sampler_command_line_refuses_a_crafted_checkpoint_in_one_line(run_dir, tmp_path, evil):
    path = crafted(run_dir, tmp_path, "family", {"_target_": "evil_gadget.Anything"})
    result = subprocess.run(
        [sys.executable, "-m", "curvegan.sample", f"ckpt_path={path}", f"out={tmp_path / 'x.npy'}"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1 and "data._target_=evil_gadget.Anything" in result.stderr
    assert not evil.exists() and not (tmp_path / "x.npy").exists()


def test_resuming_from_a_crafted_checkpoint_is_refused_and_runs_nothing(run_dir, tmp_path, evil):
    path = crafted(run_dir, tmp_path, "variant", {"_target_": "evil_gadget.Anything"})
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "curvegan.train",
            f"ckpt_path={path}",
            f"hydra.run.dir={tmp_path / 'resumed'}",
            "data.batches_per_epoch=20",
            "trainer.max_epochs=2",
            "logger=none",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().count("\n") == 0 and "model.variant._target_" in result.stderr
    assert not evil.exists() and not (tmp_path / "resumed").exists()


def test_a_class_registered_in_code_loads(run_dir, tmp_path):
    """A user's own part loads once registered (curvegan.registry.register), and only then."""
    from dataclasses import dataclass

    from curvegan import registry
    from curvegan.families.quadratic import Quadratic

    @dataclass
    class Mine(Quadratic):
        name = "mine_for_the_test"

    Mine.__module__, Mine.__qualname__ = "users_package.families", "Mine"
    path = crafted(run_dir, tmp_path, "family._target_", "users_package.families.Mine")
    with pytest.raises(SampleError, match=r"data\._target_=users_package\.families\.Mine"):
        load_checkpoint(path)
    registry.register("family", Mine)
    try:
        assert isinstance(load_checkpoint(path).family, Mine)
    finally:
        registry._registered["family"].pop("users_package.families.Mine")
