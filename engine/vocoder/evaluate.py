"""Resynthesis quality on held-out real speech: wide-band PESQ and STOI of a vocoder beside Griffin-Lim.

The held-out sets never enter training (see ``engine.vocoder.train``):

- ``unseen_speaker``: VCC 2016 speaker TF2 reading the test sentences;
- ``unseen_sentences``: the training speakers SF1, SM1 and TM3 reading the same test sentences.

Each utterance is turned into SPEECH_MEL log-mels, resynthesized, and compared with the original
by PESQ (ITU-T P.862.2 wide band, 16 kHz, MOS-LQO from 1.04 to 4.64) and STOI (0 to 1).
"""

from __future__ import annotations

import logging
import os
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import torch
from pesq import PesqError, pesq
from pystoi import stoi

from engine.audio.features import SPEECH_MEL, log_mel_spectrogram
from engine.core.paths import shared_datasets_dir
from engine.data.speech_corpora import SpeechCorpus, Utterance, load_vcc2016, utterance_tensor
from engine.vocoder.base import Vocoder
from engine.vocoder.griffin_lim import GriffinLimVocoder
from engine.vocoder.loading import load_vocoder
from engine.vocoder.train import HELD_OUT_VCC_SPEAKER, TRAINING_VCC_SPEAKERS, vcc_split

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ResynthesisScore:
    utterance: str
    pesq_wb: float
    stoi: float


def held_out_sets(datasets_dir: Path | None = None, per_speaker: int | None = None,
                  seed: int = 0) -> dict[str, list[Utterance]]:
    """Return the held-out test utterances by set name (``unseen_speaker``, ``unseen_sentences``).

    Args:
        datasets_dir: the shared data sets folder; the default one when None.
        per_speaker: keep at most this many test sentences per speaker (the first in file order).
        seed: the split seed the vocoder was trained with.
    """
    root = (datasets_dir or shared_datasets_dir()) / "vcc2016_4spk"
    training = load_vcc2016(root, speakers=TRAINING_VCC_SPEAKERS)
    test = vcc_split(training, seed)[2]
    test_stems = sorted({utterance.path.stem for utterance in test.utterances()})
    if per_speaker is not None:
        test_stems = test_stems[:per_speaker]

    unseen = load_vcc2016(root, speakers=(HELD_OUT_VCC_SPEAKER,))
    return {
        "unseen_speaker": [u for u in unseen.utterances() if u.path.stem in test_stems],
        "unseen_sentences": [u for u in test.utterances() if u.path.stem in test_stems],
    }


def validation_utterances(datasets_dir: Path | None = None, per_speaker: int = 2, seed: int = 0) -> list[Utterance]:
    """Return VCC validation sentences of the training speakers: held out of training, but not test data."""
    root = (datasets_dir or shared_datasets_dir()) / "vcc2016_4spk"
    validation = vcc_split(load_vcc2016(root, speakers=TRAINING_VCC_SPEAKERS), seed)[1]
    return [utterance for speaker in validation.speaker_names for utterance in validation.speakers[speaker][:per_speaker]]


def score_resynthesis(vocoder: Vocoder, samples: torch.Tensor) -> tuple[float, float]:
    """Return (wide-band PESQ, STOI) of ``vocoder`` resynthesizing (samples,) 16 kHz audio from its log-mels.

    Raises:
        ValueError: when PESQ finds no speech in the reference (for example a silent file).
    """
    rate_hz = SPEECH_MEL.sample_rate_hz
    generated = vocoder.synthesize(log_mel_spectrogram(samples, SPEECH_MEL)).reshape(-1)
    length = min(samples.numel(), generated.numel())
    reference = samples[:length].double().numpy()
    degraded = generated[:length].double().numpy()
    try:
        pesq_wb = float(pesq(rate_hz, reference, degraded, "wb"))
    except PesqError as error:
        raise ValueError(f"PESQ failed on a {length / rate_hz:.2f} s signal ({type(error).__name__}); "
                         "the reference must contain speech.") from error
    return pesq_wb, float(stoi(reference, degraded, rate_hz, extended=False))


def score_set(vocoder: Vocoder, utterances: Sequence[Utterance]) -> list[ResynthesisScore]:
    scores = []
    for utterance in utterances:
        samples = utterance_tensor(utterance, SPEECH_MEL.sample_rate_hz)[0]
        pesq_wb, intelligibility = score_resynthesis(vocoder, samples)
        scores.append(ResynthesisScore(f"{utterance.speaker}/{utterance.path.name}", pesq_wb, intelligibility))
    return scores


def summarize(scores: Sequence[ResynthesisScore]) -> dict[str, float]:
    return {"pesq_wb": statistics.fmean(score.pesq_wb for score in scores),
            "stoi": statistics.fmean(score.stoi for score in scores),
            "utterances": float(len(scores))}


def evaluate_vocoders(checkpoint: str | os.PathLike[str], datasets_dir: Path | None = None,
                      per_speaker: int | None = None, include_griffin_lim: bool = True) -> dict[str, Any]:
    """Score the GAN vocoder in ``checkpoint`` and Griffin-Lim on both held-out sets.

    Returns:
        {set name: {"gan": {"pesq_wb", "stoi", "utterances"}, "griffin_lim": {...}}}, the means
        over the set's utterances.

    Raises:
        CheckpointError: when the checkpoint cannot be loaded.
    """
    gan = load_vocoder(checkpoint)
    vocoders: dict[str, Vocoder] = {"gan": gan}
    if include_griffin_lim:
        vocoders["griffin_lim"] = GriffinLimVocoder()
    report: dict[str, Any] = {}
    for set_name, utterances in held_out_sets(datasets_dir, per_speaker).items():
        report[set_name] = {}
        for vocoder_name, vocoder in vocoders.items():
            started = time.perf_counter()
            report[set_name][vocoder_name] = summarize(score_set(vocoder, utterances))
            logger.info("%s / %s: %s (%.1f s)", set_name, vocoder_name, report[set_name][vocoder_name],
                        time.perf_counter() - started)
    return report
