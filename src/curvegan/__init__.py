"""curvegan: a test bed for GAN ideas, with data whose truth is known (PyTorch Lightning + Hydra)."""

import importlib.util
import signal
import sys
import types

LIGHTNING_PACKAGES = ("lightning", "lightning_fabric", "pytorch_lightning", "torchmetrics")


def import_lightning() -> None:
    """Import Lightning without importing scipy.signal, when nothing has imported it yet; or plainly.

    torchmetrics (which Lightning imports) imports scipy.signal whenever scipy is installed, only to add an alias
    for one window function its audio metrics use. That is about a fifth of Lightning's import (1.2 of 6 s on the
    2-core machine the README's numbers come from), paid by every run and sweep job, and scipy is installed only
    for the Optuna sweeper. So while Lightning imports, `scipy.signal` is a stand-in that already has the alias;
    afterwards the stand-in is gone, and `import scipy.signal` (by Optuna, or by you) loads the real module.

    If the stand-in is ever not enough (a torchmetrics that reads more of scipy.signal), anything the attempt
    raises makes it forget what it imported and import Lightning plainly: slower, never broken.
    """
    if "lightning" in sys.modules or "scipy.signal" in sys.modules or importlib.util.find_spec("scipy") is None:
        import lightning  # noqa: F401

        return
    import scipy  # the package alone takes milliseconds

    stand_in = types.ModuleType("scipy.signal")
    stand_in.hamming = None
    sys.modules["scipy.signal"], scipy.signal = stand_in, stand_in
    try:
        import lightning  # noqa: F401

        return
    except Exception:
        for name in [m for m in sys.modules if m.split(".")[0] in LIGHTNING_PACKAGES]:
            del sys.modules[name]
    finally:
        del sys.modules["scipy.signal"], scipy.signal
    import lightning  # noqa: F401


class Interrupted(BaseException):
    """The run was stopped by a signal, after writing a checkpoint (`ckpt_path`) or outside training. Like
    KeyboardInterrupt, it is not an Exception: nothing that handles errors (a fallback import) may swallow it."""

    def __init__(self, signum: int, ckpt_path: str | None = None, g_updates: int | None = None):
        where = f" after G update {g_updates}; checkpoint: {ckpt_path}" if ckpt_path else ""
        super().__init__(f"stopped by {signal.Signals(signum).name}{where}")
        self.signum, self.ckpt_path = signum, ckpt_path
        self.resume: str | None = None  # the overrides that resume the run, where there is one to resume


def in_slurm_batch_job() -> bool:
    """Whether this process is a SLURM batch job's, as Lightning's SLURMEnvironment.detect decides it (Lightning
    then requeues the job on SIGUSR1)."""
    import os

    return "SLURM_NTASKS" in os.environ and os.environ.get("SLURM_JOB_NAME") not in ("bash", "interactive")


def stop_signals() -> tuple[signal.Signals, ...]:
    """The signals that stop a run as SIGTERM does (a checkpoint, one line, exit 128 + the signal): SIGTERM and
    Ctrl-C always; SIGHUP (a closed terminal), SIGUSR1 and SIGUSR2 (SLURM's --signal, submitit's timeout) where
    nothing else handles them: not SIGUSR1 in a SLURM batch job (Lightning requeues the job on it), nor a signal
    whose handler someone else installed (submitit's, in its jobs)."""
    taken = [signal.SIGTERM, signal.SIGINT]
    for signum in (signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2):
        if signum == signal.SIGUSR1 and in_slurm_batch_job():
            continue
        handler = signal.getsignal(signum)
        if handler in (signal.SIG_DFL, None) or getattr(handler, "curvegan_stop", False):
            taken.append(signum)
    return tuple(taken)
