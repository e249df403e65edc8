"""Evaluation on real speech: speaker identification, digit recognition and mel-cepstral distortion.

Every figure judges sound: converted log-mels are vocoded to audio and the audio is analysed
again before it is classified or compared. The classifiers are trained by the project on held-in
real utterances; converted held-out utterances are then classified.

- Conversion success: the fraction of converted utterances that the speaker classifier assigns
  to the target speaker; chance is 1 / number of speakers.
- Digits kept (FSDD): the accuracy of a digit classifier on converted digits; chance is 1 / 10.
- MCD (VCC 2016, parallel sentences): mel-cepstral distortion in dB between a converted utterance
  and the target speaker's real reading of the same sentence after DTW alignment, beside the MCD
  of the unconverted source. The mel-cepstrum here is the orthonormal DCT of the natural-log
  mel-scaled spectral envelope (cepstral liftering of the STFT, ``log_spectral_envelope``),
  coefficients 1-24 (c0, the level, is left out). It is not an SPTK mel-cepstrum, so values are
  comparable within this project only.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import torch
from dtw import dtw
from torch import nn
from torch.nn import functional as F
from torchaudio.functional import create_dct

from engine.audio.features import SPEECH_MEL, trim_silence
from engine.audio.io import load_audio
from engine.data.speech_corpora import CorpusSplit, SpeechCorpus, Utterance
from engine.vocoder.base import Vocoder
from engine.vocoder.griffin_lim import GriffinLimVocoder
from engine.voice.convert import convert_samples
from engine.voice.data import HELD_OUT_FRACTION, SPLIT_SEED, TRIM_THRESHOLD_DB, analyse_file, spread
from engine.voice.features import SAMPLE_RATE_HZ, analyse, log_spectral_envelope, magnitude_to_log_mel
from engine.voice.voice_model import VoiceModel

logger = logging.getLogger(__name__)

CEPSTRAL_ORDER = 24
# MCD in dB from cepstral differences: (10 / ln 10) * sqrt(2 * sum of squared differences).
MCD_CONSTANT_DB = 10.0 / math.log(10.0) * math.sqrt(2.0)
# Frames more than this far below an utterance's loudest frame (in log-mel energy) are silence.
SPEECH_FRAME_RANGE = math.log(10.0) * 4.0  # 40 dB
DIGIT_FRAMES = 20  # digit utterances are resampled to this many frames
CLASSIFIER_STEPS = 400


def cepstra(log_mel: torch.Tensor, order: int = CEPSTRAL_ORDER) -> torch.Tensor:
    """Return (frames, order + 1) cepstra c0..c_order: the orthonormal DCT of a (mels, frames) log-mel."""
    dct = create_dct(order + 1, SPEECH_MEL.n_mels, norm="ortho")  # (mels, order + 1)
    return log_mel.transpose(0, 1) @ dct


def speech_frames(log_mel: torch.Tensor) -> torch.Tensor:
    """Return a (frames,) mask of frames within 40 dB of the loudest frame's mean log-mel."""
    energy = torch.logsumexp(log_mel, dim=0)
    return energy >= energy.max() - SPEECH_FRAME_RANGE


def reanalysed_log_mel(audio: np.ndarray | torch.Tensor) -> torch.Tensor:
    """Analyse 16 kHz (samples,) audio again and return its (mels, frames) log-mel."""
    samples = torch.as_tensor(audio, dtype=torch.float32).reshape(-1)
    return analyse(samples, with_f0=False).log_mel


