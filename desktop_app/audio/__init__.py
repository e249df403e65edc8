"""Microphone and speaker access for the desktop app (the only package that uses sounddevice)."""
