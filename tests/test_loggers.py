"""The experiment trackers users already have: MLflow (a local sqlite store) and Weights & Biases (offline)
record the 2_train/* losses and the 1_quality/* metrics (the [mlflow] and [wandb] extras)."""

import json
import struct
import time

import pytest

from conftest import TINY, compose_config
from curvegan.train import train

# Records every host name the process looks up (and refuses to reach any): a tracker's calls out.
NO_NETWORK = """
import socket, sys
looked_up = []
def refuse(host, *args, **kwargs):
    looked_up.append(host)
    raise OSError(f"no network in this test: {host}")
socket.getaddrinfo = refuse
import atexit
atexit.register(lambda: print("LOOKED UP", sorted(set(map(str, looked_up))), file=sys.stderr))
"""


@pytest.mark.slow  # MLflow alone takes 20 s to import and start here
def test_mlflow_records_the_losses_and_every_epochs_quality_and_makes_no_network_call(tmp_path):
    """The command line, as a user runs it: outside CI and pytest (where MLflow turns its telemetry off itself)."""
    pytest.importorskip("mlflow", reason="needs the [mlflow] extra")
    import os
    import subprocess
    import sys

    from mlflow.tracking import MlflowClient

    store = f"sqlite:///{tmp_path}/mlflow.db"
    overrides = ["logger=mlflow", f"logger.mlflow.tracking_uri={store}", "logger.mlflow.run_name=tiny"]
    argv = ["curvegan.train", *TINY, *overrides, "ensemble.size=2", f"hydra.run.dir={tmp_path / 'run'}"]
    code = NO_NETWORK + f"sys.argv = {argv!r}\nimport runpy; runpy.run_module('curvegan.train', run_name='__main__')"
    quiet = ("PYTEST_CURRENT_TEST", "CI", "GITHUB_ACTIONS", "MLFLOW_DISABLE_TELEMETRY", "DO_NOT_TRACK")
    env = {k: v for k, v in os.environ.items() if k not in quiet}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "LOOKED UP []" in result.stderr, result.stderr[-500:]

    client = MlflowClient(store)
    (run,) = client.search_runs([client.get_experiment_by_name("curvegan").experiment_id])
    assert run.info.run_name == "tiny"
    assert {"2_train/g_loss", "2_train/d_loss", "1_quality/shape_rmse", "worst/a_w1"} <= set(run.data.metrics)
    history = json.loads((tmp_path / "run" / "metrics.json").read_text())["history"]
    recorded = client.get_metric_history(run.info.run_id, "1_quality/a_w1")
    assert [(m.step, m.value) for m in recorded] == [(h["step"], pytest.approx(h["a_w1"])) for h in history]


def wandb_history(path) -> list[dict]:
    """The history rows of an offline W&B run file: a log of 32 KiB blocks holding protobuf Records, each
    record (or its pieces) behind a 7-byte header of checksum, length and type (wandb's own format)."""
    from wandb.proto import wandb_internal_pb2

    data = path.read_bytes()
    position, pieces, rows = 7, b"", []  # after the file's own 7-byte header
    while position + 7 <= len(data):
        space = 32768 - position % 32768
        if space < 7:  # a block's tail too short for a header is padding
            position += space
            continue
        _, length, kind = struct.unpack("<IHB", data[position : position + 7])
        pieces += data[position + 7 : position + 7 + length]
        position += 7 + length
        if kind in (1, 4):  # a whole record, or the last piece of one
            record = wandb_internal_pb2.Record()
            record.ParseFromString(pieces)
            pieces = b""
            if record.WhichOneof("record_type") == "history":
                items = record.history.item
                rows.append({item.key or "/".join(item.nested_key): json.loads(item.value_json) for item in items})
    return rows


def test_wandb_offline_records_the_losses_and_every_epochs_quality(tmp_path):
    pytest.importorskip("wandb", reason="needs the [wandb] extra")
    run_dir = tmp_path / "run"
    monkey_env = {"WANDB_SILENT": "true", "WANDB_CONSOLE": "off"}
    with pytest.MonkeyPatch.context() as patch:
        for key, value in monkey_env.items():
            patch.setenv(key, value)
        train(compose_config(*TINY, "logger=wandb", "logger.wandb.name=tiny", run_dir=run_dir))
        import wandb

        wandb.finish()
    (log,) = run_dir.glob("wandb/offline-run-*/run-*.wandb")
    # W&B's own service process writes the offline file: read it until the run's records are there (10 s at most)
    history = json.loads((run_dir / "metrics.json").read_text())["history"]
    deadline = time.monotonic() + 10
    while True:
        rows = wandb_history(log)
        logged = sum("1_quality/a_w1" in r for r in rows)
        complete = any("2_train/g_loss" in row for row in rows) and logged >= len(history)
        if complete or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert any("2_train/g_loss" in row and "2_train/d_loss" in row for row in rows)
    quality = [row["1_quality/a_w1"] for row in rows if "1_quality/a_w1" in row]
    assert quality == [pytest.approx(h["a_w1"]) for h in history]
