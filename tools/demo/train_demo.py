#!/usr/bin/env python3
"""Train the bundled demo model: a small GPT-NeoX in Dolly v2's exact architecture, tokenizer and prompt format.

Architecture (GPTNeoXForCausalLM, the same code path as dolly-v2-3b/7b/12b, only narrower and shallower):
vocab 50280 (Dolly's tokenizer incl. its three special tokens), hidden 128, 4 heads of 32, rotary on 25% of
each head (8 dims) with base 10000, parallel residual, gelu, intermediate 512, untied embed_in/embed_out,
6 layers, max_position_embeddings 256. The published layout stores a P x P bool mask per layer, so
P=256 with 6 layers is what keeps the folder under 30 MB (embed_in + embed_out alone are 25.7 MB in bf16).

Data: tools/demo/demo_data.py (run it first). Each example is Dolly's generation prompt followed by
"{response}\\n\\n### End"; the loss covers exactly the response tokens and the "### End" token (the prompt is
context only, as in Dolly's DataCollatorForCompletionOnlyLM). Examples are right-padded in length buckets
(causal attention never looks at the padding to its right), so every example starts at position 0 as at inference.

Speed: the 50280-way output layer dominates, so it is computed only at the loss positions, chunked, with
bf16 matmuls (fp32 accumulation) and an fp32 softmax, its gradients produced in the same pass (LinearCE).

Schedule: AdamW, linear warm-up then cosine decay to 10%, driven by training wall-clock time against
--minutes (or by --steps for an exactly repeatable run). Resumable: a checkpoint is written every few minutes
to tools/demo/.demo-train/ckpt.pt (git-ignored) and picked up again with --resume.

  python tools/demo/demo_data.py
  nice -n 10 python tools/demo/train_demo.py --minutes 55 [--resume]
  python tools/demo/train_demo.py --export            # -> models/dolly-demo (published Dolly layout)
  python tools/demo/train_demo.py --sample            # greedy answers with transformers from models/dolly-demo

With --shape yardstick the same run trains the wider model the quantization comparisons need (hidden 512,
8 heads of 64, intermediate 2048, 6 layers) into tools/demo/.demo-train/yardstick/ (git-ignored).
"""
import argparse, collections, json, math, os, random, shutil, sys, time

import numpy as np
import torch

torch.set_num_threads(int(os.environ.get("DEMO_THREADS", "2")))

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.realpath(__file__))))  # tools/: toolpaths
from toolpaths import ROOT, FIXTURES  # noqa: E402
import demo_data  # noqa: E402
from make_fixtures import dolly_config, write_folder  # noqa: E402  (tools/fixtures)

WORK = demo_data.WORK  # tools/demo/.demo-train, git-ignored
DATA = os.path.join(WORK, "data")
CKPT = os.path.join(WORK, "ckpt.pt")
LOG = os.path.join(WORK, "log.jsonl")
MODEL_DIR = os.path.join(ROOT, "models", "dolly-demo")
TOKENIZER = os.path.join(FIXTURES, "tokenizer.json")
HELDOUT = os.path.join(FIXTURES, "heldout.txt")

END_ID, INSTRUCTION_ID, RESPONSE_ID = 50277, 50278, 50279
# demo: the bundled model. yardstick: the quantization yardstick of the "better bits" issue, every
# width a multiple of 256 (llama.cpp's K and IQ types need that), trained the same way, never committed.
SHAPES = {"demo": dict(hidden=128, layers=6, heads=4, max_pos=256),
          "yardstick": dict(hidden=512, layers=6, heads=8, max_pos=256)}
SHAPE = SHAPES["demo"]


def hf_config():
    from transformers import GPTNeoXConfig
    return GPTNeoXConfig(vocab_size=50280, hidden_size=SHAPE["hidden"], num_hidden_layers=SHAPE["layers"],
                         num_attention_heads=SHAPE["heads"], intermediate_size=4 * SHAPE["hidden"],
                         hidden_act="gelu", rotary_pct=0.25, rotary_emb_base=10000,
                         max_position_embeddings=SHAPE["max_pos"], use_parallel_residual=True,
                         tie_word_embeddings=False, bos_token_id=0, eos_token_id=0, layer_norm_eps=1e-5,
                         initializer_range=0.02, attn_implementation="sdpa")


# ---------------------------------------------------------------- data

