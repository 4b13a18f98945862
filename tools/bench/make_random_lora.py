#!/usr/bin/env python3
"""Writes a .dolly-lora adapter with random A and B for a .dolly base, straight from docs/FORMAT.md
section 9 (a second writer beside `dolly convert-lora`): for measuring what an adapter costs at run time
(`dolly bench --lora`, `dolly serve --lora`), not answers. Every listed matrix of every layer gets a
rank-R delta, f16 or q8 (q8 where inputs and outputs are multiples of 32); every CRC is right.

    python3 tools/bench/make_random_lora.py --base /tmp/3b-q4.dolly --rank 16 -o /tmp/3b-r16.dolly-lora
"""
import argparse, json, os, struct, zlib

import numpy as np

MATRICES = [("attention.qkv", "query_key_value"), ("attention.out", "dense"),
            ("mlp.up", "dense_h_to_4h"), ("mlp.down", "dense_4h_to_h")]


def base_config(path):
    with open(path, "rb") as f:
        head = f.read(64)
        assert head[:8] == b"DOLLYFMT", f"{path} is not a .dolly file"
        meta_len, = struct.unpack_from("<Q", head, 24)
        meta = json.loads(f.read(meta_len))
    return meta["model"]


def encode(m, kind):
    """Rows of m as IEEE half values or q8 blocks (binary16 d = absmax / 127, then round(x / d))."""
    if kind == "f16":
        return m.astype("<f2").tobytes()
    rows, cols = m.shape
    blocks = m.reshape(rows, cols // 32, 32)
    d = (np.abs(blocks).max(axis=2) / 127).astype(np.float16)
    df = d.astype(np.float32)[..., None]
    q = np.clip(np.rint(np.divide(blocks, df, out=np.zeros_like(blocks), where=df != 0)), -127, 127).astype(np.int8)
    out = np.zeros((rows, cols // 32), dtype=[("d", "<f2"), ("qs", "i1", 32)])
    out["d"], out["qs"] = d, q
    return out.tobytes()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", required=True, help="the .dolly file the adapter is for (its shape)")
    ap.add_argument("--rank", type=int, default=16)
    ap.add_argument("--alpha", type=float, default=32)
    ap.add_argument("--type", choices=["f16", "q8"], default="f16")
    ap.add_argument("--targets", default="query_key_value,dense,dense_h_to_4h,dense_4h_to_h")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("-o", "--output", required=True)
    a = ap.parse_args()
    c = base_config(a.base)
    h, layers, heads = c["hidden_size"], c["num_hidden_layers"], c["num_attention_heads"]
    f = c.get("intermediate_size", 4 * h)
    shapes = {"attention.qkv": (3 * h, h), "attention.out": (h, h), "mlp.up": (f, h), "mlp.down": (h, f)}
    targets = a.targets.split(",")
    rng = np.random.default_rng(a.seed)
    data, tensors, pairs = bytearray(), [], []

    def add(name, kind, shape, raw):
        data.extend(b"\0" * (-len(data) % 64))
        tensors.append({"name": name, "type": kind, "shape": list(shape), "offset": len(data), "bytes": len(raw),
                        "crc32": "%08x" % (zlib.crc32(raw) & 0xFFFFFFFF)})
        data.extend(raw)

    for i in range(layers):
        for name, peft in MATRICES:
            if peft not in targets:
                continue
            out, inp = shapes[name]
            kind = a.type if a.type == "f16" or (inp % 32 == 0 and out % 32 == 0) else "f16"
            A = (rng.standard_normal((a.rank, inp)) / np.sqrt(inp)).astype(np.float32)
            Bt = (rng.standard_normal((a.rank, out)) * 0.01).astype(np.float32)  # B transposed, rows in file order
            add(f"layers.{i}.{name}.lora_a", kind, A.shape, encode(A, kind))
            add(f"layers.{i}.{name}.lora_bt", kind, Bt.shape, encode(Bt, kind))
            pairs.append({"layer": i, "matrix": name, "rank": a.rank, "scale": a.alpha / a.rank})
    meta = {"format": "dolly-lora", "created_by": "tools/bench/make_random_lora.py",
            "identity": f"random r={a.rank} seed={a.seed}", "rank": a.rank, "alpha": a.alpha,
            "targets": [p for _, p in MATRICES if p in targets],
            "base": {"hidden_size": h, "num_hidden_layers": layers, "num_attention_heads": heads, "intermediate_size": f},
            "qkv_rows": "split", "pairs": pairs, "tensors": tensors}
    js = json.dumps(meta, sort_keys=True).encode()
    data_offset = (64 + len(js) + 4095) // 4096 * 4096
    head = b"DOLLYLRA" + struct.pack("<HHIQQQQI", 1, 0, 0, 64, len(js), data_offset, len(data), zlib.crc32(js) & 0xFFFFFFFF)
    head += struct.pack("<I", zlib.crc32(head) & 0xFFFFFFFF) + struct.pack("<Q", data_offset + len(data))
    tmp = a.output + ".tmp"
    with open(tmp, "wb") as fo:
        fo.write(head + js + b"\0" * (data_offset - 64 - len(js)) + data)
    os.replace(tmp, a.output)
    print(f"{a.output}: {len(pairs)} matrices, rank {a.rank}, {a.type}, {(data_offset + len(data)) / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
