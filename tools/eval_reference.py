#!/usr/bin/env python3
"""Reference zero-shot scores with transformers, item by item, for cross-checking the Swift evaluator.

Reads the JSONL written by tools/export_eval_sets.py (default: the committed slices in Tests/Fixtures/eval)
and scores every choice of every item on an HF checkpoint folder (fp32 weights, eager attention) the way
EleutherAI lm-evaluation-harness scores loglikelihood requests:

  context, continuation = context, choice            (winogrande: each context with the one continuation)
  n = trailing spaces of context -> moved to the front of continuation   (none in these sets)
  whole = encode(context + continuation); ctx = encode(context); cont = whole[len(ctx):]   (no BOS)
  inp = (ctx + cont)[-(window + 1):][:-1]            window = max_position_embeddings (left truncation)
  logprob = sum over cont tokens of log_softmax(logits)[token]; is_greedy = every cont token is the argmax
  acc      = argmax_i logprob_i == label             (np.argmax: the first of equal maxima)
  acc_norm = argmax_i logprob_i / norm_len_i == label, norm_len = len(choice) - 1 characters (less the " ")
             (harness: len() of the doc_to_choice strings, which carry no delimiter); reported for all but
             winogrande and boolq (the harness reports acc only for those)

Writes one JSON with, per task, acc / acc_norm and per item: label, the context token ids (one list per
context: winogrande has two), and per choice: its continuation ids, norm_len, summed logprob, is_greedy, truncated.

  python tools/eval_reference.py --model models/dolly-demo --out Tests/Fixtures/eval/reference_demo.json
"""
import argparse, json, os, sys, time

import numpy as np
import torch

torch.set_num_threads(1)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TASKS = ["hellaswag", "piqa", "arc_easy", "arc_challenge", "openbookqa", "winogrande", "boolq"]
NO_NORM = {"winogrande", "boolq"}  # the harness reports acc only for these


def encode_pair(tok, context, continuation):
    n_spaces = len(context) - len(context.rstrip())
    if n_spaces > 0:
        continuation = context[-n_spaces:] + continuation
        context = context[:-n_spaces]
    whole = tok.encode(context + continuation).ids
    ctx = tok.encode(context).ids
    return ctx, whole[len(ctx):]


@torch.no_grad()
def loglikelihood(model, ctx, cont, window):
    full = ctx + cont
    truncated = len(full) > window + 1
    inp = full[-(window + 1):][:-1]
    logits = model(torch.tensor([inp])).logits[0].float()
    logp = torch.log_softmax(logits[-len(cont):], dim=-1)
    tgt = torch.tensor(cont)
    lp = float(logp.gather(1, tgt[:, None]).sum())
    greedy = bool((logp.argmax(-1) == tgt).all())
    return lp, greedy, truncated


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=os.path.join(ROOT, "models", "dolly-demo"))
    ap.add_argument("--eval-dir", default=os.path.join(ROOT, "Tests", "Fixtures", "eval"))
    ap.add_argument("--tasks", default=",".join(TASKS))
    ap.add_argument("--limit", type=int, default=0, help="items per task (0: all in the file)")
    ap.add_argument("--out", default=os.path.join(ROOT, "Tests", "Fixtures", "eval", "reference_demo.json"))
    a = ap.parse_args()

    from tokenizers import Tokenizer
    from transformers import GPTNeoXForCausalLM
    tok = Tokenizer.from_file(os.path.join(a.model, "tokenizer.json"))
    model = GPTNeoXForCausalLM.from_pretrained(a.model, dtype=torch.float32, attn_implementation="eager")
    model.eval()
    window = model.config.max_position_embeddings
    report = {"model": os.path.relpath(os.path.abspath(a.model), ROOT), "dtype": "float32", "window": window,
              "scoring": "lm-evaluation-harness loglikelihood; acc_norm divides by the choice's character count "
                         "without the leading space", "tasks": {}}
    for task in a.tasks.split(","):
        rows = [json.loads(line) for line in open(os.path.join(a.eval_dir, task + ".jsonl"), encoding="utf-8")]
        if a.limit:
            rows = rows[:a.limit]
        t0 = time.time()
        items, acc, acc_norm = [], 0, 0
        for i, r in enumerate(rows):
            if "contexts" in r:
                pairs = [(c, r["continuation"]) for c in r["contexts"]]
                norm_len = [len(r["continuation"]) - 1] * len(pairs)
            else:
                pairs = [(r["context"], c) for c in r["choices"]]
                norm_len = [len(c) - 1 for c in r["choices"]]  # minus the " " delimiter
            ctx_ids, choices = [], []
            for (ctx, cont), nl in zip(pairs, norm_len):
                assert cont.startswith(" "), cont
                c_ids, k_ids = encode_pair(tok, ctx, cont)
                lp, greedy, trunc = loglikelihood(model, c_ids, k_ids, window)
                if c_ids not in ctx_ids:
                    ctx_ids.append(c_ids)
                choices.append({"continuation_ids": k_ids, "norm_len": nl, "logprob": lp,
                                "is_greedy": greedy, "truncated": trunc})
            lps = np.array([c["logprob"] for c in choices])
            pred = int(np.argmax(lps))
            pred_norm = int(np.argmax(lps / np.array(norm_len, dtype=np.float64)))
            acc += pred == r["label"]
            acc_norm += pred_norm == r["label"]
            items.append({"index": i, "label": r["label"], "pred": pred, "pred_norm": pred_norm,
                          "context_ids": ctx_ids, "choices": choices})
        n = len(rows)
        rec = {"n": n, "acc": acc / n, "chance": float(np.mean([1 / len(it["choices"]) for it in items]))}
        if task not in NO_NORM:
            rec["acc_norm"] = acc_norm / n
        print(task, json.dumps(rec), f"{time.time() - t0:.0f}s", file=sys.stderr, flush=True)
        rec["items"] = items
        report["tasks"][task] = rec
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    with open(a.out, "w") as f:
        json.dump(report, f, separators=(",", ":"))
    print("wrote", a.out, os.path.getsize(a.out), "bytes", file=sys.stderr)


if __name__ == "__main__":
    main()
