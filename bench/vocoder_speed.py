"""Real-time factor of the bundled GAN vocoder and of Griffin-Lim: synthesis seconds per second of audio.

    .venv/bin/python bench/vocoder_speed.py [--threads 2] [--seconds 10] [--repeats 5] [--checkpoint CKPT]

Each vocoder synthesizes the SPEECH_MEL log-mels of one VCC 2016 TF2 utterance, repeated to
``--seconds`` of audio, at batch 1 on the CPU with ``--threads`` torch threads. The first call is a
warm-up; the median of ``--repeats`` timed calls is reported. The target for the GAN vocoder is a
real-time factor of at most 0.1 on 2 threads (10 s of audio in at most 1 s).

It also streams the first 2 s through ``StreamingVocoder`` in blocks of 7 frames with lookaheads
of 32, 16 and 8 frames, and reports the energy of the difference to the offline output as a
fraction of the offline output's energy (0 means the stream is exact).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

import torch

from engine.audio.features import SPEECH_MEL, log_mel_spectrogram
from engine.core.paths import shared_datasets_dir
from engine.data.speech_corpora import load_vcc2016, utterance_tensor
from engine.vocoder import GriffinLimVocoder, StreamingVocoder, bundled_vocoder_path, load_vocoder
from engine.vocoder.base import Vocoder

TARGET_REAL_TIME_FACTOR = 0.1


def speech_of_length(seconds: float) -> torch.Tensor:
    """Return (samples,) 16 kHz speech: TF2 utterances concatenated and cut to ``seconds``."""
    corpus = load_vcc2016(shared_datasets_dir() / "vcc2016_4spk", speakers=("TF2",))
    needed = int(seconds * SPEECH_MEL.sample_rate_hz)
    pieces, total = [], 0
    for utterance in corpus.utterances():
        pieces.append(utterance_tensor(utterance, SPEECH_MEL.sample_rate_hz)[0])
        total += pieces[-1].numel()
        if total >= needed:
            break
    return torch.cat(pieces)[:needed]


def time_vocoder(vocoder: Vocoder, log_mel: torch.Tensor, repeats: int) -> list[float]:
    vocoder.synthesize(log_mel)  # warm-up: allocations and kernel selection
    timings = []
    for _ in range(repeats):
        started = time.perf_counter()
        vocoder.synthesize(log_mel)
        timings.append(time.perf_counter() - started)
    return timings


def streaming_error(vocoder: Vocoder, log_mel: torch.Tensor, lookahead_frames: int, block_frames: int = 7) -> float:
    """Return the energy of (streamed - offline) over the energy of the offline output."""
    offline = vocoder.synthesize(log_mel)
    streaming = StreamingVocoder(vocoder, lookahead_frames=lookahead_frames)
    blocks = [streaming.push(log_mel[:, start:start + block_frames])
              for start in range(0, log_mel.shape[-1], block_frames)]
    streamed = torch.cat(blocks + [streaming.flush()])
    return float((streamed - offline).pow(2).sum() / offline.pow(2).sum().clamp_min(1e-12))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads (default 2)")
    parser.add_argument("--seconds", type=float, default=10.0, help="audio length in seconds (default 10)")
    parser.add_argument("--repeats", type=int, default=5, help="timed calls per vocoder (default 5)")
    parser.add_argument("--checkpoint", type=Path, help="GAN vocoder checkpoint (default: the bundled one)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    log_mel = log_mel_spectrogram(speech_of_length(args.seconds), SPEECH_MEL)  # (mels, frames)
    audio_s = (log_mel.shape[-1] - 1) * SPEECH_MEL.hop_length / SPEECH_MEL.sample_rate_hz
    vocoders: dict[str, Vocoder] = {"gan": load_vocoder(args.checkpoint or bundled_vocoder_path()),
                                    "griffin_lim": GriffinLimVocoder()}
    report: dict[str, object] = {"audio_s": audio_s, "threads": args.threads,
                                 "cpu": platform.processor() or platform.machine(), "torch": torch.__version__}
    for name, vocoder in vocoders.items():
        median_s = statistics.median(time_vocoder(vocoder, log_mel, args.repeats))
        report[name] = {"median_s": round(median_s, 4), "real_time_factor": round(median_s / audio_s, 4)}
    report["gan_meets_target"] = report["gan"]["real_time_factor"] <= TARGET_REAL_TIME_FACTOR  # type: ignore[index]
    first_2_s = log_mel[:, :int(2 * SPEECH_MEL.sample_rate_hz / SPEECH_MEL.hop_length) + 1]
    report["streaming_error_by_lookahead"] = {
        frames: round(streaming_error(vocoders["gan"], first_2_s, frames), 4) for frames in (32, 16, 8)}
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
