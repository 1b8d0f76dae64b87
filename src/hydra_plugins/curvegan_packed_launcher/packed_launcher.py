"""The Hydra launcher plugin `hydra/launcher=packed` (found by Hydra in its `hydra_plugins` namespace, as the
joblib and submitit launchers are). It composes a sweep's jobs, packs those that differ only in member-wise keys
into one ensemble each, and leaves every job's dir as if it had run alone: the work is curvegan.packed's.

    python -m curvegan.train -m hydra/launcher=packed model.g_lr=1e-4,2e-4,4e-4 seed=0,1,2,3
    python -m curvegan.train -m hydra/launcher=packed hydra.launcher.max_members=256 ...

Imported at every Hydra start-up (plugin discovery): it imports neither torch nor curvegan until it launches."""

# (no `from __future__ import annotations`: Hydra's plugin scan runs this module outside sys.modules, where a
# dataclass cannot read string annotations)
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Optional

from hydra.core.config_store import ConfigStore
from hydra.core.utils import JobReturn
from hydra.plugins.launcher import Launcher
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig


@dataclass
class PackedLauncherConf:
    _target_: str = "hydra_plugins.curvegan_packed_launcher.packed_launcher.PackedLauncher"
    # the most GANs one ensemble trains at once (the memory preflight may halve a group further)
    max_members: int = 4096


ConfigStore.instance().store(group="hydra/launcher", name="packed", node=PackedLauncherConf, provider="curvegan")


class PackedLauncher(Launcher):
    def __init__(self, max_members: int = 4096) -> None:
        self.max_members = max_members
        self.config: Optional[DictConfig] = None  # noqa: UP045
        self.task_function: Optional[TaskFunction] = None  # noqa: UP045
        self.hydra_context: Optional[HydraContext] = None  # noqa: UP045

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        self.config, self.hydra_context, self.task_function = config, hydra_context, task_function

    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[JobReturn]:
        from curvegan.packed import launch

        if not isinstance(self.max_members, int) or isinstance(self.max_members, bool) or self.max_members < 1:
            from curvegan.errors import ConfigError

            raise ConfigError(f"hydra.launcher.max_members={self.max_members}: must be a whole number ≥ 1")
        return launch(self, job_overrides, initial_job_idx)
