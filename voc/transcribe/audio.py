"""Decode call recordings (anything PyAV reads) to 16 kHz float32 channels and tag them with roles.

Stereo: one channel per party (``agent_channel`` says which is the agent). Mono, or stereo whose two
channels carry the same signal: one channel with role ``unknown``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from voc.records import Role

logger = logging.getLogger(__name__)

SAMPLE_RATE = 16_000


class AudioError(Exception):
    """A recording cannot be used (missing, empty, corrupt, too long); the call is skipped with ``reason``."""

    def __init__(self, path: str | Path, reason: str):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")

    def __reduce__(self):  # keep picklable across process pools / Airflow XCom
        return (type(self), (self.path, self.reason))


@dataclass(frozen=True, slots=True)
class ChannelAudio:
    """One party's audio: 16 kHz mono float32 samples."""

    role: Role
    channel: int  # index in the source file
    samples: np.ndarray

    @property
    def duration_s(self) -> float:
        return len(self.samples) / SAMPLE_RATE


@dataclass(frozen=True, slots=True)
class DecodedAudio:
    path: str
    channels: tuple[np.ndarray, ...]  # 1 or 2 arrays at 16 kHz
    source_rate: int
    source_channels: int

    @property
    def duration_s(self) -> float:
        return len(self.channels[0]) / SAMPLE_RATE if self.channels else 0.0


def decode_audio(path: str | Path, max_duration_s: float | None = None) -> DecodedAudio:
    """Decode ``path`` to one (mono) or two (stereo) 16 kHz float32 arrays.

    Files with more than two channels keep their first two. Raises :class:`AudioError` when the
    file is missing, unreadable, has no audio stream, holds no samples, or is longer than
    ``max_duration_s``.
    """
    import av  # heavy: FFmpeg bindings

    path = Path(path)
    if not path.is_file():
        raise AudioError(path, "file not found")
    if path.stat().st_size == 0:
        raise AudioError(path, "empty file (0 bytes)")
    try:
        with av.open(str(path), mode="r", metadata_errors="ignore") as container:
            if not container.streams.audio:
                raise AudioError(path, "no audio stream in file")
            stream = container.streams.audio[0]
            n_src = stream.codec_context.channels or 1
            src_rate = stream.codec_context.sample_rate or 0
            # Reject over-long files from the header before spending time decoding them.
            header_s = float(container.duration) / av.time_base if container.duration else None
            if max_duration_s is not None and header_s is not None and header_s > max_duration_s * 1.01:
                raise AudioError(path, f"too long: {header_s:.0f} s > asr.max_duration_s={max_duration_s:.0f} s")
            layout = "stereo" if n_src >= 2 else "mono"
            resampler = av.audio.resampler.AudioResampler(format="s16", layout=layout, rate=SAMPLE_RATE)
            chunks: list[np.ndarray] = []
            n_samples = 0
            limit = None if max_duration_s is None else int(max_duration_s * SAMPLE_RATE) + SAMPLE_RATE
            for frame in _frames(container, stream):
                for out in resampler.resample(frame):
                    arr = out.to_ndarray().reshape(-1)
                    chunks.append(arr)
                    n_samples += len(arr) // (2 if layout == "stereo" else 1)
                if limit is not None and n_samples > limit:
                    raise AudioError(path, f"too long: more than asr.max_duration_s={max_duration_s:.0f} s of audio")
            for out in resampler.resample(None):
                chunks.append(out.to_ndarray().reshape(-1))
    except AudioError:
        raise
    except (av.error.FFmpegError, ValueError, OSError) as exc:
        raise AudioError(path, f"cannot decode audio ({type(exc).__name__}: {exc})") from exc
    if not chunks:
        raise AudioError(path, "no audio samples decoded (empty or truncated file)")
    interleaved = np.concatenate(chunks).astype(np.float32) / 32768.0
    if layout == "stereo":
        channels: tuple[np.ndarray, ...] = (interleaved[0::2].copy(), interleaved[1::2].copy())
    else:
        channels = (interleaved,)
    if len(channels[0]) == 0:
        raise AudioError(path, "no audio samples decoded (empty or truncated file)")
    if max_duration_s is not None and len(channels[0]) / SAMPLE_RATE > max_duration_s:
        raise AudioError(path, f"too long: {len(channels[0]) / SAMPLE_RATE:.0f} s > asr.max_duration_s={max_duration_s:.0f} s")
    return DecodedAudio(str(path), channels, src_rate, n_src)


def _frames(container, stream):
    import av

    # Skip undecodable frames in the middle (as faster-whisper does) but fail if nothing decodes.
    iterator = container.decode(stream)
    while True:
        try:
            frame = next(iterator)
        except StopIteration:
            return
        except av.error.InvalidDataError:
            continue
        frame.pts = None
        yield frame


def same_signal(a: np.ndarray, b: np.ndarray, tol: float = 1e-3) -> bool:
    """True when two channels carry the same audio (mono saved as stereo)."""
    if len(a) != len(b):
        return False
    return float(np.max(np.abs(a - b), initial=0.0)) <= tol


def split_roles(audio: DecodedAudio, agent_channel: int | None) -> list[ChannelAudio]:
    """Tag channels with roles: stereo = agent + customer, mono (or duplicated stereo) = unknown.

    ``agent_channel`` None on a stereo file means the layout is unknown: both channels are kept but
    tagged ``unknown`` so no role is guessed wrongly. Callers pass ``asr.default_agent_channel``
    when the site's layout is known.
    """
    if len(audio.channels) == 1 or same_signal(*audio.channels):
        return [ChannelAudio(Role.UNKNOWN, 0, audio.channels[0])]
    if agent_channel is None:
        return [ChannelAudio(Role.UNKNOWN, i, ch) for i, ch in enumerate(audio.channels)]
    if agent_channel not in (0, 1):
        raise AudioError(audio.path, f"agent_channel={agent_channel} but a stereo file has channels 0 and 1")
    customer = 1 - agent_channel
    return [
        ChannelAudio(Role.AGENT, agent_channel, audio.channels[agent_channel]),
        ChannelAudio(Role.CUSTOMER, customer, audio.channels[customer]),
    ]