def tokenize(split, tok):
    cache = os.path.join(DATA, split + ".tok.pt")
    src = os.path.join(DATA, split + ".jsonl")
    if os.path.exists(cache) and os.path.getmtime(cache) > os.path.getmtime(src):
        return torch.load(cache, weights_only=False)
    rows = [json.loads(line) for line in open(src, encoding="utf-8")]
    texts = [demo_data.prompt(r["instruction"], r.get("context")) for r in rows]
    prompts = tok.encode_batch(texts)
    comps = tok.encode_batch([demo_data.completion(r["response"]) for r in rows])
    fulls = tok.encode_batch([t + demo_data.completion(r["response"]) for t, r in zip(texts, rows)])
    out, dropped = [], 0
    for p, c, f in zip(prompts, comps, fulls):
        p, c = p.ids, c.ids
        # The prompt alone tokenizes to a prefix of the whole example, ending in the "### Response:\n" token,
        # and the completion ends in "### End": training sees exactly what generation will.
        assert p + c == f.ids, (p, c, f.ids)
        assert p[-1] == RESPONSE_ID and INSTRUCTION_ID in p and c[-1] == END_ID and END_ID not in c[:-1]
        if len(p) + len(c) > SHAPE["max_pos"]:
            dropped += 1
            continue
        out.append((np.array(p, dtype=np.int32), np.array(c, dtype=np.int32)))
    print(f"{split}: {len(out)} examples, {dropped} longer than {SHAPE['max_pos']} tokens dropped", file=sys.stderr)
    torch.save(out, cache)
    return out


def make_batches(examples, max_tokens, rng):
    """Length-bucketed batches of right-padded examples, each at most max_tokens padded tokens."""
    order = sorted(range(len(examples)), key=lambda i: (len(examples[i][0]) + len(examples[i][1]), rng.random()))
    batches, cur, cur_max = [], [], 0
    for i in order:
        n = len(examples[i][0]) + len(examples[i][1])
        if cur and max(cur_max, n) * (len(cur) + 1) > max_tokens:
            batches.append(cur)
            cur, cur_max = [], 0
        cur.append(i)
        cur_max = max(cur_max, n)
    if cur:
        batches.append(cur)
    rng.shuffle(batches)
    return batches


def collate(examples, idx):
    T = max(len(examples[i][0]) + len(examples[i][1]) for i in idx)
    ids = torch.zeros(len(idx), T, dtype=torch.long)
    mask = torch.zeros(len(idx), T, dtype=torch.bool)  # True where the token is a loss target
    for r, i in enumerate(idx):
        p, c = examples[i]
        ids[r, :len(p)] = torch.from_numpy(p)
        ids[r, len(p):len(p) + len(c)] = torch.from_numpy(c)
        mask[r, len(p):len(p) + len(c)] = True
    return ids, mask


# ---------------------------------------------------------------- loss

class LinearCE(torch.autograd.Function):
    """Summed cross-entropy of h @ W.T against targets, chunked; bf16 matmuls with fp32 accumulation and an
    fp32 softmax; the gradients are produced in the forward pass so the N x V logits never coexist."""

    @staticmethod
    def forward(ctx, h, W, tgt, chunk=128):  # 128 x 50280 fp32 logits stay in L3
        Wb = W.detach().to(torch.bfloat16)
        dh = torch.empty_like(h)
        dW = torch.zeros_like(W)
        total = torch.zeros((), dtype=torch.float32)
        for s in range(0, h.shape[0], chunk):
            hc = h[s:s + chunk].detach().to(torch.bfloat16)
            tc = tgt[s:s + chunk]
            lg = (hc @ Wb.t()).float()
            lse = torch.logsumexp(lg, dim=1)
            total += (lse - lg.gather(1, tc[:, None]).squeeze(1)).sum()
            g = torch.exp_(lg.sub_(lse[:, None]))
            g[torch.arange(len(tc)), tc] -= 1
            gb = g.to(torch.bfloat16)
            del g, lg
            dh[s:s + chunk] = (gb @ Wb).float()
            dW += (gb.t() @ hc).float()
        ctx.save_for_backward(dh, dW)
        return total

    @staticmethod
    def backward(ctx, go):
        dh, dW = ctx.saved_tensors
        return dh * go, dW * go, None, None


def batch_loss(model, ids, mask):
    # The transformer body under bf16 autocast (fp32 master weights, fp32 layer norms); the output layer in LinearCE.
    with torch.autocast("cpu", dtype=torch.bfloat16):
        h = model.gpt_neox(input_ids=ids).last_hidden_state
    h = h.float()
    sel = mask[:, 1:]
    hs = h[:, :-1][sel]
    tgt = ids[:, 1:][sel]
    return LinearCE.apply(hs, model.lm_head.weight, tgt), int(sel.sum())


