"""What a valid config is, derived from each key's one declaration (curvegan.keys).

`validate` walks the composed config: every node with a `_target_` is checked against the keys its class
declares (an unknown key, one of another family or variant, is refused, not ignored), every value against its
key's rule, then the relations between keys that the owners state (`check`) and the run's preflight (memory,
disk, the run dir, resuming: curvegan.preflight). It runs before anything is created (through
`RefuseBeforeRun`, a Hydra callback) and raises ConfigError: one line naming the key as given, the value and
what is allowed. The keys of the run itself are declared here (`Run`), and so are the keys curvegan allows for
the Lightning classes it configures (the Trainer, the loggers), whose code is not ours.
"""

from __future__ import annotations

import contextlib
import dataclasses
import inspect
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, ListConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from curvegan.errors import ConfigError, refuse
from curvegan.keys import SEED, TEXT, Declared, choice, either, key, keys_of, optional, whole, whole_list
from curvegan.lightning_keys import check_trainer

# --- the run's own keys ---------------------------------------------------------------------------------

CORES = os.cpu_count() or 1


@dataclass
class Ensemble:
    size: int = key(1, whole(1), "GANs of this setting trained at once, each with its own weights, data and noise")
    blocks: Any = key(
        None,
        optional(whole_list(1)),
        "sizes of the independent runs the members form, each as `seed=<its seed> ensemble.size=<its size>` alone"
        " (curvegan.blocks); null: each run of members sharing a seed",
    )


# From this many members, generic metrics every epoch would cost about as much as the training itself (measured for
# 64 on 2 cores: 0.94 s an evaluation, 20 s of a 50 s fit), so evaluation.generic=auto keeps them to the end.
GENERIC_EVERY_EPOCH_BELOW = 64


@dataclass
class Evaluation:
    num_samples: int = key(10000, whole(2), "samples behind 1_quality/*, metrics.json and samples.npy (a spread: 2)")
    seed: int = key(1234, SEED, "noise seed for those samples, fixed so that epochs and members compare like with like")
    generic: Any = key(
        "auto",
        choice("auto", True, False),
        "the generic metrics (Fréchet, PRDC): true: every epoch and at the end; auto: so below"
        f" {GENERIC_EVERY_EPOCH_BELOW} members, at the end only from {GENERIC_EVERY_EPOCH_BELOW}; false: never",
    )
    reference_samples: int = key(1000, whole(10), "real samples the generic metrics compare with (and generated ones)")
    reference_seed: int = key(4321, SEED, "the seed those real samples are drawn from")
    neighbours: int = key(5, whole(1), "k of precision, recall, density and coverage (Naeem et al.'s 5)")


@dataclass
class Run:
    """The run: what it trains on top of the groups, where, and from what."""

    seed: Any = key(
        0,
        SEED,
        "seeds the data stream, the training noise and the initial weights; a list: each member's (curvegan.blocks)",
        members=True,
    )
    ensemble: Ensemble = field(default_factory=Ensemble)
    run_dir: str = key("${hydra:runtime.output_dir}", TEXT, "where the run writes everything (Hydra's run dir)")
    cpu_threads: Any = key(
        "auto",
        dataclasses.replace(
            either(choice("auto", None), whole(1, CORES)),
            doc="one of auto, null or a whole number from 1 to the machine's cores",
        ),
        "torch's threads: auto is 1 below 64 members and every core from 64; more than the cores would only wait",
    )
    ckpt_path: str | None = key(
        None,
        optional(TEXT),
        "resume from this checkpoint; last: this run dir's last.ckpt; auto: last if it exists, else start afresh",
    )
    evaluation: Evaluation = field(default_factory=Evaluation)


def ensure_dir(path: str) -> str:
    """`${ensure_dir:PATH}`: PATH, created if missing (Optuna's sqlite file needs its folder first)."""
    from pathlib import Path

    Path(path).mkdir(parents=True, exist_ok=True)
    return path


def options_of(group: str) -> str:
    """`${curvegan_options:objective}`: every registered option of an extension point, comma-separated (the
    Optuna search space's objectives: a new objective joins the search by being registered)."""
    from curvegan.registry import options_line

    return options_line(group)


RESOLVERS = {"ensure_dir": ensure_dir, "curvegan_options": options_of}


# --- validation -------------------------------------------------------------------------------------------

GROUPS_OF_TARGETS = ("callbacks", "logger")  # groups that hold several nodes with a _target_ each


REQUIRED_GROUPS = ("data", "model", "objective", "trainer")  # a run needs one option of each


def options(group: str) -> list[str]:
    """The options of a config group: its YAML files in the package's configs."""
    from importlib.resources import files

    folder = files("curvegan.conf") / group
    return sorted(p.name.removesuffix(".yaml") for p in folder.iterdir() if p.name.endswith(".yaml"))


# The groups whose node builds a part of the model, and the kind of part (curvegan.registry).
GROUP_KINDS = {"data": "family", "model": "model", "objective": "objective"}