class _FrameMlp(nn.Module):
    def __init__(self, inputs: int, classes: int, hidden: int = 128) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(inputs, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
                                 nn.Linear(hidden, classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def _fit(model: nn.Module, features: torch.Tensor, labels: torch.Tensor, seed: int, steps: int) -> None:
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3, weight_decay=1e-4)
    batch = min(512, features.shape[0])
    for _ in range(steps):
        index = torch.randint(0, features.shape[0], (batch,), generator=generator)
        loss = F.cross_entropy(model(features[index]), labels[index])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    model.eval()


class SpeakerClassifier:
    """A frame-level MLP on cepstra c1..c24 with +-2 frames of context; an utterance takes the mean log-probability."""

    def __init__(self, speakers: Sequence[str], seed: int = 0) -> None:
        self.speakers = list(speakers)
        self.seed = seed
        torch.manual_seed(seed)
        self.net = _FrameMlp(5 * CEPSTRAL_ORDER, len(self.speakers))
        self.mean = torch.zeros(5 * CEPSTRAL_ORDER)
        self.std = torch.ones(5 * CEPSTRAL_ORDER)

    @staticmethod
    def frame_features(log_mel: torch.Tensor) -> torch.Tensor:
        coefficients = cepstra(log_mel)[:, 1:]  # (frames, 24)
        padded = F.pad(coefficients.T[None], (2, 2), mode="replicate")[0].T  # (frames + 4, 24)
        stacked = torch.cat([padded[offset:offset + coefficients.shape[0]] for offset in range(5)], dim=1)
        return stacked[speech_frames(log_mel)]  # (speech frames, 120)

    def fit(self, log_mels: Mapping[str, Sequence[torch.Tensor]], steps: int = CLASSIFIER_STEPS) -> SpeakerClassifier:
        features, labels = [], []
        for index, speaker in enumerate(self.speakers):
            for log_mel in log_mels[speaker]:
                frames = self.frame_features(log_mel)
                features.append(frames)
                labels.append(torch.full((frames.shape[0],), index))
        stacked = torch.cat(features)
        self.mean, self.std = stacked.mean(dim=0), stacked.std(dim=0).clamp_min(1e-3)
        _fit(self.net, (stacked - self.mean) / self.std, torch.cat(labels), self.seed, steps)
        return self

    @torch.no_grad()
    def predict(self, log_mel: torch.Tensor) -> str:
        frames = (self.frame_features(log_mel) - self.mean) / self.std
        return self.speakers[int(F.log_softmax(self.net(frames), dim=-1).mean(dim=0).argmax())]


class DigitClassifier:
    """An MLP on cepstra c0..c12 of the speech frames, resampled to 20 frames with the utterance mean removed."""

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed
        torch.manual_seed(seed)
        self.net = _FrameMlp(13 * DIGIT_FRAMES, 10, hidden=256)
        self.mean = torch.zeros(13 * DIGIT_FRAMES)
        self.std = torch.ones(13 * DIGIT_FRAMES)

    @staticmethod
    def features(log_mel: torch.Tensor) -> torch.Tensor:
        mask = speech_frames(log_mel).nonzero().flatten()
        trimmed = log_mel[:, int(mask[0]):int(mask[-1]) + 1]
        coefficients = cepstra(trimmed, 12)  # (frames, 13)
        coefficients = coefficients - coefficients.mean(dim=0, keepdim=True)
        resampled = F.interpolate(coefficients.T[None], size=DIGIT_FRAMES, mode="linear", align_corners=True)[0]
        return resampled.reshape(-1)  # (13 * DIGIT_FRAMES,)

    def fit(self, log_mels: Sequence[torch.Tensor], digits: Sequence[int], steps: int = CLASSIFIER_STEPS
            ) -> DigitClassifier:
        stacked = torch.stack([self.features(log_mel) for log_mel in log_mels])
        self.mean, self.std = stacked.mean(dim=0), stacked.std(dim=0).clamp_min(1e-3)
        _fit(self.net, (stacked - self.mean) / self.std, torch.tensor(list(digits)), self.seed, steps)
        return self

    @torch.no_grad()
    def predict(self, log_mel: torch.Tensor) -> int:
        features = (self.features(log_mel) - self.mean) / self.std
        return int(self.net(features[None]).argmax(dim=-1))


def envelope_mel_cepstra(samples: torch.Tensor) -> torch.Tensor:
    """Return (speech frames, 24) mel-cepstra c1..c24 of the spectral envelope of (samples,) 16 kHz audio.

    The envelope comes from cepstral liftering of the STFT, so F0 harmonics do not enter the
    distortion, as with the vocoder envelopes that MCD is usually computed on.
    """
    analysis = analyse(torch.as_tensor(samples, dtype=torch.float32).reshape(-1), with_f0=False)
    log_spectrum = torch.log(torch.clamp(analysis.magnitude, min=1e-5)).double()
    envelope = torch.exp(log_spectral_envelope(log_spectrum)).float()
    log_mel = magnitude_to_log_mel(envelope)
    # The orthonormal DCT scales coefficients by sqrt(2 / mels) where a cepstrum has 2 / mels.
    scale = math.sqrt(2.0 / SPEECH_MEL.n_mels)
    return cepstra(log_mel[:, speech_frames(analysis.log_mel)])[:, 1:] * scale


_reference_cache: dict[str, torch.Tensor] = {}


def reference_mel_cepstra(path: Path) -> torch.Tensor:
    """Return ``envelope_mel_cepstra`` of a real recording (silence trimmed as for training), cached per path."""
    key = str(path)
    if key not in _reference_cache:
        audio = load_audio(path, mono=True, sample_rate_hz=SAMPLE_RATE_HZ)
        samples, _ = trim_silence(audio.samples[0], SAMPLE_RATE_HZ, TRIM_THRESHOLD_DB)
        _reference_cache[key] = envelope_mel_cepstra(samples)
    return _reference_cache[key]


def mel_cepstral_distortion(first: torch.Tensor, second: torch.Tensor) -> float:
    """Return the MCD in dB between two (frames, 24) mel-cepstra sequences of one sentence after DTW alignment."""
    first_np, second_np = first.double().numpy(), second.double().numpy()
    alignment = dtw(first_np, second_np, dist_method="euclidean")
    differences = first_np[alignment.index1] - second_np[alignment.index2]
    return float(np.mean(MCD_CONSTANT_DB * np.sqrt((differences ** 2).sum(axis=1))))


@dataclass
class PairResult:
    """Figures for converting held-out utterances of one source speaker to one target speaker."""

    source: str
    target: str
    utterances: int
    success: float
    chance: float
    mcd_db: float | None = None
    source_mcd_db: float | None = None
    digit_accuracy: float | None = None
    digit_chance: float = 0.1

    def to_json(self) -> dict[str, float | int | str | None]:
        return {key: (round(value, 4) if isinstance(value, float) else value) for key, value in self.__dict__.items()}


def held_in_log_mels(utterances: Mapping[str, Sequence[Utterance]]) -> dict[str, list[torch.Tensor]]:
    """Return the (mels, frames) log-mels of real utterances per speaker (silence trimmed, cached)."""
    return {speaker: [analyse_file(item.path).log_mel for item in items] for speaker, items in utterances.items()}


def convert_utterance(model: VoiceModel, utterance: Utterance, target: str, vocoder: Vocoder,
                      stage: int) -> torch.Tensor:
    """Convert one real utterance (silence trimmed as for training) and return the vocoded (samples,) 16 kHz audio."""
    audio = load_audio(utterance.path, mono=True, sample_rate_hz=SAMPLE_RATE_HZ)
    samples, _ = trim_silence(audio.samples[0], SAMPLE_RATE_HZ, TRIM_THRESHOLD_DB)
    conversion = convert_samples(model, samples, SAMPLE_RATE_HZ, target, vocoder=vocoder, stage=stage)
    return torch.from_numpy(conversion.audio)


def evaluate_pair(model: VoiceModel, source_utterances: Sequence[Utterance], target: str,
                  speaker_classifier: SpeakerClassifier, *, vocoder: Vocoder | None = None, stage: int = 2,
                  references: Mapping[str, Utterance] | None = None,
                  digit_classifier: DigitClassifier | None = None) -> PairResult:
    """Convert ``source_utterances`` to ``target`` and score them.

    Args:
        references: the target speaker's real reading per file stem, for MCD (parallel corpora).
        digit_classifier: scores the digit of each converted utterance against its label (FSDD).
    """
    vocoder = vocoder or GriffinLimVocoder(iterations=32)
    hits, digit_hits, mcds, source_mcds = 0, 0, [], []
    for utterance in source_utterances:
        converted_audio = convert_utterance(model, utterance, target, vocoder, stage)
        converted = reanalysed_log_mel(converted_audio)
        hits += speaker_classifier.predict(converted) == target
        if digit_classifier is not None and utterance.label is not None:
            digit_hits += digit_classifier.predict(converted) == int(utterance.label)
        reference = (references or {}).get(utterance.path.stem)
        if reference is not None:
            reference_cepstra = reference_mel_cepstra(reference.path)
            mcds.append(mel_cepstral_distortion(envelope_mel_cepstra(converted_audio), reference_cepstra))
            source_mcds.append(mel_cepstral_distortion(reference_mel_cepstra(utterance.path), reference_cepstra))
    count = len(source_utterances)
    return PairResult(
        source=source_utterances[0].speaker if count else "", target=target, utterances=count,
        success=hits / max(1, count), chance=1.0 / len(speaker_classifier.speakers),
        mcd_db=float(np.mean(mcds)) if mcds else None, source_mcd_db=float(np.mean(source_mcds)) if source_mcds else None,
        digit_accuracy=digit_hits / max(1, count) if digit_classifier is not None else None,
    )


def summarise(results: Sequence[PairResult]) -> dict[str, float | None]:
    """Average pair results into one flat dict of figures with their chance levels."""
    def mean(values: Sequence[float | None]) -> float | None:
        present = [value for value in values if value is not None]
        return round(float(np.mean(present)), 4) if present else None

    return {
        "success": mean([r.success for r in results]),
        "success_chance": mean([r.chance for r in results]),
        "mcd_db": mean([r.mcd_db for r in results]),
        "source_mcd_db": mean([r.source_mcd_db for r in results]),
        "digit_accuracy": mean([r.digit_accuracy for r in results]),
        "digit_chance": 0.1 if any(r.digit_accuracy is not None for r in results) else None,
        "utterances": sum(r.utterances for r in results),
    }


# ------------------------------------------------------------------------------------- benchmarks

_classifier_cache: dict[tuple[str, ...], object] = {}


def _split(corpus: SpeechCorpus) -> CorpusSplit:
    return corpus.split(SPLIT_SEED, HELD_OUT_FRACTION, same_across_speakers=corpus.name.startswith("VCC"))


def speaker_classifier_for(corpus: SpeechCorpus, max_per_speaker: int | None = None) -> SpeakerClassifier:
    """Train (once per process) a speaker classifier on the held-in utterances of every speaker of ``corpus``."""
    key = ("speaker", str(corpus.root), str(max_per_speaker))
    if key not in _classifier_cache:
        held_in = {speaker: spread(items, max_per_speaker) for speaker, items in _split(corpus).train.speakers.items()}
        _classifier_cache[key] = SpeakerClassifier(sorted(held_in)).fit(held_in_log_mels(held_in))
    return _classifier_cache[key]  # type: ignore[return-value]


def digit_classifier_for(corpus: SpeechCorpus, max_per_speaker: int | None = None) -> DigitClassifier:
    """Train (once per process) a digit classifier on the held-in FSDD utterances of every speaker."""
    key = ("digit", str(corpus.root), str(max_per_speaker))
    if key not in _classifier_cache:
        items = [item for utterances in _split(corpus).train.speakers.values()
                 for item in spread(utterances, max_per_speaker)]
        log_mels = [analyse_file(item.path).log_mel for item in items]
        _classifier_cache[key] = DigitClassifier().fit(log_mels, [int(item.label or 0) for item in items])
    return _classifier_cache[key]  # type: ignore[return-value]


def _stages(model: VoiceModel, stages: Sequence[int]) -> list[int]:
    if model.method == "multi_target":
        return list(stages)
    return [0, 2] if 0 in stages else [2]


def _stage_name(model: VoiceModel, stage: int) -> str:
    if stage == 0:
        return "f0_only_baseline"
    return f"stage{stage}" if model.method == "multi_target" else "cyclegan_vc"


def vcc_benchmark(model: VoiceModel, corpus: SpeechCorpus, pairs: Sequence[tuple[str, str]],
                  utterances_per_pair: int = 10, stages: Sequence[int] = (1, 2), vocoder: Vocoder | None = None
                  ) -> dict[str, dict[str, object]]:
    """Convert held-out VCC 2016 sentences for each (source, target) pair and score success and MCD.

    The speaker classifier covers every speaker of ``corpus`` (chance 1 / 4 for the 4 VCC speakers).
    Stage 0 in ``stages`` adds the baseline that converts only F0 and vocodes the input's mel.

    Returns:
        {"stage1": {...}, "stage2": {...}} for multi-target models (only the stages asked for), or
        {"cyclegan_vc": {...}}, plus "f0_only_baseline" for stage 0; each with "pairs" (a list of
        pair figures) and "mean".
    """
    classifier = speaker_classifier_for(corpus)
    held_out = _split(corpus).held_out.speakers
    report: dict[str, dict[str, object]] = {}
    for stage in _stages(model, stages):
        results = []
        for source, target in pairs:
            references = {item.path.stem: item for item in held_out[target]}
            results.append(evaluate_pair(model, held_out[source][:utterances_per_pair], target, classifier,
                                         vocoder=vocoder, stage=stage, references=references))
        name = _stage_name(model, stage)
        report[name] = {"pairs": [result.to_json() for result in results], "mean": summarise(results)}
    return report


def fsdd_benchmark(model: VoiceModel, corpus: SpeechCorpus, utterances_per_speaker: int = 5,
                   stages: Sequence[int] = (1, 2), vocoder: Vocoder | None = None,
                   classifier_utterances: int | None = 100) -> dict[str, dict[str, object]]:
    """Convert held-out FSDD digits of each speaker to the next speaker (in name order) and score them.

    Success uses a speaker classifier over all FSDD speakers (chance 1 / 6). The digit classifier
    measures whether the converted digit is still recognised (chance 1 / 10). Speakers missing from
    the model are skipped as targets and sources.
    """
    speakers = [name for name in corpus.speaker_names if name in model.speakers]
    speaker_classifier = speaker_classifier_for(corpus, classifier_utterances)
    digit_classifier = digit_classifier_for(corpus, classifier_utterances)
    held_out = _split(corpus).held_out.speakers
    report: dict[str, dict[str, object]] = {}
    for stage in _stages(model, stages):
        results = []
        for index, source in enumerate(speakers):
            target = speakers[(index + 1) % len(speakers)]
            chosen = spread(held_out[source], utterances_per_speaker)
            results.append(evaluate_pair(model, chosen, target, speaker_classifier, vocoder=vocoder, stage=stage,
                                         digit_classifier=digit_classifier))
        name = _stage_name(model, stage)
        report[name] = {"pairs": [result.to_json() for result in results], "mean": summarise(results)}
    return report
