"""Measure live voice conversion through the virtual devices, and the offline conversion real-time factor.

Run from the repository root (needs ../shared/tools/virtual-audio and ../shared/datasets):

    OMP_NUM_THREADS=1 QT_QPA_PLATFORM=offscreen .venv/bin/python bench/voice_live_latency.py --seconds 10

Live mode: real VCC 2016 speech is fed into the virtual microphone while the Voice tab's live
stream converts it block by block to the virtual speaker. The end-to-end latency comes from
PortAudio's stream timestamps (ADC time of an input sample to DAC time of the output sample that
carries it), so it includes the device buffers. Offline, ConvertJob converts a 4.9 s file once per
vocoder. The real-time factor is compute time divided by audio duration, so below 1 is faster
than real time.
"""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("GAN_STUDIO_HOME", tempfile.mkdtemp(prefix="gan-studio-bench-"))

from desktop_app.tabs.voice.live_page import LIVE_CONTEXT_S  # noqa: E402 - after the environment is set

REPO_ROOT = Path(__file__).resolve().parents[1]
VIRTUAL_AUDIO_TOOL = REPO_ROOT.parent / "shared" / "tools" / "virtual-audio"
SPEECH_FILES = ("100010.wav", "100011.wav", "100012.wav", "100013.wav", "100014.wav")


def start_virtual_audio() -> None:
    """Start the private PulseAudio server and export its variables before sounddevice loads."""
    started = subprocess.run(["bash", str(VIRTUAL_AUDIO_TOOL), "start"], check=True, capture_output=True,
                             text=True, timeout=60)
    for line in started.stdout.splitlines():
        if line.startswith("export "):
            name, _, value = line.removeprefix("export ").partition("=")
            os.environ[name] = shlex.split(value)[0]


def settle_devices(seconds: float = 1.0) -> None:
    """Open the virtual microphone and speaker once on silence.

    The first input and output pair opened on a freshly started virtual audio server ran about
    1.5 s behind, and every later pair did not, so the measured stream must not be the first.
    """
    import sounddevice

    with sounddevice.InputStream(device="virtual_mic", channels=1, samplerate=16000, callback=lambda *args: None), \
            sounddevice.OutputStream(device="virtual_speaker", channels=1, samplerate=16000,
                                     callback=lambda outdata, *args: outdata.fill(0.0)):
        time.sleep(seconds)


def speech_file(datasets: Path, seconds: float, folder: Path) -> Path:
    parts = [soundfile.read(datasets / "vcc2016_4spk" / "SF1" / name, dtype="float32")[0] for name in SPEECH_FILES]
    speech = np.concatenate(parts)[:int(seconds * 16000)]
    path = folder / "speech.wav"
    soundfile.write(path, speech, 16000, subtype="FLOAT")
    return path


