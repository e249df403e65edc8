"""Tests for the GAN vocoder networks, losses, the Vocoder-protocol wrapper and streaming synthesis."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import torch

from engine.audio.features import SPEECH_MEL, log_mel_spectrogram
from engine.core.checkpoints import CheckpointError, load_checkpoint, save_checkpoint
from engine.vocoder import GriffinLimVocoder, default_vocoder, load_vocoder
from engine.vocoder import loading
from engine.vocoder.gan_vocoder import (Discriminators, Generator, GeneratorConfig, adversarial_loss,
                                        discriminator_loss, feature_matching_loss, mel_l1_loss,
                                        multi_resolution_stft_loss, phase_loss)
from engine.vocoder.loading import GanVocoder, StreamingVocoder
from engine.vocoder.train import CHECKPOINT_KIND, VocoderTrainConfig

from vocoder_test_helpers import TINY_DISCRIMINATOR, TINY_GENERATOR, voiced_tone


def _generator(config: GeneratorConfig = TINY_GENERATOR, seed: int = 0) -> Generator:
    torch.manual_seed(seed)
    return Generator(config).eval()


@pytest.mark.parametrize("frames", [2, 3, 33, 100])
def test_generator_upsamples_by_hop(frames: int) -> None:
    generator = _generator(GeneratorConfig())
    with torch.no_grad():
        audio = generator(torch.randn(2, SPEECH_MEL.n_mels, frames))
    assert audio.shape == (2, 1, (frames - 1) * SPEECH_MEL.hop_length)
    assert torch.isfinite(audio).all()


def test_generator_rejects_wrong_mel_count() -> None:
    with pytest.raises(ValueError, match=r"\(batch, 80, frames\)"):
        _generator()(torch.randn(1, 64, 10))


def test_generator_config_checks_hop() -> None:
    with pytest.raises(ValueError, match="must equal hop_length 256"):
        GeneratorConfig(upsample_rates=(4, 2), istft_hop=16)


def test_generator_config_round_trip() -> None:
    config = GeneratorConfig(channels=64, upsample_rates=(4, 4), istft_n_fft=64, istft_hop=16)
    assert GeneratorConfig.from_dict(config.to_dict()) == config


def test_discriminators_score_every_branch() -> None:
    discriminators = Discriminators(TINY_DISCRIMINATOR)
    scores, features = discriminators(torch.randn(3, 1, 2048))
    branches = len(TINY_DISCRIMINATOR.periods) + TINY_DISCRIMINATOR.scales
    assert len(scores) == branches
    assert len(features) == branches
    assert all(score.shape[0] == 3 for score in scores)
    # An odd length is padded to a whole number of periods instead of failing.
    odd_scores, _ = discriminators(torch.randn(1, 1, 2047))
    assert len(odd_scores) == branches


def test_spectral_losses_vanish_for_identical_audio() -> None:
    audio = voiced_tone(150.0)[None, None]  # (batch, channels, samples)
    log_mel = log_mel_spectrogram(audio.squeeze(1))
    assert multi_resolution_stft_loss(audio, audio).item() == pytest.approx(0.0, abs=1e-6)
    assert mel_l1_loss(audio, log_mel).item() == pytest.approx(0.0, abs=1e-6)
    noisy = audio + 0.05 * torch.randn_like(audio)
    assert multi_resolution_stft_loss(noisy, audio).item() > 0.1
    assert mel_l1_loss(noisy, log_mel).item() > 0.1


def test_phase_loss_ignores_whole_turns() -> None:
    audio = voiced_tone(150.0)[None, None]  # (batch, channels, samples)
    window = torch.hann_window(512)
    spectrum = torch.stft(audio[:, 0], 512, 128, window=window, center=True, return_complex=True)
    assert phase_loss(spectrum, audio, 512, 128).item() == pytest.approx(0.0, abs=1e-4)
    turned = spectrum * torch.polar(torch.ones(()), torch.tensor(2 * torch.pi))
    assert phase_loss(turned, audio, 512, 128).item() == pytest.approx(0.0, abs=1e-4)
    shifted = spectrum * torch.polar(torch.ones(()), torch.tensor(1.0))
    # A constant offset of 1 rad counts once in the instantaneous term and cancels in the differences.
    assert phase_loss(shifted, audio, 512, 128).item() == pytest.approx(1.0, abs=1e-3)


def test_magnitude_prior_follows_mel_energy() -> None:
    generator = _generator(GeneratorConfig())
    quiet = log_mel_spectrogram(0.01 * voiced_tone(150.0))[None]
    loud = log_mel_spectrogram(0.5 * voiced_tone(150.0))[None]
    with torch.no_grad():
        quiet_magnitude = generator.spectrum(quiet).abs().mean()
        loud_magnitude = generator.spectrum(loud).abs().mean()
    # Before any training, the output level already follows the input level through the prior.
    assert loud_magnitude / quiet_magnitude > 10


def test_adversarial_losses_follow_least_squares() -> None:
    ones, zeros = [torch.ones(2, 5)], [torch.zeros(2, 5)]
    assert discriminator_loss(ones, zeros).item() == 0.0
    assert discriminator_loss(zeros, ones).item() == 2.0
    assert adversarial_loss(ones).item() == 0.0
    assert adversarial_loss(zeros).item() == 1.0
    features = [[torch.ones(2, 3), torch.zeros(2, 4)]]
    assert feature_matching_loss(features, features).item() == 0.0


def test_gan_vocoder_batches_match_single_inputs() -> None:
    vocoder = GanVocoder(_generator())
    log_mel = torch.randn(2, 3, SPEECH_MEL.n_mels, 20)
    batched = vocoder.synthesize(log_mel)
    assert batched.shape == (2, 3, 19 * SPEECH_MEL.hop_length)
    single = vocoder.synthesize(log_mel[1, 2])
    assert single.shape == (19 * SPEECH_MEL.hop_length,)
    assert torch.allclose(batched[1, 2], single, atol=1e-5)


@pytest.mark.parametrize("shape, message", [((80,), "frames"), ((64, 20), "80"), ((80, 1), "at least 2 mel frames")])
def test_gan_vocoder_rejects_odd_input(shape: tuple[int, ...], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        GanVocoder(_generator()).synthesize(torch.zeros(shape))


def test_gan_vocoder_handles_silence() -> None:
    silent_mel = torch.full((SPEECH_MEL.n_mels, 30), -11.5129)  # ln(1e-5), the floor of log_mel_spectrogram
    audio = GanVocoder(_generator()).synthesize(silent_mel)
    assert torch.isfinite(audio).all()


def _save_generator(path: Path, generator: Generator) -> Path:
    config = VocoderTrainConfig(generator=generator.config, discriminator=TINY_DISCRIMINATOR)
    return save_checkpoint(path, kind=CHECKPOINT_KIND, config=config.to_json(), step=7,
                           modules={"generator": generator})


def test_checkpoint_round_trip(tmp_path: Path) -> None:
    generator = _generator(seed=3)
    saved = _save_generator(tmp_path / "model", generator)
    vocoder = load_vocoder(saved)
    log_mel = torch.randn(SPEECH_MEL.n_mels, 12)
    with torch.no_grad():
        expected = generator(log_mel[None])[0, 0]
    assert torch.equal(vocoder.synthesize(log_mel), expected)
    assert vocoder.name == "gan"
    assert vocoder.mel_config == SPEECH_MEL


def test_broken_checkpoint_names_file(tmp_path: Path) -> None:
    saved = _save_generator(tmp_path / "model", _generator())
    saved.write_bytes(saved.read_bytes()[:100])
    with pytest.raises(CheckpointError, match=r"model\.safetensors.*truncated or corrupt"):
        load_vocoder(saved)


def test_checkpoint_of_other_kind_is_rejected(tmp_path: Path) -> None:
    generator = _generator()
    saved = save_checkpoint(tmp_path / "other", kind="image.dcgan", config={}, step=1, modules={"generator": generator})
    with pytest.raises(CheckpointError, match="'vocoder.gan' model is needed"):
        load_vocoder(saved)


def test_default_vocoder_falls_back_to_griffin_lim(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    missing = tmp_path / "absent.safetensors"
    monkeypatch.setattr(loading, "bundled_vocoder_path", lambda: missing)
    with caplog.at_level(logging.WARNING, logger="engine.vocoder.loading"):
        vocoder = default_vocoder()
    assert isinstance(vocoder, GriffinLimVocoder)
    assert str(missing) in caplog.text


def test_default_vocoder_loads_bundled_model() -> None:
    path = loading.bundled_vocoder_path()
    assert path.is_file(), f"the bundled vocoder {path} is missing"
    vocoder = default_vocoder()
    assert isinstance(vocoder, GanVocoder)
    assert vocoder.source == path


def test_bundled_model_uses_defaults() -> None:
    # Training from the command line without options builds the bundled model's design.
    checkpoint = load_checkpoint(loading.bundled_vocoder_path(), expected_kind=CHECKPOINT_KIND)
    bundled = VocoderTrainConfig.from_json(checkpoint.config)
    defaults = VocoderTrainConfig()
    assert bundled.generator == defaults.generator
    assert bundled.discriminator == defaults.discriminator
    assert bundled.loss_weights == defaults.loss_weights


def _stream(streaming: StreamingVocoder, log_mel: torch.Tensor, block_frames: int) -> torch.Tensor:
    blocks = [streaming.push(log_mel[:, start:start + block_frames])
              for start in range(0, log_mel.shape[1], block_frames)]
    blocks.append(streaming.flush())
    return torch.cat(blocks)


def test_streaming_matches_offline_synthesis() -> None:
    vocoder = GanVocoder(_generator(GeneratorConfig(), seed=1))
    log_mel = log_mel_spectrogram(voiced_tone(140.0, seconds=2.0))  # (mels, frames)
    offline = vocoder.synthesize(log_mel)

    for block_frames in (1, 7, 40):
        streamed = _stream(StreamingVocoder(vocoder), log_mel, block_frames)
        assert streamed.shape == offline.shape
        assert torch.allclose(streamed, offline, atol=1e-5), f"blocks of {block_frames} frames"

    # A short lookahead trades exactness for latency.
    short = StreamingVocoder(vocoder, lookahead_frames=2)
    assert short.latency_s == pytest.approx(2 * 256 / 16000)
    assert not torch.allclose(_stream(short, log_mel, 7), offline, atol=1e-5)


def test_streaming_rejects_wrong_block_shape() -> None:
    streaming = StreamingVocoder(GanVocoder(_generator()))
    with pytest.raises(ValueError, match=r"\(80, frames\)"):
        streaming.push(torch.zeros(1, 80, 5))