@torch.no_grad()
def eval_loss(model, examples, max_tokens=4096):
    model.eval()
    tot, n = 0.0, 0
    for idx in make_batches(examples, max_tokens, random.Random(0)):
        ids, mask = collate(examples, idx)
        h = model.gpt_neox(input_ids=ids).last_hidden_state
        sel = mask[:, 1:]
        logits = model.lm_head(h[:, :-1][sel]).float()
        tot += float(torch.nn.functional.cross_entropy(logits, ids[:, 1:][sel], reduction="sum"))
        n += int(sel.sum())
    model.train()
    return tot / max(n, 1)


@torch.no_grad()
def heldout_ppl(model, tok, window=256):
    """Perplexity of Tests/Fixtures/heldout.txt as plain text, in non-overlapping windows."""
    model.eval()
    ids = tok.encode(open(HELDOUT, encoding="utf-8").read()).ids
    tot, n = 0.0, 0
    for s in range(0, len(ids) - 1, window):
        x = torch.tensor([ids[s:s + window]])
        if x.shape[1] < 2:
            break
        logits = model(x).logits[0, :-1].float()
        tot += float(torch.nn.functional.cross_entropy(logits, x[0, 1:], reduction="sum"))
        n += x.shape[1] - 1
    model.train()
    return math.exp(tot / n), n


# ---------------------------------------------------------------- training

def lr_at(progress, peak, warmup_frac):
    if progress < warmup_frac:
        return peak * progress / warmup_frac
    p = min(1.0, (progress - warmup_frac) / (1 - warmup_frac))
    return peak * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * p)))


def log(rec):
    print(json.dumps(rec), file=sys.stderr, flush=True)
    with open(LOG, "a") as f:
        f.write(json.dumps(rec) + "\n")


def save_ckpt(state):
    tmp = CKPT + ".tmp"
    torch.save(state, tmp)
    os.replace(tmp, CKPT)


def train(a):
    from tokenizers import Tokenizer
    from transformers import GPTNeoXForCausalLM
    demo_data.ensure_ignored(WORK)
    tok = Tokenizer.from_file(TOKENIZER)
    train_ex, val_ex, val_input_ex = tokenize("train", tok), tokenize("val", tok), tokenize("val_input", tok)
    torch.manual_seed(a.seed)
    model = GPTNeoXForCausalLM(hf_config())
    decay = [p for n, p in model.named_parameters() if p.dim() == 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": a.wd}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=a.lr, betas=(0.9, 0.95), eps=1e-8)
    state = {"step": 0, "epoch": 0, "pos": 0, "elapsed": 0.0, "tokens": 0, "args": vars(a)}
    if a.resume and os.path.exists(CKPT):
        ck = torch.load(CKPT, weights_only=False)
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["opt"])
        state = ck["state"]
        print(f"resumed at step {state['step']}, {state['elapsed'] / 60:.1f} min", file=sys.stderr)
    elif os.path.exists(LOG):
        os.remove(LOG)
    n_params = sum(p.numel() for p in model.parameters())
    n_body = sum(p.numel() for n, p in model.named_parameters() if "embed" not in n and "lm_head" not in n)
    if state["step"] == 0:
        log({"event": "start", "params": n_params, "non_embedding_params": n_body, "train_examples": len(train_ex),
             "response_tokens_per_epoch": sum(len(c) for _, c in train_ex), "args": vars(a)})
    budget = a.minutes * 60.0
    model.train()
    last_ck = last_eval = time.time()
    ema = None
    while True:
        batches = make_batches(train_ex, a.batch_tokens, random.Random(a.seed * 1000 + state["epoch"]))
        while state["pos"] < len(batches):
            progress = state["step"] / a.steps if a.steps else state["elapsed"] / budget
            if progress >= 1.0:
                break
            lr = lr_at(progress, a.lr, a.warmup)
            for g in opt.param_groups:
                g["lr"] = lr
            t0 = time.time()
            ids, mask = collate(train_ex, batches[state["pos"]])
            loss_sum, n = batch_loss(model, ids, mask)
            loss = loss_sum / n
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            state["elapsed"] += time.time() - t0
            state["step"] += 1
            state["pos"] += 1
            state["tokens"] += n
            lv = loss.item()
            ema = lv if ema is None else 0.98 * ema + 0.02 * lv
            if state["step"] % 50 == 0:
                log({"step": state["step"], "epoch": state["epoch"], "min": round(state["elapsed"] / 60, 2),
                     "lr": round(lr, 6), "loss": round(lv, 4), "loss_ema": round(ema, 4),
                     "resp_tokens": state["tokens"]})
            now = time.time()
            if now - last_eval > a.eval_every * 60:
                log({"step": state["step"], "val_loss": round(eval_loss(model, val_ex), 4),
                     "val_input_loss": round(eval_loss(model, val_input_ex), 4)})
                last_eval = time.time()
            if now - last_ck > a.ckpt_every * 60:
                save_ckpt({"model": model.state_dict(), "opt": opt.state_dict(), "state": state})
                last_ck = time.time()
        else:
            state["epoch"] += 1
            state["pos"] = 0
            continue
        break
    ppl, n_tok = heldout_ppl(model, tok)
    final = {"event": "done", "step": state["step"], "epochs": round(state["epoch"] + state["pos"] / len(batches), 3),
             "min": round(state["elapsed"] / 60, 2), "resp_tokens": state["tokens"], "loss_ema": round(ema or 0, 4),
             "val_loss": round(eval_loss(model, val_ex), 4), "val_input_loss": round(eval_loss(model, val_input_ex), 4),
             "heldout_ppl": round(ppl, 2), "heldout_tokens": n_tok}
    log(final)
    save_ckpt({"model": model.state_dict(), "opt": opt.state_dict(), "state": state, "final": final})


