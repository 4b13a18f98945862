#!/usr/bin/env python3
"""A random LoRA adapter in PEFT's saved layout for any GPT-NeoX model folder, without loading the model.

    make_shaped_adapter.py MODEL_FOLDER OUT_FOLDER [--r 16] [--alpha 32] [--dtype f32|bf16]

Writes OUT_FOLDER/adapter_config.json (peft's own LoraConfig.save_pretrained) and
adapter_model.safetensors with every layer's query_key_value, dense, dense_h_to_4h and dense_4h_to_h
lora_A [r, in] and lora_B [out, r] (random, non-zero), named as PeftModel.save_pretrained names them.
A 3b-shaped r=16 adapter is 84 MB in f32 (PEFT keeps adapter weights in f32 by default), made in seconds,
where PEFT itself would first build the 2.8B-parameter model. Before writing, the names and shapes are
checked against a real PEFT save of the tiny fixture checkpoint (get_peft_model + get_peft_model_state_dict).
For benchmarks (BENCHMARKS.md, "LoRA merged at conversion"); never committed.
"""
import argparse, json, os, sys

import torch
from safetensors.torch import save_file

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.realpath(__file__))))  # tools/: toolpaths
from toolpaths import FIXTURES  # noqa: E402

TARGETS = {"query_key_value": "attention", "dense": "attention", "dense_h_to_4h": "mlp", "dense_4h_to_h": "mlp"}


def shapes(cfg, r):
    """name -> shape of every tensor PEFT saves, for a config.json dict."""
    h = cfg["hidden_size"]
    f = cfg.get("intermediate_size") or 4 * h
    io = {"query_key_value": (h, 3 * h), "dense": (h, h), "dense_h_to_4h": (h, f), "dense_4h_to_h": (f, h)}
    out = {}
    for i in range(cfg["num_hidden_layers"]):
        for module, (inp, outp) in io.items():
            key = f"base_model.model.gpt_neox.layers.{i}.{TARGETS[module]}.{module}"
            out[key + ".lora_A.weight"] = (r, inp)
            out[key + ".lora_B.weight"] = (outp, r)
    return out


def check_against_peft(r):
    """Our names and shapes for the tiny fixture equal what PEFT saves for it."""
    from peft import LoraConfig, get_peft_model, get_peft_model_state_dict
    from transformers import GPTNeoXForCausalLM
    folder = os.path.join(FIXTURES, "tiny-safetensors")
    model = get_peft_model(GPTNeoXForCausalLM.from_pretrained(folder),
                           LoraConfig(r=r, lora_alpha=2 * r, target_modules=list(TARGETS), task_type="CAUSAL_LM"))
    saved = {k: tuple(v.shape) for k, v in get_peft_model_state_dict(model).items()}
    with open(os.path.join(folder, "config.json")) as f:
        ours = shapes(json.load(f), r)
    assert saved == ours, f"PEFT saves {sorted(set(saved) ^ set(ours))[:4]} differently"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model")
    ap.add_argument("out")
    ap.add_argument("--r", type=int, default=16)
    ap.add_argument("--alpha", type=float, default=32)
    ap.add_argument("--dtype", choices=["f32", "bf16"], default="f32")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    check_against_peft(a.r)
    from peft import LoraConfig
    with open(os.path.join(a.model, "config.json")) as f:
        cfg = json.load(f)
    g = torch.Generator().manual_seed(a.seed)
    dtype = torch.float32 if a.dtype == "f32" else torch.bfloat16
    tensors = {}
    for name, (rows, cols) in shapes(cfg, a.r).items():
        # nn.Linear's Kaiming-uniform bound for A (fan-in cols); B small, as after a short fine-tune.
        bound = cols ** -0.5 if name.endswith("lora_A.weight") else 0.01
        tensors[name] = ((torch.rand(rows, cols, generator=g) * 2 - 1) * bound).to(dtype).contiguous()
    os.makedirs(a.out, exist_ok=True)
    save_file(tensors, os.path.join(a.out, "adapter_model.safetensors"), metadata={"format": "pt"})
    LoraConfig(r=a.r, lora_alpha=a.alpha, target_modules=list(TARGETS), task_type="CAUSAL_LM",
               base_model_name_or_path=os.path.basename(os.path.normpath(a.model))).save_pretrained(a.out)
    print("wrote", a.out, len(tensors), "tensors", file=sys.stderr)


if __name__ == "__main__":
    main()
