#!/usr/bin/env python3
"""Reference for Dolly's prompt and sampling controls, from transformers run on the upstream template.

The template comes from tools/dolly_template.py, which spells out databrickslabs/dolly training/consts.py
(never from our Swift code). Two models:

  "generated": a full-vocabulary (50280) GPT-NeoX whose bf16 weights come from the counter-based generator of
               tools/make_head_shape_reference.py (HeadShapeTests rebuilds them bit for bit, so no weights are
               committed), scaled so attention is sharp; hidden 64, 2 heads, 2 layers, 256 positions. Unlike
               the head-shape checkpoints it holds Dolly's added tokens 50277-50279, so the template's ids feed it.
  "demo":      models/dolly-demo, the bundled model trained on this template.

For each, per instruction (with and without the model card's Input: context):
  prompt_ids   transformers' tokenization (PreTrainedTokenizerFast on Tests/Fixtures/tokenizer.json) of
               PROMPT_FOR_GENERATION_FORMAT
  greedy_ids   model.generate(do_sample=False), stopping at ### End or <|endoftext|> as the pipeline does
               (the stop token, when reached, is the last id)
  greedy_processed_ids   the same with repetition_penalty=1.3, no_repeat_ngram_size=2

For the generated model also the processors one by one on the first prompt's last logits
(RepetitionPenaltyLogitsProcessor, NoRepeatNGramLogitsProcessor, MinPLogitsWarper) and a sampled generation
with every control on, whose per-step processed scores (generate's output_scores: after the processors and
the warpers, in transformers' own order) the Swift test reproduces on the same tokens.

Writes Tests/Fixtures/prompt_reference.json.   tools/.venv/bin/python tools/make_prompt_reference.py
"""
import base64, json, os, sys

import numpy as np
import torch
from transformers import PreTrainedTokenizerFast
from transformers.generation.logits_process import (MinPLogitsWarper, NoRepeatNGramLogitsProcessor,
                                                    RepetitionPenaltyLogitsProcessor)

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import dolly_template  # noqa: E402
from make_head_shape_reference import generated_model  # noqa: E402
from make_fixtures import load_hf  # noqa: E402

FIX = os.path.join(ROOT, "Tests", "Fixtures")
END_ID, EOS_ID = 50277, 0
GENERATED = dict(hidden=64, heads=2, layers=2, max_pos=256)

CASES = [
    ("What is the highest mountain in Japan?", None),
    ("Write a haiku about the sea.", None),
    ('Explain the word "ephemeral".\nUse one sentence.', None),
    ("Who is quoted in this text?", "Three hours a day will produce as much as a man ought to write.\n\t\t-- Trollope"),
    ("Summarize the passage in one sentence.",
     "Zürich is the largest city in Switzerland.\n\nIt lies at the north end of Lake Zürich — 東京 is far away 🙂."),
]
SAMPLED = dict(do_sample=True, temperature=0.7, top_k=40, top_p=0.9, min_p=0.05, repetition_penalty=1.2,
               no_repeat_ngram_size=3)


def b64(a):
    return base64.b64encode(np.asarray(a, dtype="<f4").tobytes()).decode()


def greedy(model, ids, n, **kw):
    x = torch.tensor([ids])
    with torch.no_grad():
        out = model.generate(x, attention_mask=torch.ones_like(x), do_sample=False, max_new_tokens=n,
                             eos_token_id=[END_ID, EOS_ID], pad_token_id=EOS_ID, **kw)
    return out[0, len(ids):].tolist()


def finite(scores):
    """(ids, values) of the finite entries, most likely first."""
    s = scores.float()
    ids = torch.nonzero(torch.isfinite(s)).flatten()
    order = torch.argsort(s[ids], descending=True, stable=True)
    ids = ids[order]
    return ids.tolist(), s[ids].tolist()


