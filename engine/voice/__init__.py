"""Non-parallel voice conversion: CycleGAN-VC and a two-stage multi-target model on SPEECH_MEL log-mels.

The public API for front ends is re-exported here.
"""

from engine.voice.convert import (VOCODERS, Conversion, ConvertJob, StreamingConverter, convert_samples,
                                  make_vocoder, speaker_sample)
from engine.voice.finetune import FineTuneJob
from engine.voice.train import VoiceTrainJob
from engine.voice.voice_model import (METHODS, VoiceConfig, VoiceModel, VoiceModelInfo, default_voice_model_path,
                                      installed_voice_models, load_voice_model, user_voice_models_dir)

__all__ = [
    "METHODS", "VOCODERS", "Conversion", "ConvertJob", "FineTuneJob", "StreamingConverter", "VoiceConfig",
    "VoiceModel", "VoiceModelInfo", "VoiceTrainJob", "convert_samples", "default_voice_model_path",
    "installed_voice_models", "load_voice_model", "make_vocoder", "speaker_sample", "user_voice_models_dir",
]
