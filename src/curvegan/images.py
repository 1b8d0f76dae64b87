"""Figures as files and as TensorBoard images: PNGs encoded here (64 colours for a GIF's frame), the GIF of a
run's progress, and an image to every logger that takes one. Each file written whole or not at all."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from curvegan.files import atomic, write_bytes

PRIVATE_WRITER = "_get_file_writer"  # TensorBoard's SummaryWriter's


def tensorboard_file_writer(experiment):
    """TensorBoard's SummaryWriter's file writer (its private `_get_file_writer`), to write an image curvegan
    encoded; None where the experiment is not a SummaryWriter or its TensorBoard lacks that call (then the
    public add_image is used)."""
    get = getattr(experiment, PRIVATE_WRITER, None)
    if not (hasattr(experiment, "add_image") and callable(get)):
        return None
    try:
        return get()
    except Exception:  # a TensorBoard whose private call changed: the public one still works
        return None


def takes_images(logger) -> bool:
    """Whether `log_image` shows images in this logger (TensorBoard, W&B; not the CSV logger)."""
    return hasattr(logger.experiment, "add_image") or hasattr(logger, "log_image")


def log_image(loggers: list, tag: str, image: np.ndarray, step: int) -> None:
    """An RGB image to every logger that takes images: TensorBoard's IMAGES tab (its PNG encoded here, 13 ms for
    the 560 × 411 figure on one CPU thread, against 22 ms in TensorBoard's add_image, which converts the pixels
    to floats and back first), W&B's media."""
    encoded = None
    for logger in loggers:
        experiment = logger.experiment
        writer = tensorboard_file_writer(experiment)
        if writer is not None:
            from tensorboard.compat.proto.summary_pb2 import Summary

            encoded = encoded or png(image)
            height, width, _ = image.shape
            picture = Summary.Image(height=height, width=width, colorspace=3, encoded_image_string=encoded)
            writer.add_summary(Summary(value=[Summary.Value(tag=tag, image=picture)]), step)
        elif hasattr(experiment, "add_image"):  # TensorBoard's public call, or another logger's
            experiment.add_image(tag, image, step, dataformats="HWC")
        elif hasattr(logger, "log_image"):
            logger.log_image(tag, [image], step=step)


def log_layout(loggers: list, layout) -> None:
    """A custom scalars layout (tensorboard.plugins.custom_scalar's Layout, with margin charts of several series)
    to every TensorBoard logger, as the summary torch's add_custom_scalars writes (its layout holds one series a
    chart; TensorBoard's own helper needs TensorFlow)."""
    from tensorboard.compat.proto.summary_pb2 import Summary, SummaryMetadata
    from tensorboard.compat.proto.tensor_pb2 import TensorProto
    from tensorboard.compat.proto.tensor_shape_pb2 import TensorShapeProto
    from tensorboard.plugins.custom_scalar import metadata

    plugin = SummaryMetadata(plugin_data=SummaryMetadata.PluginData(plugin_name=metadata.PLUGIN_NAME))
    tensor = TensorProto(dtype="DT_STRING", string_val=[layout.SerializeToString()], tensor_shape=TensorShapeProto())
    summary = Summary(value=[Summary.Value(tag=metadata.CONFIG_SUMMARY_TAG, tensor=tensor, metadata=plugin)])
    for logger in loggers:
        writer = tensorboard_file_writer(logger.experiment)
        if writer is not None:
            writer.add_summary(summary)


def png(image: np.ndarray, colors: int | None = None) -> bytes:
    """An RGB image as a PNG: full colour, or of `colors` colours (smaller; a GIF frame has at most 256)."""

    from PIL import Image

    picture = Image.fromarray(image)
    if colors is not None:
        picture = picture.quantize(colors=colors, method=Image.Quantize.FASTOCTREE)
    out = io.BytesIO()
    picture.save(out, format="PNG")
    return out.getvalue()


def save_png(image: np.ndarray, path: Path) -> None:
    """An RGB image as a PNG of 64 colours, whole or not at all: half the size of the full-colour file or less,
    and no difference to see in a line plot (a GIF frame has at most 256; a colour bar shows steps)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    write_bytes(path, png(image, colors=64))


def save_gif(frames: list[Path], path: Path, frame_ms: int) -> None:
    """Write PNG frames as a looping GIF, the last frame held longer."""
    from PIL import Image

    images = [Image.open(f) for f in frames]
    durations = [frame_ms] * (len(images) - 1) + [frame_ms * 4]
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic(path) as partial:
        images[0].save(
            partial, format="GIF", save_all=True, append_images=images[1:], duration=durations, loop=0, optimize=True
        )
