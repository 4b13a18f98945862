#!/usr/bin/env python3
"""Reference fixtures: tiny Dolly-shaped checkpoints in the published layout, plus transformers' output.

Writes under Tests/Fixtures/:
  tiny-bin/          config.json (Dolly's original key style) + tokenizer.json + bf16 pytorch_model.bin
                     carrying the legacy buffers the published Dolly files have
                     (attention.bias, attention.masked_bias, attention.rotary_emb.inv_freq)
  tiny-safetensors/  the same weights as one model.safetensors
  tiny-sharded/      the same weights as sharded safetensors with model.safetensors.index.json
  tiny-sequential/   use_parallel_residual=false, newer config key style (rope_parameters), other rope base
  reference.json     "parallel" (the three folders above) and "sequential", per prompt: input ids, transformers' fp32 logits, 32-token greedy ids

With --shape 3b|7b|12b it instead writes one full-size random bf16 checkpoint (never committed) to
--out, for conversion and benchmark runs.

Needs torch, transformers, safetensors, tokenizers (a venv under tools/, git-ignored).
"""
import argparse, base64, collections, json, math, os, shutil, sys

import numpy as np
import torch
from safetensors.torch import save_file
from tokenizers import Tokenizer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIX = os.path.join(ROOT, "Tests", "Fixtures")
TOKENIZER = os.path.join(FIX, "tokenizer.json")

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dolly_template import generation_prompt as dolly_prompt  # noqa: E402  (upstream PROMPT_FOR_GENERATION_FORMAT)


PROMPTS = [
    ("raw_short", "Hello", True),
    ("raw_sentence", "The quick brown fox jumps over the lazy dog, and then", True),
    ("raw_unicode", "Zürich café — naïve 東京 🙂 and    spaces\tand tabs", True),
    ("raw_code", "def fib(n):\n    return n if n < 2 else fib(n-1) + fib(n-2)\n", True),
    ("instr_capital", "What is the capital of France?", False),
    ("instr_poem", "Write a haiku about the sea.", False),
]

SHAPES = {  # published Dolly v2 sizes
    "3b": dict(hidden_size=2560, num_hidden_layers=32, num_attention_heads=32, base="EleutherAI/pythia-2.8b"),
    "7b": dict(hidden_size=4096, num_hidden_layers=32, num_attention_heads=32, base="EleutherAI/pythia-6.9b"),
    "12b": dict(hidden_size=5120, num_hidden_layers=36, num_attention_heads=40, base="EleutherAI/pythia-12b"),
}


def dolly_config(hidden, layers, heads, max_pos, base="EleutherAI/pythia-2.8b"):
    """config.json as Databricks published it (transformers 4.25 key style)."""
    return collections.OrderedDict([
        ("_name_or_path", base),
        ("architectures", ["GPTNeoXForCausalLM"]),
        ("bos_token_id", 0),
        ("custom_pipelines", {"text-generation": {"impl": "instruct_pipeline.InstructionTextGenerationPipeline",
                                                  "pt": "AutoModelForCausalLM", "tf": "TFAutoModelForCausalLM"}}),
        ("eos_token_id", 0),
        ("hidden_act", "gelu"),
        ("hidden_size", hidden),
        ("initializer_range", 0.02),
        ("intermediate_size", 4 * hidden),
        ("layer_norm_eps", 1e-05),
        ("max_position_embeddings", max_pos),
        ("model_type", "gpt_neox"),
        ("num_attention_heads", heads),
        ("num_hidden_layers", layers),
        ("rotary_emb_base", 10000),
        ("rotary_pct", 0.25),
        ("tie_word_embeddings", False),
        ("torch_dtype", "bfloat16"),
        ("transformers_version", "4.25.1"),
        ("use_cache", True),
        ("use_parallel_residual", True),
        ("vocab_size", 50280),
    ])


def newer_style(cfg, rope_theta, partial):
    """The same config in transformers 5's key style."""
    cfg = collections.OrderedDict(cfg)
    del cfg["rotary_emb_base"], cfg["rotary_pct"]
    cfg["rope_parameters"] = {"rope_type": "default", "rope_theta": rope_theta, "partial_rotary_factor": partial}
    cfg["transformers_version"] = "5.0.0"
    cfg["dtype"] = cfg.pop("torch_dtype")
    return cfg


