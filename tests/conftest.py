from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from curvegan.schemas import register_schemas

CONFIGS = Path(__file__).resolve().parents[1] / "configs"

# A run small enough for a test: 2 epochs of 20 batches = 40 G updates.
TINY = [
    "data.batches_per_epoch=20",
    "trainer.max_epochs=2",
    "model.log_every_n_updates=10",
    "evaluation.num_samples=500",
]


def compose_config(*overrides: str, run_dir: Path | None = None):
    """The training config as `python -m curvegan.train` composes it, with the run dir set (Hydra isn't running)."""
    register_schemas()
    with initialize_config_dir(config_dir=str(CONFIGS), version_base="1.3"):
        cfg = compose("train", overrides=list(overrides))
    if run_dir is not None:
        cfg.run_dir = str(run_dir)
        OmegaConf.resolve(cfg)
    return cfg


@pytest.fixture
def tiny_config(tmp_path):
    def make(*overrides: str):
        return compose_config(*TINY, *overrides, run_dir=tmp_path)

    return make


@pytest.fixture(autouse=True)
def _logging_as_it_was():
    """A test that runs the command line in-process lets Hydra configure logging, with handlers on that test's
    captured streams; put the loggers back as they were so the next test's log lines do not go to closed files."""
    import logging

    loggers = [logging.getLogger(), *(logging.getLogger(n) for n in list(logging.root.manager.loggerDict))]
    kept = {
        id(lg): (lg, list(lg.handlers), lg.level, lg.propagate, lg.disabled)
        for lg in loggers
        if isinstance(lg, logging.Logger)
    }
    yield
    for lg, handlers, level, propagate, disabled in kept.values():  # (dictConfig disables the loggers it omits)
        lg.handlers[:] = handlers
        lg.level, lg.propagate, lg.disabled = level, propagate, disabled
