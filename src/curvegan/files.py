"""A run's files are written whole or not at all: each is written beside its final name and renamed onto it only
once complete, so a reader (a resume, the report, the sampler) never sees half a file, and a write that fails (a
full disk, a kill) leaves the previous good file in place and no partial one behind. Checkpoints too: Lightning's
own save wrote through fsspec, whose transaction moved a half-written file onto the final name when the disk
filled up (`AtomicCheckpointIO`)."""

from __future__ import annotations

import errno
import io
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic(path: Path | str) -> Iterator[Path]:
    """A temporary path beside `path` to write into; renamed onto `path` when the block ends, removed if it
    raises (an OSError then names `path`, the file the user knows, not the temporary one)."""
    path = Path(path)
    partial = path.with_name(f".{path.name}.partial")
    try:
        yield partial
        os.replace(partial, path)
    except BaseException as err:
        partial.unlink(missing_ok=True)
        if isinstance(err, OSError) and err.errno is not None:
            raise OSError(err.errno, err.strerror, str(path)) from None
        raise


def write_bytes(path: Path | str, data: bytes) -> None:
    with atomic(path) as partial:
        partial.write_bytes(data)


def disk_full(err: BaseException) -> bool:
    return isinstance(err, OSError) and err.errno in (errno.ENOSPC, errno.EDQUOT)


def checkpoint_io():
    """Lightning's TorchCheckpointIO, each checkpoint written whole or not at all (`atomic`)."""
    import torch
    from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO

    class AtomicCheckpointIO(TorchCheckpointIO):
        def save_checkpoint(self, checkpoint, path, storage_options=None) -> None:
            buffer = io.BytesIO()
            torch.save(checkpoint, buffer)
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            write_bytes(path, buffer.getvalue())

    return AtomicCheckpointIO()
