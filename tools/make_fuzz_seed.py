#!/usr/bin/env python3
"""Writes Tests/Fixtures/fuzz/tiny-q4.dolly, the dolly-file fuzz target's seed: a whole 1-layer model
(vocab 32, hidden 32) small enough for libFuzzer's input limit, converted by our own converter.

    tools/.venv/bin/python tools/make_fuzz_seed.py --dolly .build/release/dolly
"""
import argparse, json, os, re, subprocess, tempfile

import torch
from safetensors.torch import save_file

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dolly", default=os.path.join(ROOT, ".build/release/dolly"))
    args = ap.parse_args()
    torch.manual_seed(0)
    V, H, F = 32, 32, 64
    with tempfile.TemporaryDirectory() as d:
        cfg = json.load(open(os.path.join(ROOT, "Tests/Fixtures/tiny-bin/config.json")))
        cfg.update(vocab_size=V, hidden_size=H, intermediate_size=F, num_hidden_layers=1,
                   num_attention_heads=2, max_position_embeddings=64)
        json.dump(cfg, open(os.path.join(d, "config.json"), "w"), indent=1)
        # The fuzz script's mini tokenizer (6 ids), so seed and harness agree.
        script = open(os.path.join(ROOT, "tools/fuzz.sh")).read()
        mini = re.search(r'seed-mini.json" <<\'JSON\'\n(.*?)\nJSON\n', script, re.S).group(1)
        open(os.path.join(d, "tokenizer.json"), "w").write(mini)

        def r(*shape):
            return (torch.randn(*shape) * 0.02).to(torch.bfloat16)

        ones, zeros = torch.ones(H, dtype=torch.bfloat16), torch.zeros(H, dtype=torch.bfloat16)
        p = "gpt_neox.layers.0."
        t = {"gpt_neox.embed_in.weight": r(V, H), "embed_out.weight": r(V, H),
             "gpt_neox.final_layer_norm.weight": ones, "gpt_neox.final_layer_norm.bias": zeros,
             p + "input_layernorm.weight": ones, p + "input_layernorm.bias": zeros,
             p + "post_attention_layernorm.weight": ones, p + "post_attention_layernorm.bias": zeros,
             p + "attention.query_key_value.weight": r(3 * H, H), p + "attention.query_key_value.bias": r(3 * H),
             p + "attention.dense.weight": r(H, H), p + "attention.dense.bias": r(H),
             p + "mlp.dense_h_to_4h.weight": r(F, H), p + "mlp.dense_h_to_4h.bias": r(F),
             p + "mlp.dense_4h_to_h.weight": r(H, F), p + "mlp.dense_4h_to_h.bias": r(H)}
        save_file({k: v.clone() for k, v in t.items()}, os.path.join(d, "model.safetensors"), metadata={"format": "pt"})
        out = os.path.join(ROOT, "Tests/Fixtures/fuzz/tiny-q4.dolly")
        os.makedirs(os.path.dirname(out), exist_ok=True)
        subprocess.run([args.dolly, "convert", d, "-o", out, "--quant", "q4", "-t", "1"], check=True)
        print(out, os.path.getsize(out), "bytes")


if __name__ == "__main__":
    main()
