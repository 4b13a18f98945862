#!/usr/bin/env python3
"""A LoRA fine-tune of the demo model with PEFT, for one narrow task it does badly: review sentiment.

    python tools/demo/train_lora.py [--minutes 6]      # -> models/dolly-demo-lora-sentiment/
    python tools/demo/train_lora.py --evaluate DOLLY   # before/after accuracy through `dolly convert --lora` + `dolly run`

Task: "Is this review positive or negative?" with a one-sentence review as context; the answer is the
one word "positive" or "negative". Data is generated here (never from an evaluation set): subjects,
opinion phrases and sentence templates combined at random. The held-out examples use subjects and
templates that training never sees (the opinion phrases are shared: the task is reading them, not
learning new words), and are written beside the adapter (heldout.jsonl) so the evaluation is repeatable.

Training: PEFT LoraConfig(r=8, lora_alpha=16, the four layer matrices, dropout 0.05) on models/dolly-demo
in fp32, AdamW, loss on the response tokens and "### End" only (the prompt is context, as Dolly's own
training), on 2 threads for --minutes of wall-clock (or --steps). Saved with save_pretrained (safetensors).

Needs torch, transformers, tokenizers and peft==0.21.0 (tools/.venv).
"""
import argparse, json, os, random, subprocess, sys, tempfile, time

import torch

torch.set_num_threads(int(os.environ.get("DEMO_THREADS", "2")))

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.realpath(__file__))))  # tools/: toolpaths
from toolpaths import ROOT  # noqa: E402
import demo_data  # noqa: E402
import dolly_template  # noqa: E402  (tools/fixtures)

BASE = os.path.join(ROOT, "models", "dolly-demo")
OUT = os.path.join(ROOT, "models", "dolly-demo-lora-sentiment")
INSTRUCTION = "Is this review positive or negative? Answer with one word."

SUBJECTS_TRAIN = ["the movie", "this phone", "the hotel", "our dinner", "the book", "the concert", "this laptop",
                  "the service", "the new album", "the hiking trail", "this coffee", "the museum", "the app",
                  "the delivery", "the haircut", "this game", "the course", "the play", "the headphones", "the tour"]
SUBJECTS_HELDOUT = ["the restaurant", "this camera", "the flight", "the workshop", "the sofa", "the podcast",
                    "the bakery", "the train ride", "this jacket", "the festival"]
POSITIVE = ["was wonderful", "was absolutely delightful", "exceeded all my expectations", "made my day",
            "was a joy from start to finish", "was excellent", "was worth every penny", "was fantastic",
            "was better than I hoped", "left me smiling", "was great", "was superb", "is something I loved",
            "was a pleasant surprise", "felt perfect"]
NEGATIVE = ["was terrible", "was a complete waste of money", "disappointed me badly", "ruined my evening",
            "was awful from start to finish", "was dreadful", "broke after one day", "was boring",
            "was worse than I feared", "left me angry", "was a mess", "was horrible", "is something I hated",
            "was an unpleasant surprise", "felt broken"]
TEMPLATES_TRAIN = ["{s} {p}.", "Honestly, {s} {p}.", "I have to say {s} {p}.", "In my opinion {s} {p}.",
                   "{S} {p}, and I would say so again.", "Well, {s} {p}."]
TEMPLATES_HELDOUT = ["To be frank, {s} {p}.", "{S} {p}, if you ask me."]


def examples(n, subjects, templates, rng):
    rows = []
    for _ in range(n):
        label = rng.choice(["positive", "negative"])
        s, p = rng.choice(subjects), rng.choice(POSITIVE if label == "positive" else NEGATIVE)
        review = rng.choice(templates).format(s=s, S=s[0].upper() + s[1:], p=p)
        rows.append({"instruction": INSTRUCTION, "context": review, "response": label})
    return rows


def encode(tok, rows):
    out = []
    for r in rows:
        p = tok.encode(demo_data.prompt(r["instruction"], r["context"])).ids
        c = tok.encode(demo_data.completion(r["response"])).ids
        out.append((p, c))
    return out


def batch_loss(model, batch):
    T = max(len(p) + len(c) for p, c in batch)
    ids = torch.zeros(len(batch), T, dtype=torch.long)
    mask = torch.zeros(len(batch), T, dtype=torch.bool)
    for i, (p, c) in enumerate(batch):
        ids[i, :len(p) + len(c)] = torch.tensor(p + c)
        mask[i, len(p):len(p) + len(c)] = True
    h = model.base_model.model.gpt_neox(input_ids=ids).last_hidden_state
    sel = mask[:, 1:]
    logits = model.base_model.model.get_output_embeddings()(h[:, :-1][sel])  # only the response positions reach the 50280-way layer
    return torch.nn.functional.cross_entropy(logits, ids[:, 1:][sel])


