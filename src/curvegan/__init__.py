"""curvegan: a classic GAN that learns to draw quadratic curves (PyTorch Lightning + Hydra)."""

import importlib.util
import sys
import types


def import_lightning() -> None:
    """Import Lightning without importing scipy.signal, when nothing has imported it yet.

    torchmetrics (which Lightning imports) imports scipy.signal whenever scipy is installed, only to add an
    alias for one window function its audio metrics use. That is 0.9 of Lightning's 3.7 s of import here
    (about 3 s on slower machines), paid by every run and every sweep job, and scipy is installed only for
    the Optuna sweeper. So while Lightning imports, `scipy.signal` is a stand-in that already has the alias;
    afterwards the stand-in is gone, and `import scipy.signal` (by Optuna, or by you) loads the real module.
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
    finally:
        del sys.modules["scipy.signal"], scipy.signal
