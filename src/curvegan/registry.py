"""What a config node may build, and building it without running code that a file names.

A checkpoint records the model it holds as config nodes (`{"_target_": "curvegan.families.ring.Ring", ...}`),
and a saved config does the same. Hydra's `instantiate` would import whatever module such a node names and call
whatever it finds there, nested nodes included (its blocklist stops `os.system`, not `pathlib.Path.write_text`):
a crafted file could run code. So nothing curvegan reads back from a file is instantiated. A node is built here:

- its `_target_` is looked up, never imported, among the classes registered for its kind (`KINDS`): curvegan's
  own families, variants, objectives, networks and models, found in their packages, and the classes a user
  registers in code (`register`, or by naming them in the config of a run of this process);
- every other entry must be a key the class declares (curvegan.keys), and its value must meet the key's rule;
  a nested node is allowed only where the key's rule says it holds one, and it is built the same way;
- anything else is refused with a `NotBuildable`: one line naming the node, before anything is called.

A config given on the command line is the user's own: `curvegan.config` imports the classes it names, checks
each is of its kind (a `model.generator._target_` must name a network) and registers it for this process.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from curvegan.keys import Declared, complete_with, keys_of, target

EXTENSIONS = {  # config group: the package (each module a candidate) or module holding its options
    "data": "curvegan.families",
    "model/variant": "curvegan.variants",
    "objective": "curvegan.objectives",
}


def extensions(group: str) -> Iterator[type]:
    """Every class of a group's package or module that names itself (`name` in its own namespace)."""
    root = importlib.import_module(EXTENSIONS[group])
    modules = [root]
    if hasattr(root, "__path__"):
        modules += [importlib.import_module(f"{root.__name__}.{m.name}") for m in pkgutil.iter_modules(root.__path__)]
    seen = set()
    for module in modules:
        for value in vars(module).values():
            if isinstance(value, type) and "name" in value.__dict__ and value.__module__ == module.__name__:
                if value not in seen:
                    seen.add(value)
                    yield value


def named(group: str) -> dict[str, type]:
    """The options of an extension point, by name: `named("objective")["hinge"]` is objective=hinge's class."""
    return {cls.name: cls for cls in extensions(group)}


def known_metrics() -> dict:
    """Every metric curvegan's own families, variants and generic metrics declare (declared as their modules
    are imported)."""
    from curvegan import generic  # noqa: F401  (declares the generic metrics)
    from curvegan.metrics import METRICS

    for group in ("data", "model/variant"):
        list(extensions(group))
    return METRICS


class NotBuildable(ValueError):
    """A node that names a class curvegan may not build, or keys its class does not take. The message is one line
    naming the node."""


@dataclass(frozen=True)
class Kind:
    """One kind of part: what it is called in messages, the test a class of that kind passes, and where
    curvegan's own classes of it are found: an extension point's group (curvegan.keys.EXTENSIONS), a module
    (its classes that declare keys), or None (they register themselves)."""

    what: str
    test: Callable[[type], bool]
    group: str | None = None
    module: str | None = None


def _family(cls: type) -> bool:
    from curvegan.families import Family

    return issubclass(cls, Family)


def _variant(cls: type) -> bool:
    from curvegan.variants import Variant

    return issubclass(cls, Variant)


def _objective(cls: type) -> bool:
    from curvegan.objectives import Objective

    return issubclass(cls, Objective)


def _network(cls: type) -> bool:
    import torch

    return issubclass(cls, torch.nn.Module) and list(inspect.signature(cls).parameters)[:1] == ["members"]


def _model(cls: type) -> bool:
    import lightning as L

    return issubclass(cls, L.LightningModule) and callable(getattr(cls, "member_state_dict", None))


KINDS = {
    "family": Kind("a data family (curvegan.families)", _family, group="data"),
    "variant": Kind("a variant (curvegan.variants)", _variant, group="model/variant"),
    "objective": Kind("an objective (curvegan.objectives)", _objective, group="objective"),
    "network": Kind("a network (curvegan.nets: members, inputs, outputs)", _network, module="curvegan.nets"),
    "model": Kind("a curvegan model (curvegan.gan.GAN)", _model),  # curvegan.gan registers GAN
}

_registered: dict[str, dict[str, type]] = {kind: {} for kind in KINDS}
_found: dict[str, dict[str, type]] = {}


def _own(kind: str) -> dict[str, type]:
    """curvegan's own classes of a kind: an extension point's named classes, or a module's classes that declare
    their keys."""
    import importlib

    if kind not in _found:
        k = KINDS[kind]
        if k.group is not None:
            found = list(extensions(k.group))
        elif k.module is not None:
            module = importlib.import_module(k.module)
            found = [v for v in vars(module).values() if isinstance(v, type) and v.__module__ == module.__name__]
            found = [v for v in found if keys_of(v) and k.test(v)]
        else:
            found = []
        _found[kind] = {target(cls): cls for cls in found}
    return _found[kind]


def classes(kind: str) -> dict[str, type]:
    """Every class a node of this kind may name: {its `_target_`: the class}."""
    return {**_own(kind), **_registered[kind]}


