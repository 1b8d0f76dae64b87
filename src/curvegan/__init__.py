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


# glibc's mallopt parameters (malloc.h)
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
MMAP_THRESHOLD_MAX = 32 * 2**20  # the largest glibc accepts on 64-bit systems
TRIM_THRESHOLD = 2**30


def reuse_freed_memory() -> bool:
    """Make glibc's malloc keep the memory a training step frees for the next step's tensors, rather than hand it
    back to the system and take it again, a page fault per page. Returns whether it could (False, having done
    nothing, where the C library has no `mallopt`: macOS, musl).

    By default glibc serves a block above its mmap threshold (128 KiB at first, raised to the largest such block
    freed since) with a fresh mapping, and gives the top of its heap back once more than twice that threshold lies
    free there. An ensemble's activations are made and freed at every step, 1 MiB a tensor for 256 members, and
    their pages kept coming back from the system: 3 epochs of 256 members on one thread made 90,000 to 200,000
    page faults and took 4.38 s in `fit`, against about 19,000 faults and 3.92 s with these settings (medians of
    3 runs in turn). Blocks up to 32 MiB now come from the heap, and the heap's top is given back only past 1 GiB free:
    a process holds on to the memory its largest step needed, which its peak needed anyway."""
    import ctypes

    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    # the mmap threshold first: setting either fixes both, and a trim threshold alone would leave every block
    # above 128 KiB to a fresh mapping (every tensor of a large ensemble faulted in at every step)
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_MAX)) and bool(mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))


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
