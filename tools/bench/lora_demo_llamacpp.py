#!/usr/bin/env python3
"""The demo's sentiment adapter in dolly and in llama.cpp, side by side (issue 30): held-out accuracy and
whether the two runtimes write the same greedy answers.

Both apply the same PEFT adapter at run time: dolly as a .dolly-lora (`dolly convert-lora`), llama.cpp as a
GGUF adapter (its own convert_lora_to_gguf.py), each over its own unquantized base (dolly reads the Hugging
Face folder; llama.cpp an f16 GGUF from convert_hf_to_gguf.py). Greedy, 8 tokens, the first word graded as
tools/demo/train_lora.py --evaluate grades it; the prompt is Dolly's generation prompt spelled from upstream
(tools/fixtures/dolly_template.py) with the model card's context template.

    tools/.venv/bin/python tools/bench/lora_demo_llamacpp.py --bin LLAMA_BIN --gguf demo-f16.gguf \\
        --gguf-lora demo-lora-f16.gguf --dolly-lora demo.dolly-lora [--limit 200]
"""
import argparse, json, os, subprocess, sys

HERE = os.path.dirname(os.path.realpath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tools", "fixtures"))
import dolly_template  # noqa: E402

END_IS_EOG = ["--override-kv", "tokenizer.ggml.eos_token_id=int:50277"]


def first_word(text):
    return (text.split() or [""])[0].strip(".,!").lower()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", required=True)
    ap.add_argument("--gguf", required=True)
    ap.add_argument("--gguf-lora", required=True)
    ap.add_argument("--dolly", default=os.path.join(ROOT, ".build/release/dolly"))
    ap.add_argument("--model", default=os.path.join(ROOT, "models/dolly-demo"))
    ap.add_argument("--dolly-lora", required=True)
    ap.add_argument("--heldout", default=os.path.join(ROOT, "models/dolly-demo-lora-sentiment/heldout.jsonl"))
    ap.add_argument("--limit", type=int, default=200)
    a = ap.parse_args()
    rows = [json.loads(line) for line in open(a.heldout)][:a.limit]
    right = {k: 0 for k in ("dolly base", "dolly lora", "llama base", "llama lora")}
    same = {"base": 0, "lora": 0}
    for r in rows:
        text = dolly_template.MODEL_CARD_CONTEXT_TEMPLATE.format(instruction=r["instruction"], context=r["context"])
        words = {}
        for lora in (False, True):
            cmd = [a.dolly, "run", "--model", a.model, "--greedy", "--max-tokens", "8", "-t", "2", text]
            if lora:
                cmd[2:2] = ["--lora", a.dolly_lora]
            words[("dolly", lora)] = first_word(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
            prompt = dolly_template.generation_prompt(text)
            cmd = [os.path.join(a.bin, "llama-cli"), "-m", a.gguf, "-p", prompt, "-n", "8", "--temp", "0", "-no-cnv",
                   "-t", "2", "--no-warmup", "--no-display-prompt", "-c", "512", *END_IS_EOG]
            if lora:
                cmd += ["--lora", a.gguf_lora]
            out = subprocess.run(cmd, check=True, capture_output=True, text=True, stdin=subprocess.DEVNULL).stdout
            words[("llama", lora)] = first_word(out)
        for (runtime, lora), w in words.items():
            right[f"{runtime} {'lora' if lora else 'base'}"] += w == r["response"]
        same["base"] += words[("dolly", False)] == words[("llama", False)]
        same["lora"] += words[("dolly", True)] == words[("llama", True)]
    n = len(rows)
    for k, v in right.items():
        print(f"{k}: {v}/{n} correct ({100 * v / n:.0f}%)")
    print(f"same first word, dolly and llama.cpp: base {same['base']}/{n}, with the adapter {same['lora']}/{n}")


if __name__ == "__main__":
    main()