def register(kind: str, cls: type) -> type:
    """Let nodes of `kind` (family, variant, objective, network, model) name `cls`: a class of your own, for
    loading its checkpoints. Refused (ValueError) if it is not of that kind. Returns `cls` (a decorator too)."""
    if kind not in KINDS:
        raise ValueError(f"kind={kind}: must be one of {', '.join(KINDS)}")
    if not (isinstance(cls, type) and KINDS[kind].test(cls)):
        raise ValueError(f"{target(cls) if isinstance(cls, type) else cls!r}: not {KINDS[kind].what}")
    _registered[kind][target(cls)] = cls
    return cls


def resolve(kind: str, name: Any, where: str) -> type:
    """The class a node's `_target_` names, looked up (nothing is imported) among the registered ones."""
    known = classes(kind)
    if isinstance(name, str) and name in known:
        return known[name]
    shown = sorted(n for n in known if not n.startswith("_"))
    raise NotBuildable(
        f"{where}._target_={name}: not {KINDS[kind].what} curvegan knows; one of {', '.join(shown)}"
        " (a class of your own: curvegan.registry.register)"
    )


def _plain(value: Any) -> bool:
    """Data only: numbers, strings, booleans, None, and lists and dicts of them (no node)."""
    if isinstance(value, dict):
        return "_target_" not in value and all(isinstance(k, str) and _plain(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return all(_plain(v) for v in value)
    return value is None or isinstance(value, bool | int | float | str)


def checked(cls: type, values: dict, where: str) -> dict:
    """`values` as `cls` takes them, every one checked: a key `cls` declares, meeting its rule; a nested node
    only where the key's rule holds one of a kind (then built as that kind); otherwise plain data."""
    declared = keys_of(cls) or signature_keys(cls)
    out = {}
    for name, value in values.items():
        dotted = f"{where}.{name}"
        d = declared.get(name)
        if d is None:
            known = ", ".join(sorted(declared)) or "none"
            raise NotBuildable(f"{dotted}: not a key of {target(cls)} (its keys: {known})")
        kind = getattr(d.rule, "kind", None)
        if kind is not None and isinstance(value, dict):
            value = complete_node(kind, value, dotted)  # its class and keys checked; its owner builds it
        elif kind is not None and of_kind(kind, type(value)):
            pass  # the part itself, given in code
        elif not _plain(value):
            raise NotBuildable(f"{dotted}: must be plain data (numbers, strings, lists), not a config node")
        elif d.keys is not None:
            value = checked_group(d.keys, value, dotted)
        elif d.rule is not None and (allowed := d.rule(value)) is not None:
            raise NotBuildable(f"{dotted}={value}: must be {allowed}")
        out[name] = value
    return out


def signature_keys(cls: type) -> dict[str, Declared]:
    """The keywords of a class that declares no keys (a user's own), taking plain data only."""
    skip = ("members", "in_features", "out_features")
    parameters = inspect.signature(cls).parameters.values()
    return {
        p.name: Declared(p.name, None, None, "")
        for p in parameters
        if p.kind is p.KEYWORD_ONLY or (p.kind is p.POSITIONAL_OR_KEYWORD and p.name not in skip)
    }


def checked_group(keys: dict, value: Any, where: str) -> dict:
    if not isinstance(value, dict):
        raise NotBuildable(f"{where}={value}: must be a group of keys ({', '.join(keys)})")
    for name, v in value.items():
        d = keys.get(name)
        if d is None:
            raise NotBuildable(f"{where}.{name}: not a key of {where} (its keys: {', '.join(keys)})")
        if d.rule is not None and (allowed := d.rule(v)) is not None:
            raise NotBuildable(f"{where}.{name}={v}: must be {allowed}")
    return value


def complete_node(kind: str, node: Any, where: str) -> dict:
    """A node of `kind` with every key its class declares (the given values, checked, over the defaults)."""
    if not isinstance(node, dict) or "_target_" not in node:
        raise NotBuildable(f"{where}: must be a config node of {KINDS[kind].what} (a _target_ and its keys)")
    cls = resolve(kind, node["_target_"], where)
    given = checked(cls, {k: v for k, v in node.items() if k != "_target_"}, where)
    return complete_with(cls, given)


def build(kind: str, node: Any, where: str, *args: Any) -> Any:
    """The object a node of `kind` describes: its class (registered) called with `args` and its checked keys."""
    filled = complete_node(kind, node, where)
    cls = resolve(kind, filled.pop("_target_"), where)
    return cls(*args, **filled)


def of_kind(kind: str, cls: type) -> bool:
    return isinstance(cls, type) and KINDS[kind].test(cls)


def options_line(group: str, leave_out: tuple[str, ...] = ("plain",)) -> str:
    """The registered options of an extension point, comma-separated (for a sweep over all of them)."""
    return ",".join(sorted(name for name in named(group) if name not in leave_out))


if __name__ == "__main__":  # `python -m curvegan.registry objective`: bce,hinge,lsgan,minimax,wgan_gp
    import sys

    print(options_line(sys.argv[1]))
