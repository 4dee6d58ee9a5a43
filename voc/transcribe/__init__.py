"""Transcription: decode call audio, split agent/customer channels, faster-whisper, guards, call metrics."""

from .audio import AudioError, ChannelAudio, DecodedAudio, decode_audio, split_roles
from .cleanup import AsrSegment, collapse_repetitions, find_phantom, guard_segments, to_simplified
from .engine import AsrEngine, CallAudio, get_engine, load_whisper
from .jsonio import TranscriptFormatError, transcript_from_json, transcript_to_json
from .metrics import compute_call_metrics
from .models import ModelError, fetch_default_model, list_models, resolve_model
from .roles import role_swap_warning
from .scoring import cer, normalise_for_cer

__all__ = [
    "AsrEngine",
    "AsrSegment",
    "AudioError",
    "CallAudio",
    "ChannelAudio",
    "DecodedAudio",
    "ModelError",
    "TranscriptFormatError",
    "cer",
    "collapse_repetitions",
    "compute_call_metrics",
    "decode_audio",
    "fetch_default_model",
    "find_phantom",
    "get_engine",
    "guard_segments",
    "list_models",
    "load_whisper",
    "normalise_for_cer",
    "resolve_model",
    "role_swap_warning",
    "split_roles",
    "to_simplified",
    "transcript_from_json",
    "transcript_to_json",
]
