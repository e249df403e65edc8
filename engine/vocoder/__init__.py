"""Vocoders: from log-mel spectrograms (SPEECH_MEL) back to waveforms.

Every vocoder follows the ``Vocoder`` protocol in ``base``, so voice conversion and the GUI can
swap Griffin-Lim for a GAN vocoder without knowing which one they hold.
"""

from engine.vocoder.base import Vocoder
from engine.vocoder.griffin_lim import GriffinLimVocoder
from engine.vocoder.loading import GanVocoder, StreamingVocoder, bundled_vocoder_path, default_vocoder, load_vocoder

__all__ = ["GanVocoder", "GriffinLimVocoder", "StreamingVocoder", "Vocoder", "bundled_vocoder_path",
           "default_vocoder", "load_vocoder"]
