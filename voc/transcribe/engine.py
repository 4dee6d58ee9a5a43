"""The faster-whisper engine: one loaded model per process, calls in, :class:`Transcript` records out."""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from voc.config import AsrSettings
from voc.records import Role, Transcript, Utterance, Word

from .audio import SAMPLE_RATE, AudioError, ChannelAudio, decode_audio, split_roles
from .cleanup import AsrSegment, guard_segments
from .metrics import compute_call_metrics
from .models import DEFAULT_MODEL_ALIASES, DEFAULT_MODEL_NAME, ModelError, resolve_model

logger = logging.getLogger(__name__)

# Below this peak amplitude a channel is digital silence: skip the model (saves time, and Whisper
# hallucinates subtitles on silence).
_SILENT_PEAK = 1e-4


@dataclass(frozen=True, slots=True)
class CallAudio:
    """One item for :meth:`AsrEngine.transcribe_batch`."""

    path: str | Path
    interaction_id: str
    agent_channel: int | None = None


def resolve_device(asr: AsrSettings) -> tuple[str, str]:
    """(device, compute_type) with 'auto'/'default' resolved: int8 on CPU, float16 on CUDA."""
    import ctranslate2

    device = asr.device
    if device == "auto":
        device = "cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu"
    compute_type = asr.compute_type
    if compute_type == "default":
        compute_type = "float16" if device == "cuda" else "int8"
    return device, compute_type


@functools.lru_cache(maxsize=4)
def load_whisper(model: str, device: str, compute_type: str, cpu_threads: int):
    """The ``faster_whisper.WhisperModel`` for these options, loaded once per process."""
    from faster_whisper import WhisperModel

    started = time.perf_counter()
    is_local = Path(model).is_dir()
    try:
        # local_files_only for names: a model hub may be unreachable; fail fast with advice instead.
        loaded = WhisperModel(model, device=device, compute_type=compute_type, cpu_threads=cpu_threads,
                              local_files_only=not is_local)
    except Exception as exc:  # ctranslate2/huggingface raise assorted types
        hint = (
            "check that the directory holds a CTranslate2 Whisper model"
            if is_local
            else "set asr.model to 'base' (the assembled default), a CTranslate2 model directory, or a "
            "name whose converted model is in the local Hugging Face cache"
        )
        raise ModelError(f"cannot load Whisper model {model!r} on {device}/{compute_type}: {exc}; {hint}") from exc
    logger.info("loaded Whisper %s on %s/%s in %.1f s", model, device, compute_type, time.perf_counter() - started)
    return loaded


