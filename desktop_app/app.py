"""The gan-studio entry point: command line, QApplication, logging, error hooks and the main window."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path
from typing import Sequence

import torch
from PySide6.QtCore import QSettings, QTimer
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication

from engine.core.device import DEVICE_CHOICES, PRECISION_CHOICES, Compute, pick_compute
from engine.core.paths import resources_dir

from desktop_app.compat import binding_problem
from desktop_app.context import AppContext
from desktop_app.errors import ErrorReporter
from desktop_app.gc_guard import MainThreadGarbageCollector
from desktop_app.logging_setup import configure_logging
from desktop_app.main_window import MainWindow
from desktop_app.settings import APPLICATION_NAME, ORGANIZATION_NAME, Settings
from desktop_app.tabs.base import Tab
from desktop_app.worker import EngineWorker

logger = logging.getLogger(__name__)

ICON_PATH = resources_dir() / "icons" / "gan-studio.svg"
DEFAULT_SCREENSHOT_DELAY_MS = 3000
SCREENSHOT_STEP_TIMEOUT_MS = 120_000  # the time limit for --screenshot-at-step without --quit-after
SCREENSHOT_SETTLE_MS = 300
USAGE_ERROR_EXIT_CODE = 2  # what argparse returns for invalid options


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gan-studio", description="GAN Studio desktop application.")
    parser.add_argument("--device", choices=DEVICE_CHOICES, default=None,
                        help="compute device for jobs (default: $GAN_STUDIO_DEVICE, else auto)")
    parser.add_argument("--precision", choices=PRECISION_CHOICES, default=None,
                        help="numeric precision for jobs (default: $GAN_STUDIO_PRECISION, else auto)")
    parser.add_argument("--tab", default=None, help="title of the tab to show at start, e.g. 'GAN Playground'")
    parser.add_argument("--autorun", action="store_true",
                        help="start the shown tab's demonstration job at launch (for demos and screenshots)")
    parser.add_argument("--screenshot", type=Path, default=None, metavar="PATH",
                        help="save a PNG of the window to PATH after --quit-after milliseconds, then quit")
    parser.add_argument("--screenshot-at-step", type=int, default=None, metavar="N",
                        help="take the --screenshot as soon as the running job reports step N "
                             "(--quit-after is then only the time limit)")
    parser.add_argument("--quit-after", type=int, default=None, metavar="MS",
                        help=f"quit after MS milliseconds (default with --screenshot: {DEFAULT_SCREENSHOT_DELAY_MS})")
    parser.add_argument("--log-level", default="INFO", choices=("DEBUG", "INFO", "WARNING", "ERROR"),
                        help="lowest level written to the log file and the console")
    return parser


def create_application(argv: Sequence[str] | None = None) -> QApplication:
    """Return the QApplication, creating it with GAN Studio's names and icon if none exists yet."""
    app = QApplication.instance()
    if app is None:
        app = QApplication([sys.argv[0] if sys.argv else "gan-studio", *(argv or [])])
    app.setOrganizationName(ORGANIZATION_NAME)
    app.setApplicationName(APPLICATION_NAME)
    app.setApplicationDisplayName(APPLICATION_NAME)
    app.setDesktopFileName("gan-studio")  # matches packaging/gan-studio.desktop, for the Wayland/X11 taskbar icon
    if ICON_PATH.is_file():
        app.setWindowIcon(QIcon(str(ICON_PATH)))
    else:
        logger.warning("Application icon not found at %s; the window uses the platform default", ICON_PATH)
    return app


def resolve_compute(device: str | None, precision: str | None, reporter: ErrorReporter | None = None) -> Compute:
    """Pick the compute device; when the requested one is missing, fall back to "auto" and report it."""
    try:
        return pick_compute(device, precision)
    except ValueError as error:
        logger.warning("Requested compute is unavailable (%s); falling back to auto", error)
        if reporter is not None:
            reporter.report("Device not available", f"{error} GAN Studio uses the automatic choice instead.")
        return pick_compute("auto", precision if precision in PRECISION_CHOICES else "auto")


def configure_torch_threads() -> int:
    """Leave one CPU core to the GUI thread by giving torch one intra-op thread fewer than the cores.

    Without this, torch's worker threads and the GUI thread compete for every core. On a shared
    2-core VM, engine.playground trained about 7 times slower per step with 2 torch threads than
    with 1. OMP_NUM_THREADS, when set, wins.

    Returns:
        The number of intra-op threads torch uses now.
    """
    if os.environ.get("OMP_NUM_THREADS"):
        return torch.get_num_threads()
    threads = max(1, (os.cpu_count() or 2) - 1)
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
        logger.info("Using %d torch threads, leaving one core to the GUI", threads)
    return threads


