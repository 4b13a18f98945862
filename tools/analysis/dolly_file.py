#!/usr/bin/env python3
"""A second reader of the .dolly format, written from docs/FORMAT.md alone (numpy only).

It checks what a reader must check (magic, version, header and metadata CRC-32, lengths), lists
and verifies tensors, dequantizes every type to float32, and can compare a converted file with its
Hugging Face source, tensor by tensor (relative RMS error), undoing the QKV row reorder.

    tools/.venv/bin/python tools/analysis/dolly_file.py model.dolly                 # header + tensor table
    tools/.venv/bin/python tools/analysis/dolly_file.py model.dolly --verify        # + every tensor CRC-32
    tools/.venv/bin/python tools/analysis/dolly_file.py model.dolly --compare HF_DIR   # needs torch (+ safetensors)

Use it from Python: `f = DollyFile(path); w = f.dequantize("layers.0.mlp.up.weight")`.
"""
import argparse, json, mmap, os, struct, sys, zlib

import numpy as np

MAGIC = b"DOLLYFMT"
MAJOR = 1
BLOCK = 32
UNIT_BYTES = {"q8": 34, "q4": 18, "q8r16": 544, "q4r16": 288, "q4nr16": 288, "q3nr16": 224}  # per block / per 16-row tile
# The grid types' level tables (section 5, versions 1.1 and 1.2).
G4 = np.array([-63, -51, -41, -32, -24, -17, -10, -3, 3, 10, 17, 24, 32, 41, 51, 63], np.float32)
G3 = np.array([-52, -33, -18, -4, 9, 23, 40, 63], np.float32)
ELEMENT = {"f32": np.dtype("<f4"), "f16": np.dtype("<f2"), "bf16": np.dtype("<u2"), "u8": np.dtype("u1")}


class FormatError(Exception):
    pass


class DollyFile:
    def __init__(self, path):
        self.path = path
        with open(path, "rb") as f:
            self.buf = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        b = self.buf
        if len(b) < 64 or b[:8] != MAGIC:
            raise FormatError(f"{path}: not a .dolly file")
        major, minor, _flags, meta_off, meta_len, data_off, data_len, meta_crc, header_crc, file_len = \
            struct.unpack_from("<HHIQQQQIIQ", b, 8)
        if major > MAJOR:
            raise FormatError(f"{path}: format version {major}.{minor}; this reader implements {MAJOR}.x")
        if zlib.crc32(b[:52]) != header_crc:
            raise FormatError(f"{path}: header checksum mismatch")
        if data_off + data_len != file_len:  # file_length is outside the CRC: damage, not truncation
            raise FormatError(f"{path}: header damaged (file_length {file_len} != data_offset + data_length)")
        if meta_off + meta_len > data_off or data_off % 4096:
            raise FormatError(f"{path}: inconsistent section offsets")
        if file_len != len(b):
            raise FormatError(f"{path}: truncated ({len(b)} of {file_len} bytes)")
        meta = bytes(b[meta_off:meta_off + meta_len])
        if zlib.crc32(meta) != meta_crc:
            raise FormatError(f"{path}: metadata checksum mismatch")
        self.version = (major, minor)
        self.metadata = json.loads(meta)
        self.data_offset = data_off
        self.data_length = data_len
        self.tensors = {t["name"]: t for t in self.metadata["tensors"]}
        for t in self.tensors.values():
            if t["type"] == "q3nr16" and minor < 2:
                raise FormatError(f"{path}: q3nr16 in format 1.1's tile layout, which 1.2 replaced: convert again")
            if t["offset"] % 64 or t["offset"] + t["bytes"] > data_len or t["bytes"] != expected_bytes(t):
                raise FormatError(f"{path}: tensor {t['name']} has a bad offset or size")

    def raw(self, name):
        t = self.tensors[name]
        start = self.data_offset + t["offset"]
        return np.frombuffer(self.buf, np.uint8, t["bytes"], start)

    def verify(self, name):
        return f"{zlib.crc32(self.raw(name)):08x}" == self.tensors[name]["crc32"]

    def dequantize(self, name):
        t = self.tensors[name]
        kind, shape, raw = t["type"], t["shape"], self.raw(name)
        if kind in ("f32", "f16"):
            return raw.view(ELEMENT[kind]).astype(np.float32).reshape(shape)
        if kind == "bf16":
            return (raw.view("<u2").astype(np.uint32) << 16).view(np.float32).reshape(shape)
        if kind == "u8":
            return raw.copy()
        rows, cols = shape
        nb = cols // BLOCK
        if kind == "q8":
            blocks = raw.reshape(rows, nb, 34)
            d = blocks[:, :, :2].copy().view("<f2").astype(np.float32)
            q = blocks[:, :, 2:].copy().view(np.int8).astype(np.float32)
            return (q * d).reshape(rows, cols)
        if kind == "q4":
            blocks = raw.reshape(rows, nb, 18)
            d = blocks[:, :, :2].copy().view("<f2").astype(np.float32)
            qs = blocks[:, :, 2:]
            n = np.concatenate([qs & 15, qs >> 4], axis=2).astype(np.float32) - 8
            return (n * d).reshape(rows, cols)
        # Row-interleaved tiles: groups of 16 rows, one tile per block column.
        groups = (rows + 15) // 16
        tiles = raw.reshape(groups, nb, UNIT_BYTES[kind])
        d = tiles[:, :, :32].copy().view("<f2").astype(np.float32)          # (groups, nb, 16 rows)
        body = tiles[:, :, 32:]
        if kind in ("q4r16", "q4nr16"):
            v = body.reshape(groups, nb, 4, 16, 4)                           # (.., j, row, i)
            if kind == "q4r16":
                lo, hi = (v & 15).astype(np.float32) - 8, (v >> 4).astype(np.float32) - 8
            else:
                lo, hi = G4[v & 15], G4[v >> 4]
            # value 8j+i in the low nibble, 8j+4+i in the high nibble
            vals = np.stack([lo, hi], axis=4)                                 # (.., j, row, lo/hi, i)
            vals = vals.transpose(0, 3, 1, 2, 4, 5).reshape(groups, 16, nb, 32)
        elif kind == "q3nr16":
            A, B, C = (body[:, :, 64 * v:64 * v + 64].reshape(groups, nb, 16, 4) for v in range(3))  # (.., row, i)
            n = np.stack([A & 7, A >> 3 & 7, B & 7, B >> 3 & 7, C & 7, C >> 3 & 7,
                          A >> 6 | (B >> 6 & 1) << 2, B >> 7 | (C >> 6) << 1], axis=2)  # (.., k, row, i): weight 4k+i
            vals = G3[n].transpose(0, 3, 1, 2, 4).reshape(groups, 16, nb, 32)
        else:
            v = body.reshape(groups, nb, 8, 16, 4).astype(np.int32) - 128    # (.., k, row, i): value 4k+i
            vals = v.transpose(0, 3, 1, 2, 4).reshape(groups, 16, nb, 32).astype(np.float32)
        vals = vals * d.transpose(0, 2, 1)[:, :, :, None]
        return vals.reshape(groups * 16, cols)[:rows]


