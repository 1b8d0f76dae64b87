"""Config keys, each declared once by the class that uses it: a dataclass field with its default, the rule its
value must meet and a line of help (`key`). Everything else is derived from those declarations: the Hydra
schemas that give each YAML file its defaults and types (curvegan.schemas), the validation that refuses a bad
value in one line (curvegan.config), the table of the refusal test, and docs/config.md (`python -m
curvegan.schemas`). This module is the vocabulary every other one uses, and imports nothing of curvegan.

A class declares its keys by being a dataclass of them (a family, a variant, an objective) or by a nested
dataclass `Config` (a LightningModule, a network, a callback); `keys_of(cls)` finds them either way. The
extension points are found by their module (curvegan.registry.extensions): every module in curvegan/families/
and curvegan/variants/, and every class of curvegan/objectives.py, that has a `name` of its own is registered
as `<group>/<name>_schema` (curvegan.schemas).
"""

from __future__ import annotations

import copy
import dataclasses
import math
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

SEED_MAX = 2**32 - 1  # numpy's seeding, which Lightning's seed_everything uses, takes [0, 2³² − 1]


@dataclass(frozen=True)
class Rule:
    """What a value must be: `check(value)` is true when it can be used, `allowed` says what that is, and `bad` is
    a value the rule refuses (the refusal test tries it)."""

    check: Callable[[Any], bool]
    allowed: str
    bad: Any
    doc: str | None = None  # what docs/config.md says, where `allowed` depends on the machine
    kind: str | None = None  # a key that holds a config node: the kind of part it builds (curvegan.registry)
    over: Any = None  # a value exactly past the rule's upper bound, which it refuses (the refusal test tries it)
    each: Rule | None = None  # a member-wise key's rule for one member's value (`member_wise`)

    def per_member(self, value: Any) -> bool:
        """Whether `value` of a member-wise key is a list of one value per member (not one value for all)."""
        return self.each is not None and self.each(value) is not None and self(value) is None

    def __call__(self, value: Any) -> str | None:
        """None when the value is allowed, else what is allowed."""
        try:
            ok = bool(self.check(value))
        except (TypeError, ValueError, AttributeError):
            ok = False
        return None if ok else self.allowed


def _int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def _list(v: Any) -> bool:
    from omegaconf import ListConfig

    return isinstance(v, list | tuple | ListConfig)


def whole(low: int = 1, high: int | None = None) -> Rule:
    allowed = f"a whole number ≥ {low}" if high is None else f"a whole number in [{low}, {high}]"
    return Rule(
        lambda v: _int(v) and v >= low and (high is None or v <= high),
        allowed,
        low - 1,
        over=None if high is None else high + 1,
    )


def number(above: float | None = None, at_least: float | None = None, below: float | None = None) -> Rule:
    """A finite number, > above, ≥ at_least, < below (each bound optional)."""
    bounds = [f"> {above:g}" if above is not None else "", f"≥ {at_least:g}" if at_least is not None else ""]
    bounds.append(f"< {below:g}" if below is not None else "")
    allowed = "a finite number " + " and ".join(b for b in bounds if b) if any(bounds) else "a finite number"
    bad = (
        above if above is not None else at_least - 1 if at_least is not None else below if below is not None else "inf"
    )
    return Rule(
        lambda v: (
            _number(v)
            and (above is None or v > above)
            and (at_least is None or v >= at_least)
            and (below is None or v < below)
        ),
        allowed,
        bad,
        over=below,
    )


def choice(*options: Any) -> Rule:
    written = ("null" if o is None else str(o).lower() if isinstance(o, bool) else str(o) for o in options)
    shown = ", ".join(dict.fromkeys(written))  # as typed, each once (precision takes 32 and "32" alike)
    return Rule(lambda v: any(type(o) is type(v) and o == v for o in options), f"one of {shown}", "nope")


def whole_list(low: int = 1) -> Rule:
    """A non-empty list of whole numbers, each ≥ low."""
    return Rule(
        lambda v: _list(v) and len(v) >= 1 and all(_int(x) and x >= low for x in v),
        f"a list of whole numbers, each ≥ {low}",
        [low - 1],
    )


def optional(rule: Rule) -> Rule:
    """null, or what `rule` allows."""
    return Rule(lambda v: v is None or rule(v) is None, f"null or {rule.allowed}", rule.bad, over=rule.over)


def either(first: Rule, second: Rule) -> Rule:
    allowed = f"{first.allowed} or {second.allowed}"
    return Rule(lambda v: first(v) is None or second(v) is None, allowed, first.bad, over=first.over or second.over)


BOOLEAN = Rule(lambda v: isinstance(v, bool), "true or false", "maybe")
TEXT = Rule(lambda v: isinstance(v, str) and v != "", "a non-empty string", "")
SEED = whole(0, SEED_MAX)
WIDTHS = Rule(
    lambda v: _list(v) and all(_int(w) and w >= 1 for w in v),
    "a list of layer widths, each a whole number ≥ 1 (an empty list: no hidden layer)",
    [32, 0],
)


