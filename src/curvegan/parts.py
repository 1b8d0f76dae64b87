"""What a model is built from, as its checkpoint records it: the family, the objective, the networks and the
variant as config nodes (each checked and filled in by curvegan.registry), and the model's own settings checked
against their rules. A part given as an object (in code) is recorded as its node, its class registered."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from curvegan import registry
from curvegan.keys import SEED, member_wise, node, optional, settings, whole, whole_list

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


def hyperparameters(cls: type, family: Any, members: Any, seed: Any, objective: Any, blocks: Any, config: dict) -> dict:
    """The model's hyperparameters: every value checked (registry.NotBuildable names the first that is not
    allowed), the parts as complete nodes; the seed's family and objective where none is given."""
    from curvegan.blocks import wrong_blocks
    from curvegan.families.quadratic import Quadratic
    from curvegan.objectives import NonSaturatingBCE

    for name, value, rule in (
        ("members", members, whole(1)),
        ("seed", seed, member_wise(SEED)),
        ("blocks", blocks, BLOCKS),
    ):
        if (allowed := rule(value)) is not None:
            raise registry.NotBuildable(f"{name}={value}: must be {allowed}")
    seed, blocks = (list(seed) if isinstance(seed, list | tuple) else seed), (None if blocks is None else list(blocks))
    if isinstance(seed, list) and len(seed) != members:
        raise registry.NotBuildable(f"seed={seed}: must be one seed, or one for each of the {members} members")
    if (wrong := wrong_blocks(seed, members, blocks)) is not None:
        raise registry.NotBuildable(f"{wrong[0]}={wrong[1]}: must be {wrong[2]}")
    c = settings(cls, registry.checked(cls, {k: v for k, v in config.items() if k not in PARTS}, "model"))
    return {
        "family": as_node("family", family if family is not None else Quadratic(), "data"),
        "members": members,
        "seed": seed,
        "blocks": blocks,
        "objective": as_node("objective", objective if objective is not None else NonSaturatingBCE(), "objective"),
        **asdict(c),
        **{name: as_node(kind, config.get(name, getattr(c, name)), f"model.{name}") for name, kind in PARTS.items()},
    }


BLOCKS = optional(whole_list(1))


def initialise_blocks(gan, runs: list, g_inputs: int, d_inputs: int, d_outputs: int) -> None:
    """Each block's weights as a run of its seed and size makes them alone: the global generator seeded as
    `curvegan.train` seeds it, then G and D built for the block's members (in the model's order)."""
    import torch

    hp = gan.hparams
    for seed, members in runs:
        torch.manual_seed(seed)
        size = members.stop - members.start
        g = registry.build("network", hp.generator, "model.generator", size, g_inputs, gan.family.dim)
        d = registry.build("network", hp.discriminator, "model.discriminator", size, d_inputs, d_outputs)
        with torch.no_grad():
            for whole_net, block in ((gan.generator, g), (gan.discriminator, d)):
                for (_, target), (_, value) in zip(
                    whole_net.state_dict().items(), block.state_dict().items(), strict=True
                ):
                    target[members] = value


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
    if node.get("simultaneous") and node.d_steps != 1:
        return (
            "model.d_steps",
            node.d_steps,
            "1 with model.simultaneous (one D step and one G step from each forward pass)",
        )
    precision = cfg.trainer.get("precision")
    if precision in ("16-mixed", "16") and node.grad_clip is not None:
        why = "the gradients are clipped before 16-bit loss scaling is undone"
        return "trainer.precision", precision, f"bf16-mixed or 32-true with model.grad_clip: {why}"
    return None