def located(path: str, target: Any, kind: str | None = None) -> type:
    """The class a `_target_` of the user's config names (imported: the command line and the config files are
    the user's own), or a ConfigError naming the key. Where the node builds a part of the model, the class must
    be of that kind (a `model.generator._target_` names a network), and it is registered for this process, so
    that the model builds it (curvegan.registry: what a checkpoint names is never imported)."""
    from hydra.utils import get_object

    from curvegan import registry

    found = None
    if isinstance(target, str) and target:
        try:
            found = get_object(target)
        except Exception:
            pass
    if not isinstance(found, type):
        raise refuse(f"{path}._target_", target, "an importable class (a dotted path)")
    if kind is not None:
        if not registry.of_kind(kind, found):
            raise refuse(f"{path}._target_", target, f"{registry.KINDS[kind].what}, not {found.__name__}")
        registry.register(kind, found)
    return found


def declared_keys(cls: type) -> dict[str, Declared] | None:
    """The keys a class takes: as declared (curvegan's classes, and Lightning's it configures), or, for a class
    curvegan does not know (a user's own), its signature's keywords (unchecked), or None if it takes any."""
    from hydra.utils import get_object

    from curvegan.lightning_keys import external

    declared = next((keys for path, keys in external().items() if get_object(path) is cls), cls)
    keys = keys_of(declared)
    if keys:
        return keys
    parameters = inspect.signature(cls).parameters.values()
    if any(p.kind is p.VAR_KEYWORD for p in parameters):
        return None
    return {p.name: Declared(p.name, None, None, "") for p in parameters if p.kind is not p.VAR_POSITIONAL}


def label(path: str, cls: type) -> str:
    """How a message names a node's class: data=ring, model.variant=infogan, objective=lsgan, or the class."""
    name = cls.__dict__.get("name")
    return f"{path}={name}" if isinstance(name, str) else getattr(cls, "what", cls.__name__)


def value_of(node: DictConfig, key: Any) -> Any:
    try:
        value = node[key]
    except OmegaConfBaseException as err:  # an interpolation of a value of the wrong type
        raise ConfigError(f"{key}: {str(err).splitlines()[0]}") from None
    return OmegaConf.to_container(value, resolve=True) if isinstance(value, ListConfig) else value


def shown(value: Any) -> Any:
    return OmegaConf.to_container(value) if isinstance(value, DictConfig) else value


def check_node(node: DictConfig, path: str, keys: dict[str, Declared] | None, what: str) -> Iterator[tuple[str, type]]:
    """Check every key of a node against its declaration; yield (path, class) of each nested node to check."""
    for name in node:
        if name in ("_target_", "_partial_"):
            continue
        dotted = f"{path}.{name}" if path else str(name)
        value = value_of(node, name)
        if keys is not None and name not in keys:
            known = ", ".join(sorted(keys)) or "none"
            raise ConfigError(f"{dotted}={shown(value)}: not a key of {what} (its keys: {known})")
        declared = keys[name] if keys is not None else None
        if isinstance(value, DictConfig) and "_target_" in value:
            kind = getattr(declared.rule, "kind", None) if declared is not None else None
            if declared is not None and kind is None:  # a node where a value belongs: Hydra would build it
                raise refuse(dotted, shown(value), declared.rule.allowed if declared.rule else "a value, not a node")
            yield dotted, located(dotted, value._target_, kind)
            continue
        if declared is None:
            continue
        if declared.keys is not None:  # a nested group of keys (ensemble, evaluation)
            if not isinstance(value, DictConfig):
                raise refuse(dotted, value, f"a group of keys ({', '.join(declared.keys)})")
            yield from check_node(value, dotted, declared.keys, what)
        elif declared.rule is not None and (allowed := declared.rule(value)) is not None:
            raise refuse(dotted, value, allowed)


def walk(cfg: DictConfig) -> Iterator[tuple[str, type, DictConfig]]:
    """(path, class, node) of every node of the config that has a `_target_`, after checking its keys."""
    run_keys = keys_of(Run)
    pending: list[tuple[str, type]] = []
    for name in cfg:
        if name == "hydra" or name in run_keys:
            continue
        value = value_of(cfg, name)
        if name in REQUIRED_GROUPS and not (isinstance(value, DictConfig) and "_target_" in value):
            raise refuse(str(name), shown(value), f"one of the {name} group's options ({', '.join(options(name))})")
        if isinstance(value, DictConfig) and "_target_" in value:
            pending.append((str(name), located(str(name), value._target_, GROUP_KINDS.get(str(name)))))
        elif name in GROUPS_OF_TARGETS and isinstance(value, DictConfig | None):
            for member in value or {}:
                child = value_of(value, member)
                if child is None:
                    continue
                if not isinstance(child, DictConfig) or "_target_" not in child:
                    raise refuse(f"{name}.{member}", shown(child), "a node with a _target_")
                pending.append((f"{name}.{member}", located(f"{name}.{member}", child._target_)))
        else:
            raise ConfigError(f"{name}={shown(value)}: not a key curvegan knows (a typo, or a key of another group?)")
    root = OmegaConf.masked_copy(cfg, [k for k in cfg if k in run_keys])
    pending += list(check_node(root, "", run_keys, "the run"))
    while pending:
        path, cls = pending.pop(0)
        node = OmegaConf.select(cfg, path)
        pending += list(check_node(node, path, declared_keys(cls), label(path, cls)))
        yield path, cls, node