def create_main_window(settings: Settings | None = None, compute: Compute | None = None,
                       reporter: ErrorReporter | None = None, qsettings: QSettings | None = None,
                       tab_classes: Sequence[type[Tab]] | None = None) -> MainWindow:
    """Build the window with a fresh engine worker; the caller shows it and runs the event loop.

    Closing the window shuts the worker down. Tests call this instead of ``main``; ``tab_classes``
    None means every registered tab.
    """
    create_application()
    configure_torch_threads()
    reporter = reporter or ErrorReporter()
    settings = settings or Settings(qsettings)
    compute = compute or resolve_compute(None, None, reporter)
    worker = EngineWorker()
    context = AppContext(worker=worker, settings=settings, compute=compute)
    window = MainWindow(context, reporter, tab_classes)
    worker.setParent(window)
    reporter.setParent(window)
    return window


def _schedule_exit(app: QApplication, window: MainWindow, screenshot: Path | None, delay_ms: int,
                   at_step: int | None = None) -> None:
    """Quit after ``delay_ms``, saving a screenshot first; with ``at_step``, as soon as a job reaches that step."""
    done = False

    def finish() -> None:
        nonlocal done
        if done:
            return
        done = True
        if screenshot is not None:
            screenshot.parent.mkdir(parents=True, exist_ok=True)
            if window.grab().save(str(screenshot)):
                logger.info("Saved a screenshot to %s", screenshot)
            else:
                logger.error("Could not save the screenshot to %s; check that the folder is writable", screenshot)
        window.confirm_quit = lambda: True
        window.close()
        app.quit()

    def on_progress(job_id: int, step: int, *rest: object) -> None:
        if at_step is not None and step >= at_step and not done:
            QTimer.singleShot(SCREENSHOT_SETTLE_MS, finish)  # let the newest preview and curves draw first

    if at_step is not None:
        window.context.worker.job_progress.connect(on_progress)
    QTimer.singleShot(delay_ms, finish)


def main(argv: Sequence[str] | None = None) -> int:
    """Run GAN Studio and return the process exit code."""
    args = build_parser().parse_args(argv)
    log_file = configure_logging(getattr(logging, args.log_level))
    app = create_application()
    collector = MainThreadGarbageCollector()
    collector.start()
    reporter = ErrorReporter(log_file)
    reporter.install()

    problem = binding_problem()
    if problem is not None:
        logger.error("%s", problem)
        reporter.report("Qt bindings with a known crash bug", problem)

    compute = resolve_compute(args.device, args.precision, reporter)
    logger.info("GAN Studio starting on %s (%s)", compute.describe(), compute.reason)
    window = create_main_window(compute=compute, reporter=reporter)
    if args.tab is not None:
        tab = window.tab_by_title(args.tab)
        if tab is None:
            titles = ", ".join(repr(window.tabs.tabText(index)) for index in range(window.tabs.count()))
            logger.error("--tab %r matches no tab; the tabs are: %s", args.tab, titles)
            print(f"gan-studio: error: --tab {args.tab!r} matches no tab; use one of: {titles}", file=sys.stderr)
            window.confirm_quit = lambda: True
            window.close()  # shuts the engine worker down
            reporter.uninstall()
            collector.stop()
            return USAGE_ERROR_EXIT_CODE
        window.tabs.setCurrentWidget(tab)
    window.show()
    if args.autorun:
        current = window.tabs.currentWidget()
        if not (isinstance(current, Tab) and current.autorun()):
            logger.warning("The shown tab has no demonstration job; --autorun did nothing")

    if args.screenshot is not None or args.quit_after is not None:
        default_ms = DEFAULT_SCREENSHOT_DELAY_MS if args.screenshot_at_step is None else SCREENSHOT_STEP_TIMEOUT_MS
        delay_ms = args.quit_after if args.quit_after is not None else default_ms
        _schedule_exit(app, window, args.screenshot, delay_ms, args.screenshot_at_step)

    exit_code = app.exec()
    reporter.uninstall()
    collector.stop()
    logger.info("GAN Studio exited with code %d", exit_code)
    return exit_code