def cases_for(model, tok, n):
    out = []
    for instruction, context in CASES:
        text = dolly_template.generation_prompt(instruction, context)
        ids = tok(text)["input_ids"]
        out.append({"instruction": instruction, "context": context, "prompt_text": text, "prompt_ids": ids,
                    "max_new_tokens": n, "greedy_ids": greedy(model, ids, n),
                    "greedy_processed_ids": greedy(model, ids, n, repetition_penalty=1.3, no_repeat_ngram_size=2)})
    return out


def processor_checks(model, ids):
    with torch.no_grad():
        logits = model(torch.tensor([ids])).logits[0, -1:].float()  # (1, vocab)
    hist = torch.tensor([ids])
    rep = RepetitionPenaltyLogitsProcessor(1.3)(hist, logits.clone())[0]
    distinct = sorted(set(ids))
    # A history whose last two ids occurred before, so both n-gram sizes ban something.
    ngram_hist = ids + ids[5:7]
    banned = {}
    for n in (1, 2, 3):
        s = NoRepeatNGramLogitsProcessor(n)(torch.tensor([ngram_hist]), logits.clone())[0]
        banned[str(n)] = sorted(torch.nonzero(torch.isinf(s)).flatten().tolist())
    minp_ids, minp_values = finite(MinPLogitsWarper(0.5)(hist, logits.clone())[0])
    top = torch.argsort(rep, descending=True)[:32].tolist()
    return {"last_logits_f32_b64": b64(logits[0]),
            "repetition_penalty": 1.3, "penalized_ids": distinct, "penalized_values": rep[distinct].tolist(),
            "top_ids_after_penalty": top, "top_values_after_penalty": rep[top].tolist(),
            "ngram_history": ngram_hist, "ngram_banned": banned,
            "min_p": 0.5, "min_p_kept_ids": minp_ids}


def sampled_steps(model, ids, steps=8):
    torch.manual_seed(0)
    x = torch.tensor([ids])
    with torch.no_grad():
        out = model.generate(x, attention_mask=torch.ones_like(x), max_new_tokens=steps, eos_token_id=None,
                             pad_token_id=EOS_ID, output_scores=True, return_dict_in_generate=True, **SAMPLED)
    tokens = out.sequences[0, len(ids):].tolist()
    per_step = []
    for s in out.scores:
        kept, values = finite(s[0])
        per_step.append({"ids": kept, "values": values})
    return {"parameters": SAMPLED, "prompt_ids": ids, "tokens": tokens, "steps": per_step}


def main():
    tok = PreTrainedTokenizerFast(tokenizer_file=os.path.join(FIX, "tokenizer.json"))
    for t, i in ((dolly_template.END_KEY, END_ID), (dolly_template.INSTRUCTION_KEY, 50278), (dolly_template.RESPONSE_KEY_NL, 50279)):
        assert tok.convert_tokens_to_ids(t) == i, t
    g = GENERATED
    model = generated_model(g["hidden"], g["heads"], vocab=50280, layers=g["layers"], max_pos=g["max_pos"])
    gen_cases = cases_for(model, tok, 24)
    out = {"template_source": "databrickslabs/dolly training/consts.py PROMPT_FOR_GENERATION_FORMAT (tools/dolly_template.py)",
           "generated": dict(g, vocab=50280, cases=gen_cases,
                             processors=processor_checks(model, gen_cases[0]["prompt_ids"]),
                             sampled=sampled_steps(model, gen_cases[3]["prompt_ids"]))}
    demo = load_hf(os.path.join(ROOT, "models", "dolly-demo"))
    out["demo"] = {"cases": cases_for(demo, tok, 48)}
    for name in ("generated", "demo"):
        for c in out[name]["cases"]:
            print(name, repr(c["instruction"][:30]), "->", repr(tok.decode(c["greedy_ids"])[:70]), file=sys.stderr)
    path = os.path.join(FIX, "prompt_reference.json")
    with open(path, "w") as f:
        json.dump(out, f, indent=1, ensure_ascii=False)
    print(path, os.path.getsize(path), "bytes", file=sys.stderr)


if __name__ == "__main__":
    main()
