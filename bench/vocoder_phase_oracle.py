"""PESQ of a GAN vocoder's magnitude and phase, each paired with the real other half.

    .venv/bin/python bench/vocoder_phase_oracle.py [--checkpoint CKPT] [--output report.json]

The generator of a GAN vocoder predicts a complex spectrum at its inverse STFT's resolution. The
script takes the VCC 2016 validation sentences of bench/vocoder_validation.py. For each, it rebuilds
audio from the generator's magnitude with the recording's real STFT phase, and from the real
magnitude with the generator's phase. A third mix pairs the mel pseudo-inverse magnitude (where
Griffin-Lim starts) with the real phase. It prints the mean wide-band PESQ of each mix. When a mix
with the real phase scores far above the vocoder's own output, the phase limits the vocoder.
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

import torch
from pesq import pesq
from vocoder_quality import print_report

from engine.audio.features import SPEECH_MEL, log_mel_spectrogram
from engine.data.speech_corpora import utterance_tensor
from engine.vocoder import bundled_vocoder_path, load_vocoder
from engine.vocoder.evaluate import validation_utterances
from engine.vocoder.griffin_lim import mel_to_linear_magnitude


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path, help="GAN vocoder checkpoint (default: the bundled one)")
    parser.add_argument("--output", type=Path, help="also write the JSON report to this file")
    args = parser.parse_args()
    torch.set_num_threads(1)

    checkpoint = args.checkpoint or bundled_vocoder_path()
    generator = load_vocoder(checkpoint).generator  # type: ignore[attr-defined]
    n_fft, hop = generator.config.istft_n_fft, generator.config.istft_hop
    if (n_fft, hop) != (SPEECH_MEL.n_fft, SPEECH_MEL.hop_length):
        raise SystemExit(f"{checkpoint}: the mixes need an inverse STFT with the mel's n_fft {SPEECH_MEL.n_fft} and "
                         f"hop {SPEECH_MEL.hop_length}; this generator has {n_fft} and {hop}.")
    window = torch.hann_window(n_fft)
    rate = SPEECH_MEL.sample_rate_hz
    scores: dict[str, list[float]] = {}
    for utterance in validation_utterances():
        samples = utterance_tensor(utterance, rate)[0]
        samples = samples[:samples.numel() // hop * hop]
        log_mel = log_mel_spectrogram(samples)
        with torch.no_grad():
            predicted = generator.spectrum(log_mel[None])[0]  # (bins, frames)
        real = torch.stft(samples, n_fft, hop, window=window, return_complex=True)
        frames = min(predicted.shape[-1], real.shape[-1])
        predicted, real = predicted[..., :frames], real[..., :frames]
        pseudo_inverse = mel_to_linear_magnitude(log_mel)[..., :frames]
        mixes = {
            "vocoder": predicted,
            "vocoder magnitude, real phase": torch.polar(predicted.abs(), real.angle()),
            "real magnitude, vocoder phase": torch.polar(real.abs(), predicted.angle()),
            "pseudo-inverse magnitude, real phase": torch.polar(pseudo_inverse, real.angle()),
        }
        for name, spectrum in mixes.items():
            audio = torch.istft(spectrum, n_fft, hop, window=window, length=samples.numel())
            scores.setdefault(name, []).append(float(pesq(rate, samples.double().numpy(), audio.double().numpy(), "wb")))
    report = {"checkpoint": str(checkpoint), "utterances": len(next(iter(scores.values()))),
              "pesq_wb": {name: round(statistics.fmean(values), 3) for name, values in scores.items()}}
    print_report(report, args.output)


if __name__ == "__main__":
    main()