def validate(cfg: DictConfig, in_group: bool = False) -> None:
    """Refuse a config that cannot train, naming the first key found: every key against its declaration, the
    relations each class states between its keys and others (its `check`), the trainer's, then the preflight.
    Imports the classes the config names (they declare the keys) and, to read a checkpoint to resume from, torch.
    `in_group`: a packed sweep's job, whose run dir its group checks (preflight.check_run_dir_is_free)."""
    from curvegan import preflight
    from curvegan.blocks import wrong_blocks
    from curvegan.memberwise import wrong_length

    for path, cls, node in list(walk(cfg)):
        check = getattr(cls, "check", None)
        values = {name: value_of(node, name) for name in node}
        problem = wrong_length(path, declared_keys(cls) or {}, values, cfg.ensemble.size)
        problem = problem or (check(node, cfg) if check is not None else None)
        if problem is not None:
            raise refuse(*problem)
    problem = wrong_length("", keys_of(Run), {"seed": value_of(cfg, "seed")}, cfg.ensemble.size)
    problem = problem or wrong_blocks(value_of(cfg, "seed"), cfg.ensemble.size, value_of(cfg.ensemble, "blocks"))
    if problem is not None:
        raise refuse(*problem)
    check_trainer(cfg)
    check_evaluation(cfg, preflight.given_keys())
    preflight.check(cfg, in_group)


def check_evaluation(cfg: DictConfig, given: list[str]) -> None:
    """The generic metrics' k nearest neighbours need more than k samples on both sides: refused naming the key the
    user gave (neighbours, num_samples or reference_samples), rather than a crash at the first epoch's end."""
    e = cfg.evaluation
    if e.generic is False or e.neighbours < min(e.num_samples, e.reference_samples):
        return
    while_on = f"while evaluation.generic is {str(e.generic).lower()}"
    for name in ("num_samples", "reference_samples"):
        if f"evaluation.{name}" in given and e[name] <= e.neighbours and "evaluation.neighbours" not in given:
            raise refuse(f"evaluation.{name}", e[name], f"more than evaluation.neighbours ({e.neighbours}) {while_on}")
    smallest = min(e.num_samples, e.reference_samples)
    raise refuse("evaluation.neighbours", e.neighbours, f"less than the samples compared ({smallest}) {while_on}")


SWEEP_DIRS = {
    "dir": "a path (Hydra makes the folder)",
    "subdir": "a path in hydra.sweep.dir, one per job (Hydra's default: ${hydra.job.num})",
}


class RefuseBeforeRun(Callback):
    """Hydra callback: validate a single run's config before Hydra creates its run dir, so a refused run leaves
    nothing behind; and a sweep's launcher and sweeper settings before the sweep writes anything
    (curvegan.sweep_plugins). (A sweep's jobs are validated as each starts; `curvegan.train.main` removes the job
    dir of a refused one.)

    Hydra turns a callback's exception into a warning and carries on, so a refusal prints its one line here
    and exits with status 2, as every refusal of `python -m curvegan.train` does."""

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        from hydra.core.hydra_config import HydraConfig

        from curvegan import preflight

        with refused_in_one_line():
            HydraConfig.instance().set_config(config)  # for `${hydra:...}` in loggers' settings; Hydra sets it again
            run_dir = str(config.hydra.run.dir)
            if not run_dir:
                raise refuse("hydra.run.dir", "", "a path (Hydra makes the folder)")
            preflight.check_run_dir(run_dir)
            task = OmegaConf.masked_copy(config, [k for k in config if k != "hydra"])
            if OmegaConf.is_interpolation(task, "run_dir"):
                task.run_dir = run_dir  # what ${hydra:runtime.output_dir} will be; Hydra has not set it yet
            validate(task)

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        from curvegan import sweep_plugins

        with refused_in_one_line():
            sweep = OmegaConf.to_container(config.hydra.sweep)  # as given (unresolved)
            for name, what in SWEEP_DIRS.items():  # Hydra would take "" as the working folder, every job's dir in it
                if not sweep[name]:
                    raise refuse(f"hydra.sweep.{name}", "", what)
            sweep_plugins.check(config.hydra)


@contextlib.contextmanager
def refused_in_one_line() -> Iterator[None]:
    """A ConfigError raised inside: its one line and exit status 2 (from a Hydra callback, where Hydra would turn
    the exception into a warning and carry on)."""
    try:
        yield
    except ConfigError as err:
        print(f"curvegan.train: {err}", file=sys.stderr)
        raise SystemExit(2) from None
