"""Fixtures for vocoder tests: a tiny training configuration and a folder of two synthetic speakers."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.audio.io import save_audio
from engine.vocoder.train import VocoderTrainConfig
from vocoder_test_helpers import TINY_DISCRIMINATOR, TINY_GENERATOR, voiced_tone


@pytest.fixture(scope="session")
def speaker_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with two speaker subfolders of two 1 s WAV files each (one at 8 kHz)."""
    root = tmp_path_factory.mktemp("speakers")
    for speaker, f0_hz in (("low", 110.0), ("high", 220.0)):
        (root / speaker).mkdir()
        for index in range(2):
            samples = voiced_tone(f0_hz * (1 + 0.05 * index))
            if index == 1:
                save_audio(root / speaker / f"{index}.wav", samples[::2].clone(), 8000)
            else:
                save_audio(root / speaker / f"{index}.wav", samples, 16000)
    return root


@pytest.fixture()
def tiny_config(speaker_folder: Path) -> VocoderTrainConfig:
    return VocoderTrainConfig(sources=(str(speaker_folder),), source_weights=(1.0,), segment_samples=2048,
                              batch_size=2, steps=4, adversarial_start_step=2, generator=TINY_GENERATOR,
                              discriminator=TINY_DISCRIMINATOR, checkpoint_every=2, sample_every=2, device="cpu",
                              precision="fp32")
