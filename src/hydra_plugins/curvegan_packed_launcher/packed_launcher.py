"""The Hydra launcher plugin `hydra/launcher=packed` (found by Hydra in its `hydra_plugins` namespace, as the
joblib and submitit launchers are). It composes a sweep's jobs, packs those that differ only in member-wise keys
into one ensemble each, and leaves every job's dir as if it had run alone: the work is curvegan.packed's.

    python -m curvegan.train -m hydra/launcher=packed model.g_lr=1e-4,2e-4,4e-4 seed=0,1,2,3
    python -m curvegan.train -m hydra/launcher=packed hydra.launcher.max_members=256 ...

Imported at every Hydra start-up (plugin discovery): it imports neither torch nor curvegan until a sweep sets it up."""

# (no `from __future__ import annotations`: Hydra's plugin scan runs this module outside sys.modules, where a
# dataclass cannot read string annotations)
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Dict, Optional  # noqa: UP035 (run outside sys.modules: no string annotations)

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
    # how many groups train at once on the CPU, each in a process of its own: auto is one per core (a group is
    # halved where there are fewer groups than processes); a GPU trains one group at a time
    processes: Any = "auto"


@dataclass
class PackedSlurmLauncherConf:
    """The packed launcher with each group one SLURM job, with the SLURM launcher's settings
    (configs/hydra/launcher/slurm.yaml)."""

    _target_: str = "hydra_plugins.curvegan_packed_launcher.packed_launcher.PackedSlurmLauncher"
    max_members: int = 4096
    partition: Optional[str] = None  # noqa: UP045 (the cluster's default)
    timeout_min: int = 60
    cpus_per_task: int = 2
    gpus_per_node: int = 0
    tasks_per_node: int = 1
    mem_gb: int = 8
    nodes: int = 1
    additional_parameters: Dict[str, Any] = field(default_factory=dict)  # noqa: UP006 (sbatch's own)


ConfigStore.instance().store(group="hydra/launcher", name="packed", node=PackedLauncherConf, provider="curvegan")
ConfigStore.instance().store(
    group="hydra/launcher", name="packed_slurm", node=PackedSlurmLauncherConf, provider="curvegan"
)


class PackedLauncher(Launcher):
    def __init__(self, max_members: int = 4096, processes: Any = "auto") -> None:
        self.max_members, self.processes = max_members, processes
        self.config: Optional[DictConfig] = None  # noqa: UP045
        self.task_function: Optional[TaskFunction] = None  # noqa: UP045
        self.hydra_context: Optional[HydraContext] = None  # noqa: UP045

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        self.check()  # before the sweeper writes anything
        from curvegan.packed import composing

        composing(hydra_context)  # the sweeper's check of each batch and the launch share one composition
        self.config, self.hydra_context, self.task_function = config, hydra_context, task_function

    def check(self) -> None:
        from curvegan.errors import ConfigError

        if not whole(self.max_members):
            raise ConfigError(f"hydra.launcher.max_members={self.max_members}: must be a whole number ≥ 1")
        if self.processes != "auto" and not whole(self.processes):
            given = self.processes
            if given is None or isinstance(given, bool):  # as the user typed it
                given = "null" if given is None else str(given).lower()
            raise ConfigError(f"hydra.launcher.processes={given}: must be auto or a whole number ≥ 1")

    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[JobReturn]:
        from curvegan.packed import launch

        self.check()
        return launch(self, job_overrides, initial_job_idx)


def whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


class PackedSlurmLauncher(PackedLauncher):
    """`hydra/launcher=packed_slurm`: every group of the packed launcher is one SLURM job (curvegan.packed_slurm)."""

    def __init__(self, max_members: int = 4096, **slurm: Any) -> None:
        super().__init__(max_members)
        self.slurm = slurm

    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[JobReturn]:
        from functools import partial

        from curvegan.packed import launch
        from curvegan.packed_slurm import on_slurm

        self.check()
        return launch(self, job_overrides, initial_job_idx, run_groups=partial(on_slurm, settings=self.slurm))
