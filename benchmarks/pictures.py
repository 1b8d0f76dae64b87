"""The README's pictures, made the way a user sees them: `make pictures` trains a few runs and writes docs/.

    python benchmarks/pictures.py [--work multirun/pictures] [--out docs] [--no-screenshots]

1. Trains the runs the README shows (the default run, an ensemble of 16, model=cgan, model=infogan,
   experiment=best, experiment=modes_best, and ensembles of 8 on the ring and the grid) into WORK, each with its
   TensorBoard log.
2. Copies the last image of each figure tag from the TensorBoard logs into docs/ (what TensorBoard shows, pixel
   for pixel), and draws the sampler's pictures (curvegan.sample plot=…) from the checkpoints.
3. Screenshots (unless --no-screenshots): starts TensorBoard on each of the default run, the ensemble of 16, the
   mode bed, the ring and the grid, and takes a headless Chromium screenshot of its default dashboard (Time Series)
   as a 1400 × 900 browser window first shows it, into docs/tensorboard_<run>.png. Chromium comes from the
   system's packages (Debian: `apt-get install chromium`).
"""

from __future__ import annotations

import argparse
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable
# name: overrides. Full runs where the README shows the end of training.
RUNS = {
    "default": [],
    "ensemble": ["ensemble.size=16"],
    "cgan": ["model=cgan"],
    "infogan": ["model=infogan"],
    "best": ["experiment=best"],
    "modes_best": ["experiment=modes_best", "ensemble.size=8"],
    "ring": ["data=ring", "ensemble.size=8"],
    "grid": ["data=grid", "ensemble.size=8"],
}
# docs/NAME: (run, TensorBoard image tag)
FROM_TENSORBOARD = {
    "curves.png": ("default", "figures/generated"),
    "ensemble.png": ("ensemble", "figures/best_median_worst"),
    "cgan.png": ("cgan", "figures/generated"),
    "modes_histogram.png": ("modes_best", "figures/a_histogram"),
    "modes_coverage.png": ("modes_best", "figures/mode_coverage"),
    "ring.png": ("ring", "figures/generated"),
    "ring_coverage.png": ("ring", "figures/mode_coverage"),
    "grid.png": ("grid", "figures/generated"),
}
SCREENSHOTS = ("default", "ensemble", "modes_best", "ring", "grid")
# docs/NAME: (run, the sampler's overrides)
FROM_SAMPLER = {
    "best_curves.png": ("best", ["n=10000"]),
    "latent_walk.png": ("default", ["mode=walk", "n=1"]),
    "infogan.png": ("infogan", ["mode=walk", "n=1"]),
}


def run(command: list[str], **kwargs) -> None:
    result = subprocess.run(command, capture_output=True, text=True, **kwargs)
    if result.returncode != 0:
        sys.exit(f"pictures: {' '.join(command)} failed:\n{result.stderr[-2000:]}")


def train(name: str, overrides: list[str], work: Path) -> Path:
    run_dir = work / name
    if not (run_dir / "metrics.json").exists():
        shutil.rmtree(run_dir, ignore_errors=True)
        print(f"  training {name}: {' '.join(overrides) or '(the defaults)'}", file=sys.stderr)
        run([PY, "-m", "curvegan.train", *overrides, f"hydra.run.dir={run_dir}"])
    return run_dir


def last_image(run_dir: Path, tag: str) -> bytes:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(run_dir / "tensorboard"), size_guidance={"images": 0}).Reload()
    return events.Images(tag)[-1].encoded_image_string


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def screenshot(logdir: Path, path: Path, height: int = 900) -> None:
    """TensorBoard's default dashboard over `logdir`, as a 1400-pixel-wide browser shows it."""
    port = free_port()
    board = subprocess.Popen(
        [str(Path(PY).parent / "tensorboard"), "--logdir", str(logdir), "--port", str(port), "--host", "127.0.0.1"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(120):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/data/runs", timeout=1)
                break
            except OSError:
                time.sleep(0.5)
        time.sleep(3)  # TensorBoard reads the event files after it starts answering
        browser = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
        if browser is None:
            sys.exit("pictures: no Chromium found (Debian: apt-get install chromium), or give --no-screenshots")
        run(
            [
                browser,
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--use-angle=swiftshader",
                "--enable-unsafe-swiftshader",
                "--hide-scrollbars",
                f"--window-size=1400,{height}",
                "--virtual-time-budget=25000",
                f"--screenshot={path}",
                f"http://127.0.0.1:{port}/?forceSVG=true#timeseries",  # headless Chromium draws no WebGL charts
            ]
        )
    finally:
        board.terminate()
        board.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", type=Path, default=ROOT / "multirun" / "pictures")
    parser.add_argument("--out", type=Path, default=ROOT / "docs")
    parser.add_argument("--no-screenshots", action="store_true")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    runs = {name: train(name, overrides, args.work) for name, overrides in RUNS.items()}

    for name, (source, tag) in FROM_TENSORBOARD.items():
        (args.out / name).write_bytes(last_image(runs[source], tag))
    members_pages(runs["ensemble"], args.out / "ensemble_members.png")
    shutil.copy(runs["default"] / "progress.gif", args.out / "progress.gif")
    for name, (source, overrides) in FROM_SAMPLER.items():
        ckpt = runs[source] / "checkpoints" / "last.ckpt"
        run([PY, "-m", "curvegan.sample", f"ckpt_path={ckpt}", f"plot={args.out / name}", *overrides])
    print(
        f"wrote {', '.join([*FROM_TENSORBOARD, 'ensemble_members.png', 'progress.gif', *FROM_SAMPLER])} into {args.out}"
    )

    if not args.no_screenshots:
        for name in SCREENSHOTS:
            screenshot(runs[name] / "tensorboard", args.out / f"tensorboard_{name}.png")
        print(f"screenshots of TensorBoard's default dashboard: docs/tensorboard_{{{','.join(SCREENSHOTS)}}}.png")


def members_pages(run_dir: Path, path: Path) -> None:
    """The last figures/members_<page> images of a run, two pages a row, as one picture (for the README's link)."""
    import io

    from PIL import Image
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(run_dir / "tensorboard"), size_guidance={"images": 0}).Reload()
    tags = sorted((t for t in events.Tags()["images"] if t.startswith("figures/members_")), key=lambda t: int(t[16:]))
    pages = [Image.open(io.BytesIO(events.Images(tag)[-1].encoded_image_string)).convert("RGB") for tag in tags]
    width, height = max(p.width for p in pages), max(p.height for p in pages)
    sheet = Image.new("RGB", (2 * width, -(-len(pages) // 2) * height), "white")
    for i, page in enumerate(pages):
        sheet.paste(page, ((i % 2) * width, (i // 2) * height))
    sheet.save(path)


if __name__ == "__main__":
    main()