# ---------------------------------------------------------------- export / sample

def export(a):
    ck = torch.load(CKPT, weights_only=False)
    sd_in = ck["model"]
    cfg = dolly_config(SHAPE["hidden"], SHAPE["layers"], SHAPE["heads"], SHAPE["max_pos"], base="dolly-demo")
    h, L, P = SHAPE["hidden"], SHAPE["layers"], SHAPE["max_pos"]
    rot = int(h // SHAPE["heads"] * cfg["rotary_pct"])
    bf = lambda t: t.detach().to(torch.bfloat16).contiguous()  # noqa: E731
    sd = collections.OrderedDict()
    sd["gpt_neox.embed_in.weight"] = bf(sd_in["gpt_neox.embed_in.weight"])
    for i in range(L):
        p = f"gpt_neox.layers.{i}."
        for k in ("input_layernorm.weight", "input_layernorm.bias",
                  "post_attention_layernorm.weight", "post_attention_layernorm.bias"):
            sd[p + k] = bf(sd_in[p + k])
        # The legacy buffers dolly-v2's pytorch_model.bin files carry (transformers 4.25).
        sd[p + "attention.bias"] = torch.tril(torch.ones(P, P, dtype=torch.bool)).view(1, 1, P, P)
        sd[p + "attention.masked_bias"] = torch.tensor(-1e9).to(torch.bfloat16)
        sd[p + "attention.rotary_emb.inv_freq"] = (
            1.0 / (cfg["rotary_emb_base"] ** (torch.arange(0, rot, 2).float() / rot))).to(torch.bfloat16)
        for k in ("attention.query_key_value.weight", "attention.query_key_value.bias", "attention.dense.weight",
                  "attention.dense.bias", "mlp.dense_h_to_4h.weight", "mlp.dense_h_to_4h.bias",
                  "mlp.dense_4h_to_h.weight", "mlp.dense_4h_to_h.bias"):
            sd[p + k] = bf(sd_in[p + k])
    sd["gpt_neox.final_layer_norm.weight"] = bf(sd_in["gpt_neox.final_layer_norm.weight"])
    sd["gpt_neox.final_layer_norm.bias"] = bf(sd_in["gpt_neox.final_layer_norm.bias"])
    sd["embed_out.weight"] = bf(sd_in["lm_head.weight"])
    if os.path.isdir(MODEL_DIR):
        shutil.rmtree(MODEL_DIR)
    write_folder(MODEL_DIR, cfg, [("pytorch_model.bin", lambda path: torch.save(sd, path))])
    with open(os.path.join(MODEL_DIR, "special_tokens_map.json"), "w") as f:
        json.dump({"additional_special_tokens": ["### End", "### Instruction:", "### Response:\n"],
                   "bos_token": "<|endoftext|>", "eos_token": "<|endoftext|>",
                   "unk_token": "<|endoftext|>"}, f, indent=2)
    state = dict(ck["state"])
    state["args"] = {k: v for k, v in state["args"].items() if k not in ("export", "sample", "model", "n")}
    meta = {"trained_with": "tools/demo/train_demo.py (data: tools/demo/demo_data.py)", "final": ck.get("final"),
            "state": state}
    with open(os.path.join(MODEL_DIR, "training.json"), "w") as f:
        json.dump(meta, f, indent=2)
    total = sum(os.path.getsize(os.path.join(MODEL_DIR, n)) for n in os.listdir(MODEL_DIR))
    print(f"wrote {MODEL_DIR}: {total} bytes", file=sys.stderr)
    if SHAPE is SHAPES["demo"]:
        assert total <= 30_000_000, total  # the bundled model stays small enough to commit


def load_exported(folder=MODEL_DIR):
    from transformers import GPTNeoXForCausalLM
    m = GPTNeoXForCausalLM.from_pretrained(folder, dtype=torch.float32)
    m.eval()
    return m


SAMPLE_INSTRUCTIONS = [
    "What is the capital of France?",
    'What does the word "library" mean?',
    "Tell me a fortune cookie saying.",
    "What is 12 + 7?",
    'Give a synonym for "happy".',
    "Who wrote Hamlet?",
]


def sample(a):
    from tokenizers import Tokenizer
    tok = Tokenizer.from_file(TOKENIZER)
    model = load_exported(a.model)
    torch.manual_seed(a.seed)
    rows = [json.loads(line) for line in open(os.path.join(DATA, "val.jsonl"), encoding="utf-8")]
    with_input = [json.loads(line) for line in open(os.path.join(DATA, "val_input.jsonl"), encoding="utf-8")]
    rows = [{"instruction": s, "response": None} for s in SAMPLE_INSTRUCTIONS] + rows[:a.n] + with_input[:a.n // 2]
    ended = 0
    for r in rows:
        ids = tok.encode(demo_data.prompt(r["instruction"], r.get("context"))).ids
        x = torch.tensor([ids])
        with torch.no_grad():
            # Greedy, or with --do-sample the pipeline's defaults (top_p 0.92, top_k 0, temperature 1).
            sampling = dict(do_sample=True, top_p=0.92, top_k=0) if a.do_sample else dict(do_sample=False)
            out = model.generate(x, attention_mask=torch.ones_like(x), max_new_tokens=64,
                                 eos_token_id=END_ID, pad_token_id=0, **sampling)
        gen = out[0, len(ids):].tolist()
        ended += gen[-1:] == [END_ID]
        r["ended"] = gen[-1:] == [END_ID]
        print(json.dumps({"instruction": r["instruction"], "context": r.get("context"), "reference": r["response"],
                          "answer": tok.decode(gen, skip_special_tokens=False),
                          "ended_with_end_token": gen[-1:] == [END_ID]}, ensure_ascii=False))
    held = rows[len(SAMPLE_INSTRUCTIONS):]
    held_ended = sum(r["ended"] for r in held)
    kind = "sampled" if a.do_sample else "greedy"
    print(f"{ended}/{len(rows)} {kind} answers ended with ### End ({END_ID}); held-out instructions: "
          f"{held_ended}/{len(held)}, with context {sum(r['ended'] for r in held if r.get('context'))}/"
          f"{sum(1 for r in held if r.get('context'))}", file=sys.stderr)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=55.0, help="training wall-clock budget (schedule length)")
    ap.add_argument("--steps", type=int, default=0, help="schedule by step count instead of time")
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--wd", type=float, default=0.1)
    ap.add_argument("--warmup", type=float, default=0.03, help="fraction of the schedule")
    ap.add_argument("--batch-tokens", type=int, default=4096, help="padded tokens per batch")
    ap.add_argument("--eval-every", type=float, default=10.0, help="minutes")
    ap.add_argument("--ckpt-every", type=float, default=5.0, help="minutes")
    ap.add_argument("--export", action="store_true", help="write models/dolly-demo from the checkpoint")
    ap.add_argument("--sample", action="store_true", help="greedy answers from models/dolly-demo")
    ap.add_argument("--shape", choices=sorted(SHAPES), default="demo",
                    help="demo (models/dolly-demo) or yardstick (hidden 512; checkpoint and export under "
                         "tools/demo/.demo-train/yardstick/, git-ignored)")
    ap.add_argument("--model", default=None, help="the exported folder --sample reads (default: the shape's)")
    ap.add_argument("-n", type=int, default=12, help="held-out instructions to sample (and n/2 with context)")
    ap.add_argument("--do-sample", action="store_true", help="--sample with the pipeline's sampling instead of greedy")
    a = ap.parse_args()
    global SHAPE, CKPT, LOG, MODEL_DIR
    SHAPE = SHAPES[a.shape]
    if a.shape != "demo":
        folder = os.path.join(WORK, a.shape)
        os.makedirs(folder, exist_ok=True)
        CKPT, LOG, MODEL_DIR = (os.path.join(folder, "ckpt.pt"), os.path.join(folder, "log.jsonl"),
                                os.path.join(folder, "model"))
    a.model = a.model or MODEL_DIR
    if a.export:
        export(a)
    elif a.sample:
        sample(a)
    else:
        train(a)


if __name__ == "__main__":
    main()
