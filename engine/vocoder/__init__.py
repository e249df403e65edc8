"""Vocoders: from log-mel spectrograms (SPEECH_MEL) back to waveforms.

Every vocoder follows the ``Vocoder`` protocol in ``base``, so voice conversion and the GUI can
swap Griffin-Lim for a GAN vocoder without knowing which one they hold.
"""