def numbers(length: int | None = None, at_least: int = 1, low: float = -math.inf, below: float = math.inf) -> Rule:
    """A list of finite numbers in [low, below): exactly `length` of them, or at least `at_least`."""
    size = f"{length}" if length is not None else f"{at_least} or more"
    span = "" if low == -math.inf and below == math.inf else f" in [{low:g}, {below:g})"
    return Rule(
        lambda v: (
            _list(v)
            and (len(v) == length if length is not None else len(v) >= at_least)
            and all(_number(x) and low <= x < below for x in v)
        ),
        f"a list of {size} finite numbers{span}",
        [],
        over=None if below == math.inf else [below] * (length or at_least),
    )


def member_wise(rule: Rule) -> Rule:
    """What `rule` allows, or a list of such values, one per member of the ensemble (ensemble.size of them)."""

    def check(v: Any) -> bool:
        if rule(v) is None:
            return True
        return _list(v) and len(v) >= 1 and all(rule(x) is None for x in v)

    return Rule(check, f"{rule.allowed}, or a list of those, one per member", rule.bad, over=rule.over, each=rule)


def key(default: Any, rule: Rule, help: str, members: bool = False) -> Any:
    """A declared config key: its default, its rule and one line of help (a dataclass field). `members`: a
    member-wise key, whose value may differ between the members of an ensemble without changing a tensor's shape
    (a learning rate, a penalty's weight): it then takes a list, one value per member."""
    if members:
        rule = member_wise(rule)
    metadata = {"rule": rule, "help": help, "members": members}
    if isinstance(default, list | dict | tuple):
        value = list(default) if isinstance(default, tuple) else default
        return field(default_factory=lambda: copy.deepcopy(value), metadata=metadata)
    return field(default=default, metadata=metadata)


def owner(cls: type) -> type | None:
    """The dataclass that declares the keys of `cls`: its nested `Config`, or itself."""
    declared = getattr(cls, "Config", None)
    if declared is None and dataclasses.is_dataclass(cls):
        declared = cls
    return declared


@dataclass(frozen=True)
class Declared:
    """One declared key: its default, its rule and help, or (`keys`) a nested group of keys."""

    name: str
    default: Any
    rule: Rule | None
    help: str
    keys: dict[str, Declared] | None = None
    members: bool = False  # a member-wise key: a list gives each member of the ensemble its own value


def keys_of(cls: type) -> dict[str, Declared]:
    """The keys `cls` declares, by name; a nested dataclass of keys (ensemble, evaluation) is one group."""
    declared = owner(cls)
    if declared is None:
        return {}
    hints = typing.get_type_hints(declared)
    keys = {}
    for f in dataclasses.fields(declared):
        if f.name.startswith("_"):
            continue
        default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
        nested = hints.get(f.name)
        if dataclasses.is_dataclass(nested):
            keys[f.name] = Declared(f.name, dataclasses.asdict(default), None, "", keys_of(nested))
        else:
            meta = f.metadata
            keys[f.name] = Declared(
                f.name, default, meta.get("rule"), meta.get("help", ""), None, meta.get("members", False)
            )
    return keys


def defaults(cls: type) -> dict[str, Any]:
    """The declared keys of `cls` with their defaults, as plain values."""
    return {name: copy.deepcopy(d.default) for name, d in keys_of(cls).items()}


def target(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def node(cls: type, **overrides: Any) -> dict:
    """A config node that builds `cls`: its `_target_` and its declared keys at their defaults (or as given)."""
    return {"_target_": target(cls), **defaults(cls), **overrides}


def complete_with(cls: type, given: dict) -> dict:
    """The config node of `cls` with every key it declares: the given values over the defaults."""
    return {"_target_": target(cls), **defaults(cls), **given}


def a_node(kind: str, what: str) -> Rule:
    """A key that holds a config node of a kind of part (curvegan.registry builds it): a _target_ and its keys."""
    return Rule(lambda v: isinstance(v, dict) and "_target_" in v, f"a config node of {what}", "none", kind=kind)


def schema(cls: type, target_path: str | None = None) -> type:
    """The Hydra schema of `cls`: its declared keys (types and defaults) and `_target_` (the class itself, or
    `target_path` for a class whose keys curvegan declares apart), so a YAML file that starts from it states
    only what differs."""
    if target_path == "":
        return owner(cls)
    first = dataclasses.make_dataclass("Target", [("_target_", str, field(default=target_path or target(cls)))])
    return dataclasses.make_dataclass(f"{cls.__name__}Schema", [], bases=(owner(cls), first))  # _target_ first


def settings(cls: type, given: dict) -> Any:
    """`cls`'s declared keys as its Config: the given values over the defaults (an unknown key: TypeError)."""
    return owner(cls)(**given)