def expected_bytes(t):
    kind, shape = t["type"], t["shape"]
    if kind in ELEMENT:
        return int(np.prod(shape)) * ELEMENT[kind].itemsize
    rows, cols = shape
    if cols % BLOCK:
        return -1
    if kind in ("q8", "q4"):
        return rows * (cols // BLOCK) * UNIT_BYTES[kind]
    return (rows + 15) // 16 * (cols // BLOCK) * UNIT_BYTES[kind]


def hf_name(name):
    """The Hugging Face tensor a .dolly tensor comes from (docs/FORMAT.md section 6)."""
    fixed = {"embed_in": "gpt_neox.embed_in.weight", "embed_out": "embed_out.weight",
             "final_norm.weight": "gpt_neox.final_layer_norm.weight", "final_norm.bias": "gpt_neox.final_layer_norm.bias"}
    if name in fixed:
        return fixed[name]
    _, i, rest = name.split(".", 2)
    parts = {"input_norm": "input_layernorm", "post_attention_norm": "post_attention_layernorm",
             "attention.qkv": "attention.query_key_value", "attention.out": "attention.dense",
             "mlp.up": "mlp.dense_h_to_4h", "mlp.down": "mlp.dense_4h_to_h"}
    module, leaf = rest.rsplit(".", 1)
    return f"gpt_neox.layers.{i}.{parts[module]}.{leaf}"


def qkv_source_rows(hidden, heads):
    d = hidden // heads
    r = np.arange(3 * hidden)
    return 3 * d * ((r % hidden) // d) + d * (r // hidden) + (r % d)


def load_hf(folder):
    import torch
    state = {}
    for name in sorted(os.listdir(folder)):
        full = os.path.join(folder, name)
        if name.endswith(".safetensors"):
            from safetensors.torch import load_file
            state.update(load_file(full))
        elif name.endswith(".bin"):
            state.update(torch.load(full, map_location="cpu", weights_only=True))
    return {k: v.float().numpy() for k, v in state.items()}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("file")
    ap.add_argument("--verify", action="store_true", help="check every tensor's CRC-32")
    ap.add_argument("--compare", metavar="HF_DIR", help="relative RMS error of every tensor against its source")
    args = ap.parse_args()
    try:
        f = DollyFile(args.file)
    except (FormatError, OSError, ValueError) as e:
        sys.exit(f"dolly_file: error: {e}")
    m = f.metadata["model"]
    print(f"format {f.version[0]}.{f.version[1]}, {len(f.tensors)} tensors, recipe {f.metadata['quantization']['recipe']}, "
          f"hidden {m['hidden_size']}, layers {m['num_hidden_layers']}, vocab {m['vocab_size']}")
    reference = load_hf(args.compare) if args.compare else None
    bad = 0
    for name, t in f.tensors.items():
        line = f"  {name:38s} {t['type']:6s} {str(t['shape']):16s}"
        if args.verify:
            ok = f.verify(name)
            bad += not ok
            line += "  crc ok" if ok else "  CRC MISMATCH"
        if reference is not None and t["type"] != "u8":
            w = f.dequantize(name)
            src = reference[hf_name(name)]
            if name.endswith("attention.qkv.weight") or name.endswith("attention.qkv.bias"):
                src = src[qkv_source_rows(m["hidden_size"], m["num_attention_heads"])]
            err = np.sqrt(np.mean((w - src) ** 2)) / max(np.sqrt(np.mean(src ** 2)), 1e-30)
            line += f"  rel. RMS error {err:.5f}"
        print(line)
    if bad:
        sys.exit(f"dolly_file: error: {bad} tensor(s) fail their checksum")


if __name__ == "__main__":
    main()