def measure_live(args: argparse.Namespace, datasets: Path, folder: Path) -> str:
    from PySide6.QtCore import QEventLoop, QTimer
    from PySide6.QtWidgets import QApplication

    from desktop_app.audio.live import LiveStream
    from desktop_app.tabs.voice.live_page import make_converter_factory
    from engine.voice import default_voice_model_path, make_vocoder

    app = QApplication.instance() or QApplication([])  # noqa: F841 - QTimer needs an application

    def run_event_loop(seconds: float) -> None:
        loop = QEventLoop()
        QTimer.singleShot(int(seconds * 1000), loop.quit)
        loop.exec()

    model_path = Path(args.model) if args.model else default_voice_model_path()
    stream = LiveStream()
    started: list[bool] = []
    stream.started.connect(lambda: started.append(True))
    factory = make_converter_factory(model_path, args.target, args.vocoder, args.block_ms / 1000.0, 0.0,
                                     args.context_s)
    vocoder_name = make_vocoder(args.vocoder).name  # "gan" falls back to Griffin-Lim when none is installed
    stream.start(factory, input_device="virtual_mic", output_device="virtual_speaker", block_s=args.block_ms / 1000.0)
    deadline = time.monotonic() + 120
    while not started and stream.is_running and time.monotonic() < deadline:
        run_event_loop(0.05)
    feed = subprocess.Popen(["bash", str(VIRTUAL_AUDIO_TOOL), "feed", str(speech_file(datasets, args.seconds, folder))])
    run_event_loop(args.seconds)
    feed.wait(timeout=30)
    stream.stop()
    stats = stream.stats()
    context = f"{args.context_s} s"
    return (f"live ({model_path.name}, vocoder {vocoder_name}, context {context}, target {args.target}): "
            f"blocks {stats.block_s * 1000:.0f} ms, "
            f"compute per block {stats.compute_s_mean * 1000:.1f} ms mean / {stats.compute_s_max * 1000:.1f} ms max "
            f"(real-time factor {stats.compute_s_mean / stats.block_s:.2f}), jitter margin {stats.margin_s * 1000:.0f} ms, "
            f"device buffers {stats.input_latency_s * 1000:.0f} + {stats.output_latency_s * 1000:.0f} ms, "
            f"end-to-end latency {stats.latency_s * 1000:.0f} ms mean / {stats.latency_s_max * 1000:.0f} ms max, "
            f"output underflows {stats.output_underflows} (PortAudio-flagged {stats.device_underflows}), "
            f"{stats.blocks} blocks over {stats.running_s:.1f} s")


def measure_offline(args: argparse.Namespace, datasets: Path, folder: Path) -> list[str]:
    from engine.core.jobs import run_job
    from engine.voice import ConvertJob, default_voice_model_path

    model_path = Path(args.model) if args.model else default_voice_model_path()
    source = datasets / "vcc2016_4spk" / "SF1" / "100010.wav"
    duration_s = soundfile.info(source).duration
    lines = []
    for vocoder in ("griffin-lim", "gan"):
        timings = []
        for repeat in range(args.repeats):
            job = ConvertJob(source, args.target, folder / f"converted-{vocoder}-{repeat}.wav", model_path,
                             vocoder=vocoder)
            started = time.perf_counter()
            run_job(job, lambda event: None)
            timings.append(time.perf_counter() - started)
        best = min(timings)
        lines.append(f"offline ConvertJob ({vocoder}): {best:.2f} s for {duration_s:.2f} s of audio, real-time factor "
                     f"{best / duration_s:.2f} (best of {args.repeats}, model load included)")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="live run length in s")
    parser.add_argument("--block-ms", type=int, default=100, help="live block length in ms")
    parser.add_argument("--vocoder", default="gan", choices=("gan", "griffin-lim"), help="live vocoder")
    parser.add_argument("--target", default="TM3", help="target speaker")
    parser.add_argument("--context-s", type=float, default=LIVE_CONTEXT_S,
                        help="input history the streaming converter analyses per block, in s "
                             f"(default: the Live page's {LIVE_CONTEXT_S})")
    parser.add_argument("--model", default=None, help="voice model file (default: the shipped one)")
    parser.add_argument("--repeats", type=int, default=2, help="offline conversions per vocoder")
    args = parser.parse_args()

    import torch

    torch.set_num_threads(1)
    start_virtual_audio()
    settle_devices()
    from engine.core.paths import shared_datasets_dir

    datasets = shared_datasets_dir()
    with tempfile.TemporaryDirectory(prefix="voice-bench-") as folder:
        live = measure_live(args, datasets, Path(folder))
        offline = measure_offline(args, datasets, Path(folder))
    subprocess.run(["bash", str(VIRTUAL_AUDIO_TOOL), "stop"], check=False, timeout=60)

    print(f"command: OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', '')} "
          f"QT_QPA_PLATFORM={os.environ['QT_QPA_PLATFORM']} {sys.executable} {' '.join(sys.argv)}")
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPU cores, load average "
          f"{', '.join(f'{value:.1f}' for value in os.getloadavg())}, Python {platform.python_version()}, "
          f"torch {torch.__version__} with {torch.get_num_threads()} thread(s)")
    print(live)
    for line in offline:
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
