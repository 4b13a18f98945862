#!/usr/bin/env python3
"""Writes a .dolly file of a full-size Dolly shape (3b, 7b, 12b) with placeholder weights, straight
from docs/FORMAT.md, in seconds instead of a checkpoint download and a conversion: for measuring
what depends on the file's size only (start-up, memory, `run --verify`, mapping against copying),
not answers (the weights are random with small scales: generation runs, for timing). Layer matrices are q4nr16 (--quant q4)
or q3nr16 (--quant q3), embeddings q8 / q8r16 (the recipes' layout); every CRC is right, so `dolly inspect --verify` passes.

    python3 tools/bench/make_shaped_dolly.py --shape 3b --tokenizer models/dolly-demo/tokenizer.json -o /tmp/3b-q4.dolly
    python3 tools/bench/make_shaped_dolly.py --shape 3b --quant q3 --tokenizer models/dolly-demo/tokenizer.json -o /tmp/3b-q3.dolly
"""
import argparse, json, os, struct, zlib

SHAPES = {"3b": (2560, 32, 32), "7b": (4096, 32, 32), "12b": (5120, 36, 40)}  # hidden, layers, heads
VOCAB = 50280


def nbytes(kind, rows, cols):
    if kind == "q8":
        return rows * cols // 32 * 34
    tile = {"q8r16": 544, "q4nr16": 288, "q3nr16": 224}[kind]
    return (rows + 15) // 16 * (cols // 32) * tile


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shape", choices=SHAPES, default="3b")
    ap.add_argument("--quant", choices=["q4", "q3"], default="q4", help="layer matrices q4nr16 or q3nr16")
    ap.add_argument("--tokenizer", required=True)
    ap.add_argument("-o", "--output", required=True)
    a = ap.parse_args()
    h, layers, heads = SHAPES[a.shape]
    f = 4 * h
    matrices = {"q4": "q4nr16", "q3": "q3nr16"}[a.quant]
    tokenizer = open(a.tokenizer, "rb").read()
    plan = [("tokenizer.json", "u8", [len(tokenizer)], len(tokenizer)), ("embed_in", "q8", [VOCAB, h], nbytes("q8", VOCAB, h))]
    for i in range(layers):
        p = f"layers.{i}."
        for n in ("input_norm", "post_attention_norm"):
            plan += [(p + n + ".weight", "f32", [h], 4 * h), (p + n + ".bias", "f32", [h], 4 * h)]
        for n, rows, cols in (("attention.qkv", 3 * h, h), ("attention.out", h, h), ("mlp.up", f, h), ("mlp.down", h, f)):
            plan += [(p + n + ".weight", matrices, [rows, cols], nbytes(matrices, rows, cols)), (p + n + ".bias", "f32", [rows], 4 * rows)]
    plan += [("final_norm.weight", "f32", [h], 4 * h), ("final_norm.bias", "f32", [h], 4 * h),
             ("embed_out", "q8r16", [VOCAB, h], nbytes("q8r16", VOCAB, h))]
    noise = os.urandom(1 << 20)
    # Whole blocks / tiles of random values with small scales (weights of about ±0.03), so that a
    # forward pass stays finite and generation runs (for timing it; the answers are noise).
    layouts = {"q8": (34, 2, 0.00025), "q8r16": (544, 32, 0.00025), "q4nr16": (288, 32, 0.0005),
               "q3nr16": (224, 32, 0.0005)}  # block, scale bytes, d (random indices are valid for both grids)
    patterns = {}
    for kind, (block, scale_bytes, d) in layouts.items():
        count = (1 << 20) // block
        pattern = bytearray(noise[:count * block])
        for b in range(count):
            pattern[b * block: b * block + scale_bytes] = struct.pack("<e", d) * (scale_bytes // 2)
        patterns[kind] = bytes(pattern)

    def content(name, kind, size):
        if kind == "u8":
            return tokenizer
        if kind == "f32":  # LayerNorm weight 1, everything else 0
            return struct.pack("<f", 1.0 if name.endswith("norm.weight") else 0.0) * (size // 4)
        pattern = patterns[kind]
        return (pattern * (size // len(pattern) + 1))[:size]

    tensors, offset = [], 0
    for name, kind, shape, size in plan:
        tensors.append({"name": name, "type": kind, "shape": shape, "offset": offset, "bytes": size, "crc32": "00000000"})
        offset = (offset + size + 63) // 64 * 64
    data_length = tensors[-1]["offset"] + tensors[-1]["bytes"]
    for t in tensors:  # CRCs first: the metadata must hold them before the data is written
        t["crc32"] = "%08x" % zlib.crc32(content(t["name"], t["type"], t["bytes"]))
    meta = json.dumps({
        "format": "dolly", "created_by": "tools/bench/make_shaped_dolly.py",
        "model": {"model_type": "gpt_neox", "hidden_size": h, "num_hidden_layers": layers, "num_attention_heads": heads,
                  "intermediate_size": f, "vocab_size": VOCAB, "max_position_embeddings": 2048, "rotary_pct": 0.25,
                  "rotary_emb_base": 10000.0, "layer_norm_eps": 1e-5, "use_parallel_residual": True, "hidden_act": "gelu",
                  "tie_word_embeddings": False, "attention_bias": True, "bos_token_id": 0, "eos_token_id": 0},
        "quantization": {"recipe": a.quant, "matrices": matrices, "embed_in": "q8", "embed_out": "q8r16", "vectors": "f32"},
        "source": {"format": "placeholder", "files": [], "config_crc32": "00000000"},
        "tokenizer": "tokenizer.json", "tensors": tensors}, sort_keys=True).encode()
    data_offset = (64 + len(meta) + 4095) // 4096 * 4096
    minor = 2 if matrices == "q3nr16" else 1  # docs/FORMAT.md: 2 when a tensor is q3nr16
    head = b"DOLLYFMT" + struct.pack("<HHIQQQQI", 1, minor, 0, 64, len(meta), data_offset, data_length, zlib.crc32(meta))
    head += struct.pack("<IQ", zlib.crc32(head), data_offset + data_length)
    tmp = a.output + ".part"
    with open(tmp, "wb") as out:
        out.write(head + meta + b"\0" * (data_offset - 64 - len(meta)))
        position = 0
        for t in tensors:
            out.write(b"\0" * (t["offset"] - position))
            out.write(content(t["name"], t["type"], t["bytes"]))
            position = t["offset"] + t["bytes"]
    os.replace(tmp, a.output)
    print(f"wrote {a.output}: {data_offset + data_length} bytes, {len(tensors)} tensors")


if __name__ == "__main__":
    main()