class AsrEngine:
    """Holds a loaded Whisper model and the decoding options; turns call recordings into transcripts."""

    def __init__(self, asr: AsrSettings, models_dir: str | Path):
        self.settings = asr
        self.model_path = resolve_model(asr, models_dir)
        self.model_id = DEFAULT_MODEL_NAME if asr.model.strip() in DEFAULT_MODEL_ALIASES else asr.model
        self.device, self.compute_type = resolve_device(asr)
        self.model = load_whisper(self.model_path, self.device, self.compute_type, asr.cpu_threads)
        # The batched pipeline needs VAD (or clip timestamps) to cut audio into 30 s chunks.
        self.batched = asr.batch_size > 0 and asr.vad
        self._pipeline = None
        if self.batched:
            from faster_whisper import BatchedInferencePipeline

            self._pipeline = BatchedInferencePipeline(model=self.model)
        self.initial_prompt = asr.initial_prompt or default_prompt(asr.hotwords)
        self.hotwords = "，".join(asr.hotwords) or None

    @property
    def options(self) -> dict[str, Any]:
        """The resolved options every transcript records."""
        import ctranslate2
        import faster_whisper

        s = self.settings
        return {
            "model": self.model_id,
            "model_path": self.model_path,
            "device": self.device,
            "compute_type": self.compute_type,
            "cpu_threads": s.cpu_threads,
            "beam_size": s.beam_size,
            "batch_size": s.batch_size if self.batched else 0,
            "language": s.language,
            "vad": s.vad,
            "vad_min_silence_ms": s.vad_min_silence_ms,
            "word_timestamps": s.word_timestamps,
            "hotwords": self.hotwords,
            "initial_prompt": self.initial_prompt,
            "condition_on_previous_text": s.condition_on_previous_text,
            "no_speech_threshold": s.no_speech_threshold,
            "log_prob_threshold": s.log_prob_threshold,
            "compression_ratio_threshold": s.compression_ratio_threshold,
            "temperature_fallback": s.temperature_fallback,
            "faster_whisper": faster_whisper.__version__,
            "ctranslate2": ctranslate2.__version__,
        }

    def transcribe_samples(self, samples: np.ndarray) -> list[AsrSegment]:
        """Raw Whisper segments (times in seconds of ``samples``) for one 16 kHz mono channel."""
        if len(samples) == 0 or float(np.max(np.abs(samples))) < _SILENT_PEAK:
            return []
        s = self.settings
        common = transcribe_kwargs(s, self.initial_prompt, self.hotwords)
        # Only asr.temperature_fallback samples. CTranslate2 has no per-call seed: its generator is thread-local and
        # seeded once, at the first sampled decode in the thread; set_random_seed only fixes that first seed. So with
        # fallback on, a call's text depends on what the process sampled before (a resumed run can differ from an
        # uninterrupted one: demo C006 gave 10 utterances vs 7). The default (off) never samples.
        import ctranslate2

        ctranslate2.set_random_seed(SAMPLING_SEED)
        if self._pipeline is not None:
            segments, _ = self._pipeline.transcribe(samples, batch_size=s.batch_size, **common)
        else:
            segments, _ = self.model.transcribe(samples, **common)
        out = []
        for seg in segments:  # consume the generator here: stages hand over concrete records
            # float(): faster-whisper hands back numpy scalars in places; records hold plain floats.
            words = tuple(Word(round(float(w.start), 3), round(float(w.end), 3), w.word, round(float(w.probability), 4))
                          for w in (seg.words or ()))
            out.append(AsrSegment(round(float(seg.start), 3), round(float(seg.end), 3), seg.text,
                                  float(seg.avg_logprob), float(seg.no_speech_prob),
                                  float(seg.compression_ratio), words))
        return out

    def transcribe_channels(
        self, channels: Sequence[ChannelAudio], interaction_id: str, extra_options: dict[str, Any] | None = None
    ) -> Transcript:
        """Transcribe each party's channel, guard, merge by start time, and compute call metrics."""
        rows: list[tuple[AsrSegment, Role]] = []
        dropped: list[dict[str, Any]] = []
        for ch in channels:
            kept, rejected = guard_segments(self.transcribe_samples(ch.samples), self.settings)
            rows.extend((seg, ch.role) for seg in kept)
            dropped.extend({**d, "role": ch.role.value, "channel": ch.channel} for d in rejected)
        rows.sort(key=lambda r: (r[0].start, r[0].end))
        utterances = tuple(
            Utterance(interaction_id, idx, role, seg.start, seg.end, seg.text, round(seg.avg_logprob, 4),
                      round(seg.no_speech_prob, 4), seg.words)
            for idx, (seg, role) in enumerate(rows)
        )
        duration = max((len(ch.samples) for ch in channels), default=0) / SAMPLE_RATE
        options = {**self.options, "channels": [{"channel": c.channel, "role": c.role.value} for c in channels],
                   **(extra_options or {})}
        return Transcript(
            interaction_id=interaction_id,
            utterances=utterances,
            metrics=compute_call_metrics(interaction_id, utterances, duration),
            language=self.settings.language,
            model=self.model_id,
            options=options,
            dropped=tuple(sorted(dropped, key=lambda d: d["start"])),
        )

    def transcribe_call(self, path: str | Path, interaction_id: str, agent_channel: int | None = None) -> Transcript:
        """Decode, split by role and transcribe one recording. Raises :class:`AudioError` for bad audio.

        ``agent_channel`` None means the site default (``asr.default_agent_channel``).
        """
        audio = decode_audio(path, self.settings.max_duration_s)
        if agent_channel is None:
            agent_channel = self.settings.default_agent_channel
        channels = split_roles(audio, agent_channel)
        started = time.perf_counter()
        transcript = self.transcribe_channels(
            channels, interaction_id,
            {"source_sample_rate": audio.source_rate, "source_channels": audio.source_channels,
             "agent_channel": agent_channel if len(channels) == 2 else None},
        )
        logger.debug("%s: %d utterances from %.1f s of audio in %.1f s", interaction_id,
                     len(transcript.utterances), audio.duration_s, time.perf_counter() - started)
        return transcript

    def transcribe_batch(
        self, items: Iterable[CallAudio | tuple[str | Path, str, int | None]]
    ) -> list[Transcript | AudioError]:
        """Transcribe calls in order; a bad recording yields its :class:`AudioError` in place, the rest go on."""
        results: list[Transcript | AudioError] = []
        for item in items:
            call = item if isinstance(item, CallAudio) else CallAudio(*item)
            try:
                results.append(self.transcribe_call(call.path, call.interaction_id, call.agent_channel))
            except AudioError as exc:
                logger.warning("%s: skipped: %s", call.interaction_id, exc)
                results.append(exc)
        return results


def transcribe_kwargs(s: AsrSettings, initial_prompt: str | None, hotwords: str | None) -> dict[str, Any]:
    """The keyword arguments voc passes to ``WhisperModel.transcribe`` for these settings (bench/asr compares them
    with the library's own defaults)."""
    kwargs: dict[str, Any] = {
        "language": s.language,
        "beam_size": s.beam_size,
        "word_timestamps": s.word_timestamps,
        "initial_prompt": initial_prompt,
        "hotwords": hotwords,
        "no_speech_threshold": s.no_speech_threshold,
        "log_prob_threshold": s.log_prob_threshold,
        "compression_ratio_threshold": s.compression_ratio_threshold,
        "condition_on_previous_text": s.condition_on_previous_text,
        "vad_filter": s.vad,
        "vad_parameters": {"min_silence_duration_ms": s.vad_min_silence_ms} if s.vad else None,
    }
    if not s.temperature_fallback:
        kwargs["temperature"] = 0.0
    return kwargs


SAMPLING_SEED = 42  # seeds the sampler of the first sampled decode in a thread only (see transcribe_samples)


def default_prompt(hotwords: Sequence[str]) -> str | None:
    """A Simplified-Chinese prompt naming the domain words (steers spelling and script), or None."""
    if not hotwords:
        return None
    return f"以下是普通话客服电话录音，涉及：{'、'.join(hotwords)}。"


_engines: dict[tuple[str, str], AsrEngine] = {}
_engines_lock = threading.Lock()


def get_engine(asr: AsrSettings, models_dir: str | Path) -> AsrEngine:
    """The process-wide engine for these settings (built on first use, then reused)."""
    key = (asr.model_dump_json(), str(Path(models_dir).resolve()))
    with _engines_lock:
        engine = _engines.get(key)
        if engine is None:
            engine = _engines[key] = AsrEngine(asr, models_dir)
        return engine
