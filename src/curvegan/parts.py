"""What a model is built from, as its checkpoint records it: the family, the objective, the networks and the
variant as config nodes (each checked and filled in by curvegan.registry), and the model's own settings checked
against their rules. A part given as an object (in code) is recorded as its node, its class registered."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from curvegan import registry
from curvegan.keys import SEED, node, settings, whole

PARTS = {"generator": "network", "discriminator": "network", "variant": "variant"}  # model keys that hold a part
# The entries of the state dict that carry the member axis first: every network's weights, and the per-member
# divergence record. Everything else (the figures' fixed inputs) is shared.
MEMBER_AXIS = ("generator.", "discriminator.", "generator_ema.", "diverged_at")


def as_node(kind: str, value: Any, where: str) -> dict:
    """A config node for a part given as one (its class looked up among the registered, its keys checked and
    filled in with the defaults), or as the object itself (given in code: its class is registered)."""
    if isinstance(value, dict):
        return registry.complete_node(kind, value, where)
    return node(registry.register(kind, type(value)), **asdict(value))


def hyperparameters(cls: type, family: Any, members: Any, seed: Any, objective: Any, config: dict) -> dict:
    """The model's hyperparameters: every value checked (registry.NotBuildable names the first that is not
    allowed), the parts as complete nodes; the seed's family and objective where none is given."""
    from curvegan.families.quadratic import Quadratic
    from curvegan.objectives import NonSaturatingBCE

    for name, value, rule in (("members", members, whole(1)), ("seed", seed, SEED)):
        if (allowed := rule(value)) is not None:
            raise registry.NotBuildable(f"{name}={value}: must be {allowed}")
    c = settings(cls, registry.checked(cls, {k: v for k, v in config.items() if k not in PARTS}, "model"))
    return {
        "family": as_node("family", family if family is not None else Quadratic(), "data"),
        "members": members,
        "seed": seed,
        "objective": as_node("objective", objective if objective is not None else NonSaturatingBCE(), "objective"),
        **asdict(c),
        **{name: as_node(kind, config.get(name, getattr(c, name)), f"model.{name}") for name, kind in PARTS.items()},
    }


def member_state_dict(state_dict: dict, member: int) -> dict:
    """The state of one member, as a one-member GAN of the same settings holds it."""
    return {
        key: value[member : member + 1] if key.startswith(MEMBER_AXIS) else value for key, value in state_dict.items()
    }


def check_settings(node: Any, cfg: Any) -> tuple[str, Any, str] | None:
    """The model's keys against the rest of the config: (key, value, allowed) of the first that cannot work."""
    pack, batch = node.pack, cfg.data.batch_size
    if batch % pack:
        return "data.batch_size", batch, f"a multiple of model.pack ({pack}): D scores the batch in packs of that many"
    precision = cfg.trainer.get("precision")
    if precision in ("16-mixed", "16") and node.grad_clip is not None:
        why = "the gradients are clipped before 16-bit loss scaling is undone"
        return "trainer.precision", precision, f"bf16-mixed or 32-true with model.grad_clip: {why}"
    return None
