#!/usr/bin/env python3
"""Reference logits for checkpoints with the head geometry of the real Dolly sizes, without
committing their weights.

dolly-v2-3b has 80-dim heads (20 rotary dims), 7b and 12b have 128-dim heads (32 rotary dims); the
tiny fixtures have 16. Committing a full-vocabulary checkpoint with such heads would cost tens of
MB, so the weights here come from a counter-based generator (splitmix64) that the Swift test
reimplements bit for bit: it rebuilds the same bf16 safetensors checkpoint in a temporary folder and
compares its logits with the ones written here. The vocabulary is cut to 1024 (prompts use ids
below it). Weights are scaled for unit-variance activations, so attention is far from uniform and
rotary positions matter: unlike the 0.02-initialised tiny fixtures, these logits move well past the
test's tolerance if the rotary base changes from 10000 to 20000.

Writes Tests/Fixtures/head_shapes.json.   tools/.venv/bin/python tools/make_head_shape_reference.py
"""
import base64, json, os

import numpy as np
import torch
from transformers import GPTNeoXConfig, GPTNeoXForCausalLM

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VOCAB = 1024
SHAPES = [  # name, hidden, heads: head size 16 as the tiny fixtures, 80 as in 3b, 128 as in 7b/12b
    ("head16", 32, 2),
    ("head80", 160, 2),
    ("head128", 256, 2),
]
LAYERS = 2
GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def splitmix64(counter):
    """counter: uint64 array. The generator's output for each counter value."""
    with np.errstate(over="ignore"):
        z = counter * GOLDEN + GOLDEN
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def uniform_bf16(stream, count, center, bound):
    """bf16 bit patterns of center + bound * (2u - 1), u uniform in [0, 1) with 24 bits, rounded to
    nearest even; every step in float32 so Swift reproduces it exactly."""
    counter = (np.uint64(stream) << np.uint64(32)) + np.arange(count, dtype=np.uint64)
    u = (splitmix64(counter) >> np.uint64(40)).astype(np.float32) * np.float32(1.0 / 16777216.0)
    x = np.float32(center) + (u * np.float32(2) - np.float32(1)) * np.float32(bound)
    bits = x.view(np.uint32)
    rounded = (bits + (((bits >> np.uint32(16)) & np.uint32(1)) + np.uint32(0x7FFF))) >> np.uint32(16)
    return rounded.astype(np.uint16)


def tensor_plan(hidden, vocab=VOCAB, layers=LAYERS):
    """(name, shape, center, bound) in stream order; the Swift test has the same list."""
    f = 4 * hidden
    plan = [("gpt_neox.embed_in.weight", [vocab, hidden], 0.0, 1.0)]
    for i in range(layers):
        p = f"gpt_neox.layers.{i}."
        plan += [
            (p + "input_layernorm.weight", [hidden], 1.0, 0.1),
            (p + "input_layernorm.bias", [hidden], 0.0, 0.1),
            (p + "post_attention_layernorm.weight", [hidden], 1.0, 0.1),
            (p + "post_attention_layernorm.bias", [hidden], 0.0, 0.1),
            (p + "attention.query_key_value.weight", [3 * hidden, hidden], 0.0, (3.0 / hidden) ** 0.5),
            (p + "attention.query_key_value.bias", [3 * hidden], 0.0, 0.1),
            (p + "attention.dense.weight", [hidden, hidden], 0.0, (3.0 / hidden) ** 0.5),
            (p + "attention.dense.bias", [hidden], 0.0, 0.1),
            (p + "mlp.dense_h_to_4h.weight", [f, hidden], 0.0, (3.0 / hidden) ** 0.5),
            (p + "mlp.dense_h_to_4h.bias", [f], 0.0, 0.1),
            (p + "mlp.dense_4h_to_h.weight", [hidden, f], 0.0, (3.0 / f) ** 0.5),
            (p + "mlp.dense_4h_to_h.bias", [hidden], 0.0, 0.1),
        ]
    plan += [
        ("gpt_neox.final_layer_norm.weight", [hidden], 1.0, 0.1),
        ("gpt_neox.final_layer_norm.bias", [hidden], 0.0, 0.1),
        ("embed_out.weight", [vocab, hidden], 0.0, (3.0 / hidden) ** 0.5),
    ]
    return plan


def b64(a):
    return base64.b64encode(np.asarray(a, dtype="<f4").tobytes()).decode()


def generated_model(hidden, heads, vocab=VOCAB, layers=LAYERS, max_pos=64):
    """transformers' GPTNeoXForCausalLM holding the generator's bf16 weights (fp32 compute)."""
    config = GPTNeoXConfig(vocab_size=vocab, hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=heads,
                           intermediate_size=4 * hidden, max_position_embeddings=max_pos, rotary_pct=0.25,
                           rotary_emb_base=10000, layer_norm_eps=1e-5, use_parallel_residual=True,
                           hidden_act="gelu", tie_word_embeddings=False)
    model = GPTNeoXForCausalLM(config).eval()
    state = {}
    for k, (tname, shape, center, bound) in enumerate(tensor_plan(hidden, vocab, layers)):
        bits = uniform_bf16(k, int(np.prod(shape)), center, bound).astype(np.uint32) << np.uint32(16)
        state["lm_head.weight" if tname == "embed_out.weight" else tname] = torch.from_numpy(bits.view(np.float32).reshape(shape).copy())
    missing, unexpected = model.load_state_dict(state, strict=False)
    assert not unexpected and all("rotary" in m or "masked_bias" in m or m.endswith("attention.bias") for m in missing), (missing, unexpected)
    return model


def main():
    rng = np.random.default_rng(7)
    prompts = [rng.integers(1, VOCAB, n).tolist() for n in (9, 23, 40)]
    out = {"vocab": VOCAB, "layers": LAYERS, "generator": "splitmix64, stream k = tensor index << 32", "shapes": []}
    for name, hidden, heads in SHAPES:
        model = generated_model(hidden, heads)
        cases = []
        with torch.no_grad():
            for ids in prompts:
                logits = model(torch.tensor([ids])).logits[0]
                greedy = model.generate(torch.tensor([ids]), max_new_tokens=16, do_sample=False, pad_token_id=0)[0, len(ids):]
                cases.append({"input_ids": ids, "last_logits_f32_b64": b64(logits[-1]),
                              "argmax_per_position": logits.argmax(-1).tolist(),
                              "max_abs_logit": float(logits.abs().max()), "greedy_ids": greedy.tolist()})
        out["shapes"].append({"name": name, "hidden": hidden, "heads": heads, "head_dim": hidden // heads,
                              "rotary_ndims": int(hidden // heads * 0.25), "prompts": cases})
        print(name, "head", hidden // heads, "max |logit|", max(c["max_abs_logit"] for c in cases))
    path = os.path.join(ROOT, "Tests/Fixtures/head_shapes.json")
    json.dump(out, open(path, "w"), indent=1)
    print(path, os.path.getsize(path), "bytes")


if __name__ == "__main__":
    main()