def train(a):
    from peft import LoraConfig, get_peft_model
    from tokenizers import Tokenizer
    from transformers import GPTNeoXForCausalLM
    rng = random.Random(a.seed)
    torch.manual_seed(a.seed)
    tok = Tokenizer.from_file(os.path.join(BASE, "tokenizer.json"))
    train_rows = examples(4000, SUBJECTS_TRAIN, TEMPLATES_TRAIN, rng)
    heldout = examples(200, SUBJECTS_HELDOUT, TEMPLATES_HELDOUT, rng)
    data = encode(tok, train_rows)
    model = GPTNeoXForCausalLM.from_pretrained(BASE, dtype=torch.float32)
    model = get_peft_model(model, LoraConfig(r=8, lora_alpha=16, lora_dropout=0.05, task_type="CAUSAL_LM",
                                             target_modules=["query_key_value", "dense", "dense_h_to_4h", "dense_4h_to_h"]))
    model.train()
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=a.lr, weight_decay=0.0)
    start, step = time.time(), 0
    while (a.steps and step < a.steps) or (not a.steps and time.time() - start < a.minutes * 60):
        batch = [data[rng.randrange(len(data))] for _ in range(a.batch)]
        loss = batch_loss(model, batch)
        opt.zero_grad()
        loss.backward()
        opt.step()
        step += 1
        if step % 20 == 0:
            print(f"step {step} loss {loss.item():.4f} {time.time() - start:.0f} s", file=sys.stderr)
    seconds = time.time() - start
    model.save_pretrained(OUT)
    os.remove(os.path.join(OUT, "README.md"))
    path = os.path.join(OUT, "adapter_config.json")
    with open(path) as f:
        c = json.load(f)
    c["base_model_name_or_path"] = "models/dolly-demo"
    with open(path, "w") as f:
        json.dump(c, f, indent=2, sort_keys=True)
    with open(os.path.join(OUT, "heldout.jsonl"), "w") as f:
        for r in heldout:
            f.write(json.dumps(r) + "\n")
    with open(os.path.join(OUT, "training.json"), "w") as f:
        json.dump({"steps": step, "batch": a.batch, "lr": a.lr, "seconds": round(seconds, 1), "threads": torch.get_num_threads(),
                   "train_examples": len(train_rows), "final_loss": round(loss.item(), 4), "seed": a.seed}, f, indent=1)
    print(f"wrote {OUT}: {step} steps in {seconds:.0f} s, last loss {loss.item():.4f}", file=sys.stderr)


def evaluate(a):
    """Accuracy on heldout.jsonl: the first word of `dolly run --greedy` on the base and the merged file."""
    rows = [json.loads(line) for line in open(os.path.join(OUT, "heldout.jsonl"))]
    with tempfile.TemporaryDirectory() as d:
        files = {"base": os.path.join(d, "base.dolly"), "merged": os.path.join(d, "merged.dolly")}
        subprocess.run([a.evaluate, "convert", BASE, "-o", files["base"], "--quant", a.quant, "-t", "2"], check=True)
        subprocess.run([a.evaluate, "convert", BASE, "--lora", OUT, "-o", files["merged"], "--quant", a.quant, "-t", "2"], check=True)
        for name, path in files.items():
            right, answers = 0, {}
            for r in rows[:a.limit]:
                # The instruction with its context as the model card joins them: the prompt training used.
                text = dolly_template.MODEL_CARD_CONTEXT_TEMPLATE.format(instruction=r["instruction"], context=r["context"])
                out = subprocess.run([a.evaluate, "run", "--model", path, "--greedy", "--max-tokens", "8", "-t", "2", text],
                                     check=True, capture_output=True, text=True).stdout.strip()
                word = (out.split() or [""])[0].strip(".,!").lower()
                answers[word] = answers.get(word, 0) + 1
                right += word == r["response"]
            top = sorted(answers.items(), key=lambda kv: -kv[1])[:4]
            print(f"{name} ({a.quant}): {right}/{min(len(rows), a.limit)} correct; first words {top}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=6)
    ap.add_argument("--steps", type=int, default=0)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--evaluate", metavar="DOLLY", help="the dolly binary: report before/after accuracy instead of training")
    ap.add_argument("--quant", default="q8")
    ap.add_argument("--limit", type=int, default=200)
    a = ap.parse_args()
    evaluate(a) if a.evaluate else train(a)


if __name__ == "__main__":
    main()
