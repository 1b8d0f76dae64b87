"""How curvegan refuses: a config value that cannot work is a ConfigError whose message is one line naming the
key as given, the value and what is allowed; Hydra's and OmegaConf's own multi-line errors are cut to one line."""

from __future__ import annotations

from typing import Any

from hydra.errors import CompactHydraException
from omegaconf import DictConfig, ListConfig, OmegaConf


class ConfigError(CompactHydraException):
    """A config value that cannot work. Hydra prints it as its one-line message, with no traceback."""


def refuse(key: str, value: Any, allowed: str) -> ConfigError:
    """`KEY=VALUE: must be ALLOWED`, the value as the command line writes it (null, true, false)."""
    shown = OmegaConf.to_container(value) if isinstance(value, DictConfig | ListConfig) else value
    if shown is None or isinstance(shown, bool):
        shown = "null" if shown is None else str(shown).lower()
    return ConfigError(f"{key}={shown}: must be {allowed}")


def one_line(err: BaseException) -> str:
    """Hydra's and OmegaConf's multi-line messages, cut to what names the key, the value and what is allowed."""
    parts = []
    for part in (err, err.__cause__):
        lines = []
        for line in str(part or "").splitlines():
            line = line.strip()
            if line.startswith("Config search path"):
                break
            if line and not line.startswith(("full_key", "object_type", "reference_type")):
                lines.append(line)
        if lines:
            parts.append(" ".join(lines))
    return ": ".join(parts).replace("Available options in", "available options for")


def given_keys() -> list[str]:
    """The keys the user set on the command line (empty outside Hydra)."""
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        return []
    return [o.split("=", 1)[0].lstrip("+~") for o in HydraConfig.get().overrides.task]


def check_arguments(prog: str) -> None:
    """The command line's own arguments (not its overrides) as Hydra's parser reads them, a usage error refused in
    one line and exit status 2, where argparse prints Hydra's whole usage first (`--nosuch`, `seed=1 -m seed=2`)."""
    import sys

    try:
        from hydra._internal.utils import get_args_parser  # the parser hydra.main itself uses (Hydra 1.x)
    except ImportError:  # a Hydra that keeps it elsewhere: its own usage error, as before
        return
    parser = get_args_parser()

    def error(message: str) -> None:
        print(f"{prog}: {message} (python -m {prog} --help lists the arguments)", file=sys.stderr)
        sys.exit(2)

    parser.error = error
    parser.parse_args()