def random_state_dict(cfg, seed, std_scale=1.0):
    """bf16 weights in the published order, including Dolly's legacy buffers."""
    g = torch.Generator().manual_seed(seed)
    h, L, V, P = cfg["hidden_size"], cfg["num_hidden_layers"], cfg["vocab_size"], cfg["max_position_embeddings"]
    heads = cfg["num_attention_heads"]
    rot = int((h // heads) * cfg.get("rotary_pct", 0.25))
    base = cfg.get("rotary_emb_base", 10000)

    def rnd(*shape, std):
        return (torch.randn(*shape, generator=g) * std * std_scale).to(torch.bfloat16)

    sd = collections.OrderedDict()
    sd["gpt_neox.embed_in.weight"] = rnd(V, h, std=1.0)
    for i in range(L):
        p = f"gpt_neox.layers.{i}."
        sd[p + "input_layernorm.weight"] = (1 + rnd(h, std=0.1).float()).to(torch.bfloat16)
        sd[p + "input_layernorm.bias"] = rnd(h, std=0.1)
        sd[p + "post_attention_layernorm.weight"] = (1 + rnd(h, std=0.1).float()).to(torch.bfloat16)
        sd[p + "post_attention_layernorm.bias"] = rnd(h, std=0.1)
        # Legacy buffers of transformers 4.25: causal mask, mask fill value, rotary frequencies.
        sd[p + "attention.bias"] = torch.tril(torch.ones(P, P, dtype=torch.bool)).view(1, 1, P, P)
        sd[p + "attention.masked_bias"] = torch.tensor(-1e9).to(torch.bfloat16)
        sd[p + "attention.rotary_emb.inv_freq"] = (
            1.0 / (base ** (torch.arange(0, rot, 2).float() / rot))).to(torch.bfloat16)
        sd[p + "attention.query_key_value.weight"] = rnd(3 * h, h, std=1.0 / math.sqrt(h))
        sd[p + "attention.query_key_value.bias"] = rnd(3 * h, std=0.1)
        sd[p + "attention.dense.weight"] = rnd(h, h, std=1.0 / math.sqrt(h))
        sd[p + "attention.dense.bias"] = rnd(h, std=0.1)
        sd[p + "mlp.dense_h_to_4h.weight"] = rnd(4 * h, h, std=1.0 / math.sqrt(h))
        sd[p + "mlp.dense_h_to_4h.bias"] = rnd(4 * h, std=0.1)
        sd[p + "mlp.dense_4h_to_h.weight"] = rnd(h, 4 * h, std=1.0 / math.sqrt(4 * h))
        sd[p + "mlp.dense_4h_to_h.bias"] = rnd(h, std=0.1)
    sd["gpt_neox.final_layer_norm.weight"] = (1 + rnd(h, std=0.1).float()).to(torch.bfloat16)
    sd["gpt_neox.final_layer_norm.bias"] = rnd(h, std=0.1)
    # A wide logit spread keeps greedy choices far from ties, so float summation order can't flip them.
    sd["embed_out.weight"] = rnd(V, h, std=3.0 / math.sqrt(h))
    return sd


LEGACY = ("attention.bias", "attention.masked_bias", "attention.rotary_emb.inv_freq")


def is_legacy(name):
    return name.endswith(LEGACY)


def write_folder(path, cfg, files):
    os.makedirs(path, exist_ok=True)
    with open(os.path.join(path, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    shutil.copyfile(TOKENIZER, os.path.join(path, "tokenizer.json"))
    with open(os.path.join(path, "tokenizer_config.json"), "w") as f:
        json.dump({"tokenizer_class": "GPTNeoXTokenizer", "bos_token": "<|endoftext|>",
                   "eos_token": "<|endoftext|>", "unk_token": "<|endoftext|>",
                   "additional_special_tokens": ["### End", "### Instruction:", "### Response:\n"]}, f, indent=2)
    for name, writer in files:
        writer(os.path.join(path, name))


def save_sharded(path, sd, shards):
    names = list(sd)
    per = math.ceil(len(names) / shards)
    weight_map, total = {}, 0
    for s in range(shards):
        part = names[s * per:(s + 1) * per]
        fname = f"model-{s + 1:05d}-of-{shards:05d}.safetensors"
        save_file({n: sd[n].contiguous() for n in part}, os.path.join(path, fname), metadata={"format": "pt"})
        for n in part:
            weight_map[n] = fname
            total += sd[n].numel() * sd[n].element_size()
    with open(os.path.join(path, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f, indent=2)


def load_hf(folder):
    from transformers import GPTNeoXForCausalLM
    model = GPTNeoXForCausalLM.from_pretrained(folder, dtype=torch.float32, attn_implementation="eager")
    model.eval()
    return model


def b64(arr):
    return base64.b64encode(np.asarray(arr, dtype="<f4").tobytes()).decode()


def reference_for(folder, tok):
    model = load_hf(folder)
    c = model.config
    record = {"config": {"hidden": c.hidden_size, "layers": c.num_hidden_layers,
                         "heads": c.num_attention_heads,
                         "rotary_ndims": int(c.hidden_size // c.num_attention_heads *
                                             c.rope_parameters.get("partial_rotary_factor", 1.0)),
                         "rope_theta": c.rope_parameters.get("rope_theta"),
                         "parallel_residual": c.use_parallel_residual},
              "prompts": []}
    for name, text, raw in PROMPTS:
        full = text if raw else dolly_prompt(text)
        ids = tok.encode(full).ids
        x = torch.tensor([ids])
        with torch.no_grad():
            logits = model(x).logits[0].float().numpy()  # (tokens, vocab)
            out = model.generate(x, attention_mask=torch.ones_like(x), do_sample=False, max_new_tokens=32,
                                 min_new_tokens=32, eos_token_id=None, pad_token_id=0,
                                 output_logits=True, return_dict_in_generate=True)
        greedy = out.sequences[0, len(ids):].tolist()
        last = logits[-1]
        # The smallest gap between the best and second-best logit over all greedy steps.
        margin = min(float(np.diff(np.sort(step[0].float().numpy())[-2:])[0]) for step in out.logits)
        record["prompts"].append({
            "name": name, "text": text, "raw": raw, "input_ids": ids,
            "last_logits_f32_b64": b64(last),
            "max_abs_logit": float(np.abs(logits).max()),
            # Every position's logits at a fixed id subset: checks the prompt pass, not just its end.
            "probe_ids": PROBE_IDS, "probe_logits_f32_b64": b64(logits[:, PROBE_IDS]),
            "greedy_ids": greedy, "greedy_text": tok.decode(greedy, skip_special_tokens=False),
            "top1_margin": margin,
        })
    return record


PROBE_IDS = [0, 1, 2, 13, 187, 310, 1000, 4321, 12345, 25000, 40000, 50253, 50254, 50276, 50277, 50278, 50279]


def make_tiny():
    tok = Tokenizer.from_file(TOKENIZER)
    cfg = dolly_config(hidden=32, layers=2, heads=2, max_pos=256)
    sd = random_state_dict(cfg, seed=1234)
    weights = collections.OrderedDict((k, v) for k, v in sd.items() if not is_legacy(k))
    write_folder(os.path.join(FIX, "tiny-bin"), cfg, [("pytorch_model.bin", lambda p: torch.save(sd, p))])
    write_folder(os.path.join(FIX, "tiny-safetensors"), cfg,
                 [("model.safetensors", lambda p: save_file(weights, p, metadata={"format": "pt"}))])
    write_folder(os.path.join(FIX, "tiny-sharded"), cfg, [("", lambda p: save_sharded(p, weights, 3))])

    seq = newer_style(dict(cfg, use_parallel_residual=False, num_hidden_layers=3), rope_theta=20000.0, partial=0.5)
    seq_cfg = dict(cfg, num_hidden_layers=3, rotary_pct=0.5, rotary_emb_base=20000.0)
    seq_sd = random_state_dict(seq_cfg, seed=99)
    seq_w = collections.OrderedDict((k, v) for k, v in seq_sd.items() if not is_legacy(k))
    write_folder(os.path.join(FIX, "tiny-sequential"), seq,
                 [("model.safetensors", lambda p: save_file(seq_w, p, metadata={"format": "pt"}))])

    write_reference(tok)


def write_reference(tok):
    # The three parallel-residual folders hold the same weights (a test asserts it): one reference serves them.
    ref = {}
    for name in ("tiny-bin", "tiny-sequential"):
        ref[name] = reference_for(os.path.join(FIX, name), tok)
        print(name, ref[name]["config"], "min top-1 margin",
              min(p["top1_margin"] for p in ref[name]["prompts"]), file=sys.stderr)
    assert ref["tiny-sequential"]["config"]["rotary_ndims"] == 8 and ref["tiny-sequential"]["config"]["rope_theta"] == 20000
    assert ref["tiny-bin"]["config"]["rotary_ndims"] == 4
    ref = {"parallel": ref["tiny-bin"], "sequential": ref["tiny-sequential"]}
    with open(os.path.join(FIX, "reference.json"), "w") as f:
        json.dump(ref, f, indent=1)
    print("wrote", FIX, file=sys.stderr)


def make_shape(shape, out, seed):
    """A full-size random checkpoint in the published layout (bf16 pytorch_model.bin + legacy buffers)."""
    s = SHAPES[shape]
    cfg = dolly_config(s["hidden_size"], s["num_hidden_layers"], s["num_attention_heads"], 2048, s["base"])
    sd = random_state_dict(cfg, seed, std_scale=0.02)
    write_folder(out, cfg, [("pytorch_model.bin", lambda p: torch.save(sd, p))])
    print("wrote", out, file=sys.stderr)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shape", choices=sorted(SHAPES), help="write one full-size random checkpoint instead")
    ap.add_argument("--out", help="output folder for --shape")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--reference-only", action="store_true",
                    help="rewrite reference.json from the committed tiny folders, leaving their weights alone")
    a = ap.parse_args()
    if a.shape:
        if not a.out:
            ap.error("--shape needs --out")
        make_shape(a.shape, a.out, a.seed)
    elif a.reference_only:
        write_reference(Tokenizer.from_file(TOKENIZER))
    else:
        make_tiny()


if __name__ == "__main__":
    main()
