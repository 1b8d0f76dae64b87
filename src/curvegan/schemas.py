"""Hydra's schemas and docs/config.md, both made from the keys' declarations: the module above everything it
registers (the extension points' classes, the model, the callbacks, Lightning's classes as curvegan configures
them), so that nothing below it imports it.

`register_schemas()` puts every schema in Hydra's ConfigStore (the command lines call it first; so must code that
composes the config with Hydra's compose API); `python -m curvegan.schemas > docs/config.md` writes the reference
of every key.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import field
from typing import Any

from curvegan.keys import Declared, keys_of, schema
from curvegan.registry import EXTENSIONS, extensions


def fixed_schemas() -> Iterator[tuple[str | None, str, type, str | None]]:
    """(group, name, declaring class, _target_ or None for the class's own) of every schema that is not an
    extension point's."""
    from curvegan import callbacks, gan
    from curvegan.config import GROUPS_OF_TARGETS, Run
    from curvegan.lightning_keys import external, trainer_keys

    groups = [
        (name, Any, field(default=None)) for name in ("data", "model", "objective", "trainer", *GROUPS_OF_TARGETS)
    ]
    yield None, "run_schema", dataclasses.make_dataclass("Run", groups, bases=(Run,)), ""
    yield "model", "gan_schema", gan.GAN, None
    yield "trainer", "trainer_schema", trainer_keys(), "lightning.pytorch.Trainer"
    for name, cls in callbacks.CALLBACKS.items():
        yield "callbacks", f"{name}_schema", cls, None
    for path, declared in external().items():
        if declared is not trainer_keys():
            yield "logger", f"{path.rsplit('.', 1)[1].removesuffix('Logger').lower()}_schema", declared, path


def register_schemas() -> None:
    """Put every schema in Hydra's ConfigStore: the extension points' (`<group>/<name>_schema`) and the fixed
    ones (`fixed_schemas`); and curvegan's resolvers in OmegaConf."""
    from hydra.core.config_store import ConfigStore
    from omegaconf import OmegaConf

    from curvegan import import_lightning

    import_lightning()  # the fixed schemas' classes (the model, the callbacks) import it: its lean import first
    from curvegan.config import RESOLVERS

    for name, resolver in RESOLVERS.items():
        if not OmegaConf.has_resolver(name):
            OmegaConf.register_new_resolver(name, resolver)
    store = ConfigStore.instance()
    for group in EXTENSIONS:
        for cls in extensions(group):
            store.store(group=group, name=f"{cls.name}_schema", node=schema(cls))
    for group, name, cls, target_path in fixed_schemas():
        store.store(group=group, name=name, node=schema(cls, target_path))


# --- the reference of every key: docs/config.md --------------------------------------------------------------


def reference() -> str:
    """Every key of every group, with its default, what it allows and what it does, as markdown (docs/config.md)."""
    from curvegan import callbacks, config, lightning_keys, nets, sample
    from curvegan.gan import GAN

    sections = [("The run (configs/train.yaml)", "", config.Run)]
    sections += [(f"data={cls.name}", "data.", cls) for cls in extensions("data")]
    sections += [("model (configs/model/mlp.yaml)", "model.", GAN)]
    sections += [
        (f"model.{net}: {nets.EnsembleMLP.__name__}", f"model.{net}.", nets.EnsembleMLP)
        for net in ("generator", "discriminator")
    ]
    sections += [(f"model.variant={cls.name}", "model.variant.", cls) for cls in extensions("model/variant")]
    sections += [(f"objective={cls.name}", "objective.", cls) for cls in extensions("objective")]
    sections += [("trainer (lightning.pytorch.Trainer)", "trainer.", lightning_keys.trainer_keys())]
    sections += [(f"callbacks.{name}", f"callbacks.{name}.", cls) for name, cls in callbacks.CALLBACKS.items()]
    sections += [
        (f"logger.{path.rsplit('.', 1)[1].removesuffix('Logger').lower()} ({path})", "", keys)
        for path, keys in lightning_keys.external().items()
        if keys is not lightning_keys.trainer_keys()
    ]
    sections += [("python -m curvegan.sample", "", sample.SampleKeys)]
    lines = [
        "# Every config key",
        "",
        "Made from the keys' declarations by `python -m curvegan.schemas > docs/config.md` (a test checks it is",
        "current). Each key is declared once, by the class that uses it: its default, the rule a value must meet (a",
        "value outside it is refused in one line before anything is written) and what it does.",
    ]
    for title, prefix, cls in sections:
        if title.startswith("logger."):
            prefix = title.split(" ")[0] + "."
        lines += ["", f"## {title}", "", "| key | default | allowed | what it does |", "| --- | --- | --- | --- |"]
        lines += [_row(prefix, name, declared) for name, declared in keys_of(cls).items()]
    return "\n".join(lines) + "\n"


def _row(prefix: str, name: str, declared: Declared) -> str:
    if declared.keys is not None:
        return "\n".join(_row(f"{prefix}{name}.", n, d) for n, d in declared.keys.items())
    default = declared.default
    if isinstance(default, dict) and "_target_" in default:
        default = default["_target_"].rsplit(".", 1)[1]
    shown = "null" if default is None else str(default).lower() if isinstance(default, bool) else str(default)
    rule = declared.rule
    allowed = (rule.doc or rule.allowed) if rule else ""
    return f"| `{prefix}{name}` | `{shown}` | {allowed} | {declared.help} |"


if __name__ == "__main__":
    print(reference(), end="")
