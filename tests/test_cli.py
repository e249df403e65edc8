"""gan-studio-cli: version, info, playground train/resume/evaluate, errors, and a 2-process gloo run."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from engine.cli import main

REPO_ROOT = Path(__file__).resolve().parents[1]
SMALL = ["--batch-size", "64", "--hidden", "32", "--device", "cpu"]


@pytest.fixture(autouse=True)
def one_torch_thread():
    """Train on one torch thread (the playground networks are too small to gain from more), then restore."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def _json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def _train(capsys, out: Path, *extra: str) -> tuple[int, list[dict], str]:
    code = main(["playground", "train", "--out", str(out), *SMALL, *extra])
    captured = capsys.readouterr()
    return code, _json_lines(captured.out), captured.err


def test_version_via_installed_script():
    script = Path(sys.executable).with_name("gan-studio-cli")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "engine.cli"]
    result = subprocess.run([*command, "--version"], capture_output=True, text=True, timeout=120, cwd=REPO_ROOT)
    assert result.returncode == 0, result.stderr
    assert re.fullmatch(r"gan-studio-cli \S+\n", result.stdout), result.stdout


def test_info_json_lists_device_and_folders(capsys):
    assert main(["info", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["precision"] in ("bf16", "fp32")
    assert info["device"]
    assert set(info["folders"]) >= {"config", "data", "logs", "checkpoints", "resources"}
    assert info["folders"]["data"].startswith(os.environ["GAN_STUDIO_HOME"])


def test_train_writes_checkpoints_and_json_lines(tmp_path, capsys):
    code, records, err = _train(capsys, tmp_path, "--steps", "30", "--checkpoint-every", "10", "--metrics-every", "5")
    assert code == 0, err
    kinds = [record["event"] for record in records]
    assert kinds[0] == "started"
    assert kinds[-1] == "finished"
    metrics = [record for record in records if record["event"] == "metrics"]
    assert [record["step"] for record in metrics] == [5, 10, 15, 20, 25, 30]
    assert all("loss/d" in record and "loss/g" in record for record in metrics)
    assert [record["step"] for record in records if record["event"] == "checkpoint"] == [10, 20, 30]
    for step in (10, 20, 30):
        assert (tmp_path / f"step_{step:06d}.safetensors").is_file()
        assert (tmp_path / f"step_{step:06d}.json").is_file()
    assert "quality/modes_covered" in records[-1]["summary"]
    assert "30/30" in err, "the progress bar should reach the last step on stderr"
    sidecar = json.loads((tmp_path / "step_000030.json").read_text())
    assert sidecar["kind"] == "playground.gan"
    assert "command" in sidecar["extra"]


def test_resume_continues_exactly(tmp_path, capsys):
    straight, split = tmp_path / "straight", tmp_path / "split"
    assert _train(capsys, straight, "--steps", "24", "--checkpoint-every", "12")[0] == 0
    assert _train(capsys, split, "--steps", "12", "--checkpoint-every", "12")[0] == 0
    code, records, err = _train(capsys, split, "--steps", "24", "--checkpoint-every", "12",
                                "--resume", str(split / "step_000012.json"))
    assert code == 0, err
    assert records[0]["total_steps"] == 12, "a resumed run trains only the steps left to --steps"
    expected = load_file(straight / "step_000024.safetensors")
    resumed = load_file(split / "step_000024.safetensors")
    assert expected.keys() == resumed.keys()
    for key in expected:
        assert (expected[key] == resumed[key]).all(), f"{key} differs between resumed and uninterrupted runs"


def test_resume_from_run_folder(tmp_path, capsys):
    assert _train(capsys, tmp_path, "--steps", "4", "--checkpoint-every", "2")[0] == 0
    code, records, err = _train(capsys, tmp_path, "--steps", "6", "--checkpoint-every", "2", "--resume", str(tmp_path))
    assert code == 0, err
    assert records[0]["total_steps"] == 2, "the folder should resume from its newest checkpoint, step 4"
    assert (tmp_path / "step_000006.safetensors").is_file()


def test_resume_past_target_fails(tmp_path, capsys):
    assert _train(capsys, tmp_path, "--steps", "4")[0] == 0
    code = main(["playground", "train", "--out", str(tmp_path), "--steps", "2", "--device", "cpu",
                 "--resume", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 1
    assert "already at step 4" in err, err


def test_zero_steps_rejected(tmp_path, capsys):
    with pytest.raises(SystemExit) as raised:
        main(["playground", "train", "--out", str(tmp_path), "--steps", "0"])
    assert raised.value.code == 2
    assert "must be at least 1" in capsys.readouterr().err


def test_resume_rejects_changed_architecture(tmp_path, capsys):
    assert _train(capsys, tmp_path, "--steps", "2")[0] == 0
    code = main(["playground", "train", "--out", str(tmp_path), "--steps", "4", "--device", "cpu",
                 "--hidden", "64", "--resume", str(tmp_path / "step_000002.json")])
    err = capsys.readouterr().err
    assert code == 1
    assert "hidden" in err, err
    assert "--resume" in err, err


def test_truncated_checkpoint_gives_clear_error(tmp_path, capsys):
    assert _train(capsys, tmp_path, "--steps", "2")[0] == 0
    weights = tmp_path / "step_000002.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    for argv in (["playground", "evaluate", str(weights)],
                 ["playground", "train", "--out", str(tmp_path), "--steps", "4", "--resume", str(weights)]):
        code = main(argv)
        err = capsys.readouterr().err
        assert code == 1, argv
        assert "truncated or corrupt" in err, err
        assert str(weights) in err, err


def test_evaluate_prints_metrics(tmp_path, capsys):
    assert _train(capsys, tmp_path, "--steps", "2")[0] == 0
    assert main(["playground", "evaluate", str(tmp_path / "step_000002.safetensors"), "--device", "cpu"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["step"] == 2
    assert record["quality/modes_total"] == 8.0


def test_non_finite_loss_exits_with_error(tmp_path, capsys):
    code, records, err = _train(capsys, tmp_path, "--steps", "50", "--lr-d", "1e30", "--lr-g", "1e30")
    assert code == 1
    assert records[-1]["event"] == "failed"
    assert "became nan" in err or "became inf" in err, err


def test_interrupt_cancels_and_saves(tmp_path):
    command = [sys.executable, "-m", "engine.cli", "playground", "train", "--steps", "1000000", "--out", str(tmp_path),
               "--metrics-every", "1", "--threads", "1", *SMALL]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO_ROOT)
    try:
        for line in process.stdout:
            if '"event": "metrics"' in line:
                break
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 130, stderr
    finished = _json_lines(stdout)[-1]
    assert finished["event"] == "finished", stdout[-2000:]
    assert finished["cancelled"] is True
    assert finished["summary"]["step"] < 1000000
    assert (tmp_path / f"step_{finished['summary']['step']:06d}.safetensors").is_file()


def test_two_process_gloo_run_ends_with_identical_weights(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}  # torchrun's own default, set to keep its notice quiet
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
               "-m", "engine.cli", "playground", "train", "--steps", "20", "--out", str(tmp_path),
               "--loss", "wgan-gp", "--checkpoint-every", "10", "--print-param-digest", *SMALL]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=REPO_ROOT, env=env)
    assert result.returncode == 0, result.stderr[-3000:]

    digests = dict(re.findall(r"rank (\d) parameter digest ([0-9a-f]{64})", result.stderr))
    assert set(digests) == {"0", "1"}, result.stderr[-3000:]
    assert digests["0"] == digests["1"], f"ranks disagree: {digests}"
    records = _json_lines(result.stdout)
    assert sum(record["event"] == "started" for record in records) == 1, "only rank 0 may print JSON lines"
    assert [record["step"] for record in records if record["event"] == "checkpoint"] == [10, 20]
    sidecar = json.loads((tmp_path / "step_000020.json").read_text())
    assert sidecar["extra"]["rng"]["world_size"] == 2
