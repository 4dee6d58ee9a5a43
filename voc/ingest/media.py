"""Audio checks at ingest: a reason a recording cannot be used (empty, wrong format, truncated, too big or too long),
found before any model touches it."""

from __future__ import annotations

import struct
from pathlib import Path

__all__ = ["AUDIO_EXTENSIONS", "check_audio"]

AUDIO_EXTENSIONS = {".wav", ".mp3", ".m4a", ".mp4", ".aac", ".ogg", ".opus", ".flac", ".amr", ".wma", ".webm"}


def check_audio(path: Path, max_bytes: float | None = None, max_seconds: float | None = None) -> str | None:
    """A reason the file cannot be used as audio, or None when it looks fine.

    ``max_bytes`` / ``max_seconds``: bigger or longer recordings are refused here, before a model spends an hour
    on them (the duration is the container's own figure; transcription checks the decoded length again)."""
    size = path.stat().st_size
    if size == 0:
        return "empty file (0 bytes)"
    if max_bytes is not None and size > max_bytes:
        return f"recording of {size / 2**20:,.0f} MB is over the limit of {max_bytes / 2**20:,.0f} MB (limits.max_audio_mb)"
    if path.suffix.lower() not in AUDIO_EXTENSIONS:
        return f"unsupported format '{path.suffix or '(no extension)'}' (expected one of {', '.join(sorted(AUDIO_EXTENSIONS))})"
    with path.open("rb") as fh:
        head = fh.read(64)
    if path.suffix.lower() == ".wav":
        reason = _check_wav(path, head, size)
        if reason:
            return reason
    try:
        import av

        with av.open(str(path)) as container:
            if not container.streams.audio:
                return "no audio stream in the file"
            stream = container.streams.audio[0]
            seconds = _duration(container, stream)
            if max_seconds is not None and seconds is not None and seconds > max_seconds:
                return f"recording of {seconds / 60:,.0f} min is longer than {max_seconds / 60:,.0f} min (asr.max_duration_s)"
            frames = 0
            for frame in container.decode(stream):
                frames += frame.samples
                if frames > 0:
                    break
            if frames == 0:
                return "no decodable audio frames (truncated or empty stream)"
    except Exception as exc:  # PyAV raises many error types for bad media
        return f"not a decodable audio file ({type(exc).__name__}: {str(exc)[:120]})"
    return None


def _check_wav(path: Path, head: bytes, size: int) -> str | None:
    if len(head) < 12 or head[:4] not in (b"RIFF", b"RF64") or head[8:12] != b"WAVE":
        return "not a WAV file (no RIFF/WAVE header) although it is named .wav"
    # Walk the chunks to find 'data' and compare its declared size with what the file holds.
    with path.open("rb") as fh:
        fh.seek(12)
        while True:
            hdr = fh.read(8)
            if len(hdr) < 8:
                return "truncated WAV: no 'data' chunk"
            cid, clen = hdr[:4], struct.unpack("<I", hdr[4:])[0]
            if cid == b"data":
                available = size - fh.tell()
                if available == 0:
                    return "truncated WAV: header only, no audio data"
                if clen not in (0, 0xFFFFFFFF) and available < clen * 0.98:
                    return f"truncated WAV: header declares {clen} bytes of audio, file holds {available}"
                return None
            fh.seek(clen + (clen & 1), 1)


def _duration(container, stream) -> float | None:
    if container.duration:
        return container.duration / 1_000_000  # AV_TIME_BASE
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    return None
