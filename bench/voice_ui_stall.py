"""Measure GUI event-loop stalls while the Voice tab fine-tunes a new speaker (and while it converts a file).

Run offscreen from the repository root (needs ../shared/datasets for the VCC 2016 clips):

    OMP_NUM_THREADS=1 QT_QPA_PLATFORM=offscreen .venv/bin/python bench/voice_ui_stall.py --seconds 20

The probe is bench/ui_stall.py's: a precise 5 ms QTimer on the GUI thread records how late each
timeout arrives, which is how long clicks and repaints would wait.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("GAN_STUDIO_HOME", tempfile.mkdtemp(prefix="gan-studio-bench-"))

from PySide6.QtCore import QSettings  # noqa: E402

from ui_stall import LatenessProbe, run_event_loop, summarize  # noqa: E402 - bench/ is the script's folder

from desktop_app.app import create_main_window  # noqa: E402
from desktop_app.gc_guard import MainThreadGarbageCollector  # noqa: E402
from desktop_app.tabs.voice.tab import VoiceConversionTab  # noqa: E402
from engine.core.paths import shared_datasets_dir  # noqa: E402

NEW_SPEAKER = "TF2"
CLIPS = 20
SOURCE = ("vcc2016_4spk", "SF1", "100010.wav")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="how long to measure while fine-tuning, in s")
    parser.add_argument("--interval-ms", type=int, default=5, help="probe timer interval in ms")
    parser.add_argument("--steps", type=int, default=100_000, help="fine-tuning steps (it is cancelled after --seconds)")
    args = parser.parse_args()

    datasets = shared_datasets_dir()
    settings_file = Path(os.environ["GAN_STUDIO_HOME"]) / "bench-settings.ini"
    window = create_main_window(qsettings=QSettings(str(settings_file), QSettings.Format.IniFormat),
                                tab_classes=[VoiceConversionTab])
    window.confirm_quit = lambda: True
    collector = MainThreadGarbageCollector(parent=window)  # as in the app: garbage is collected on the GUI thread
    collector.start()
    window.resize(1400, 900)
    window.show()
    tab: VoiceConversionTab = window.tabs.widget(0)
    worker = window.context.worker
    probe = LatenessProbe(args.interval_ms)

    probe.start()
    run_event_loop(2.0)
    idle = list(probe.lateness_ms)

    convert = tab.convert_page
    convert.source_panel.open_file(datasets.joinpath(*SOURCE))
    while convert.source_panel.clip is None:
        run_event_loop(0.05)
    probe.start()
    started = time.perf_counter()
    convert.convert()
    while convert.busy or convert.result_panel.converted is None:
        run_event_loop(0.02)
    converting_s = time.perf_counter() - started
    converting = list(probe.lateness_ms)

    page = tab.speaker_page
    tab.show_new_speaker_page()
    page.name_edit.setText(NEW_SPEAKER)
    folder = datasets / "vcc2016_4spk" / NEW_SPEAKER
    page.use_clips(sorted(folder.glob("*.wav"), key=lambda path: path.stat().st_size)[:CLIPS])
    page.steps_spin.setValue(args.steps)
    job_id = page.start_finetune()
    while worker.current_job_id() != job_id or not page.loss_plot.keys():
        run_event_loop(0.05)  # wait until data analysis is over and the first losses arrive

    redraws_before = page.loss_plot.redraw_count
    probe.start()
    started = time.perf_counter()
    run_event_loop(args.seconds)
    probe.stop()
    elapsed_s = time.perf_counter() - started
    training = list(probe.lateness_ms)
    redraws = page.loss_plot.redraw_count - redraws_before
    page.cancel()
    while page.busy:
        run_event_loop(0.05)
    window.close()
    collector.stop()

    print(f"command: OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', '')} "
          f"QT_QPA_PLATFORM={os.environ['QT_QPA_PLATFORM']} {sys.executable} {' '.join(sys.argv)}")
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPU cores, load average "
          f"{', '.join(f'{value:.1f}' for value in os.getloadavg())}, Python {platform.python_version()}, "
          f"compute {window.context.compute.describe()}, probe every {args.interval_ms} ms")
    print(summarize("idle", idle))
    print(summarize("convert", converting) + f"  (conversion took {converting_s:.1f} s)")
    print(summarize("finetune", training) + f"  (loss plot redraws/s {redraws / elapsed_s:.1f} over {elapsed_s:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
