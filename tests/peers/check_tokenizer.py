#!/usr/bin/env python3
"""Live check: Prospect's tokenizer and BPE trainer against Hugging Face `tokenizers` (CTest Peers.tokenizer).

Part 1, encoding. Two tokenizer.json files are read by both sides: the real SmolVLM2 tokenizer
(<testdata>/fixtures/smolvlm2-tokenizer/tokenizer.json) and the BPE tokenizer `prospect synth` trains for its
demo data. Thousands of seeded random strings (letters of many scripts, astral characters, emoji with ZWJ,
skin tones, flags and keycaps, combining marks, whitespace runs of every kind incl. \\r\\n, \\t, NBSP, U+3000,
U+0085, U+2028, digit runs of several scripts, control and private-use characters, the tokenizers' added
tokens embedded mid-text and broken prefixes of them, very long words, punctuation, contractions, and the DST
texts Prospect renders) go through `prospect tokenize --offsets` and through `Tokenizer.encode(text,
add_special_tokens=False)`. Ids must be equal, and so must offsets: `prospect tokenize` reports [start, end)
in code points of the text (tools/cmd_tokenize.cpp), and the Python binding of `tokenizers` reports offsets
as indices into the Python str, which are code points too (each astral character, e.g. an emoji, is one
index on both sides) - the same unit, so they are compared as they are.

Part 2, training. Prospect's trainer (src/text/bpe_trainer.cpp, run through the hidden `prospect synth
--tokenizer-corpus FILE --vocab-size N --min-frequency M`) and `tokenizers`' BpeTrainer are given the same
corpus and settings: Digits(individual) + ByteLevel(GPT-2 regex) pre-tokenizer, the 256-character byte-level
initial alphabet, special tokens <|endoftext|> <|im_start|> <|im_end|> at ids 0-2, the same vocab_size (HF's
counts the model vocabulary; Prospect's also counts its 4 trailing added tokens, so HF gets 4 less and has
those 4 added after training) and min_frequency. The corpus holds no special-token strings (Prospect cuts
them out of its training texts, HF's trainer does not).
What must agree, and why: both count the pre-token types of the corpus, and at each step merge the most
frequent adjacent pair (counting every position of a pair in a word, merging left to right without overlap),
add the concatenation as a new token unless it exists, and stop when the vocabulary reaches its size or the
best count is below min_frequency. They differ only in how they break ties between equally frequent pairs:
both take the pair of smaller (left id, right id), but Prospect numbers the byte alphabet in byte order and
HF in code-point order of the byte-level characters (so e.g. 'Ġ' (space) is below 'a' for Prospect and above
it for HF). Learned tokens get the same ids on both sides (next free id, in merge order).
So the check replays the merges in lockstep (recounting pairs in Python): at every step both sides must have
picked a pair of the highest count, and the same pair, unless the highest count is shared by pairs that the
two id orders rank differently; at every tie each side must have picked the smallest pair under its own
order, and an order-dependent tie ends the replay (the two histories differ from then on). Configs:
  A  a seeded corpus (Zipf-like word frequencies, each text repeated 1-20 times, so counts are spread),
     400 merges, stops on vocab_size;
  B  the same corpus, min_frequency 400: stops on min_frequency with room left;
  C  each text once: ~190 ties of the best count, none order-dependent;
and for A, B, C the whole results must be equal: the merge list, the number of merges and why training
stopped, the vocabulary (learned tokens by id; the alphabet as the same 256 characters, numbered by each
side's rule), the added tokens, and the tokens and offsets both trained tokenizers give on the corpus. These
fail if the fixed corpus ever stops discriminating (an order-dependent tie cutting the replay short).
  D  "ab" x3 and " cd" x3: ('a','b') and ('Ġ','c') tie; Prospect merges ('Ġ','c') first, HF ('a','b'): the
     known difference, checked to follow each side's rule (were the orders made equal, D would simply have
     to agree in full like the others).

Prints counts (strings, ids and offsets compared, merges compared, mismatches) and the first mismatches with
both sides. Exit status 1 on any mismatch.
"""
import collections
import json
import random
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import peerlib  # noqa: E402

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers  # noqa: E402

LEADING_SPECIAL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
TRAILING_SPECIAL = ["<global-img>", "<fake_token_around_image>", "<image>", "<end_of_utterance>"]
N_STRINGS = 3000
SEED = 20240611
SHOW = 5  # mismatches shown in full

# ---------------------------------------------------------------------------------------- random strings
SCRIPTS = {  # name: list of (first, last) code point ranges of letters (and their marks)
    "latin": [(0x61, 0x7A), (0x41, 0x5A)],
    "latin1": [(0xC0, 0xD6), (0xD8, 0xF6), (0xF8, 0xFF)],
    "latin_ext": [(0x100, 0x17F), (0x180, 0x24F)],
    "greek": [(0x3B1, 0x3C9), (0x391, 0x3A9), (0x1F00, 0x1F15)],
    "cyrillic": [(0x430, 0x44F), (0x410, 0x42F), (0x451, 0x451)],
    "armenian": [(0x561, 0x586)],
    "hebrew": [(0x5D0, 0x5EA), (0x5B0, 0x5BC)],
    "arabic": [(0x627, 0x64A), (0x64B, 0x652)],
    "devanagari": [(0x915, 0x939), (0x93E, 0x94D)],
    "bengali": [(0x995, 0x9B9), (0x9BE, 0x9CC)],
    "tamil": [(0xB95, 0xBB9), (0xBBE, 0xBCD)],
    "thai": [(0xE01, 0xE2E), (0xE31, 0xE3A), (0xE47, 0xE4E)],
    "georgian": [(0x10D0, 0x10FA)],
    "ethiopic": [(0x1200, 0x1248)],
    "hangul": [(0xAC00, 0xD7A3), (0x1100, 0x1112)],
    "hiragana": [(0x3041, 0x3096)],
    "katakana": [(0x30A1, 0x30FA), (0x30FC, 0x30FC)],
    "cjk": [(0x4E00, 0x9FFF)],
    "cjk_ext_b": [(0x20000, 0x2A6DF)],
    "math_alnum": [(0x1D400, 0x1D6A5)],
    "gothic": [(0x10330, 0x1034A)],
    "cherokee": [(0x13A0, 0x13F5)],
    "mongolian": [(0x1820, 0x1878)],
}
WHITESPACE = [" ", " ", " ", "\t", "\n", "\n", "\r\n", "\r", "\u00a0", "\u3000", "\u2009", "\u2028", "\u2029",
              "\u0085", "\x0b", "\x0c", "\u1680", "\u202f", "\u205f", "\u2000", "\u200a", "\x1c", "\x1f"]
DIGITS = ["0123456789", "٠١٢٣٤٥٦٧٨٩", "०१२३४५६७८९", "０１２３４５６７８９", "²³¹⁰⁴", "½¾⅓", "ⅠⅡⅢⅫⅯ", "①②③⑳",
          "𝟎𝟏𝟐𝟗", "〇"]
PUNCT = list("!\"#$%&()*+,-./:;<=>?@[\\]^_`{|}~'") + ["…", "—", "–", "«", "»", "“", "”", "‘", "’", "¿", "¡",
                                                      "、", "。", "「", "」", "·", "•", "€", "£", "¥", "©", "™",
                                                      "→", "∑", "≤", "§", "¶", "°", "±", "×", "÷", "‰", "※"]
EMOJI = ["😀", "😂", "🙏", "🚀", "🔥", "❤️", "❤", "👍🏽", "👩‍💻", "🧑‍🤝‍🧑", "👨‍👩‍👧‍👦", "🇫🇷", "🇯🇵", "1️⃣", "#️⃣",
         "🏳️‍🌈", "✅", "⭐", "☕", "🫠", "🦀", "🤖", "🎉", "\u2764\ufe0f\u200d\U0001f525"]
COMBINING = [chr(c) for c in range(0x300, 0x370)] + ["\u20d0", "\u20e3", "\u0591", "\u093c", "\u094d", "\u0e48",
                                                      "\u3099", "\ufe0f", "\u200d", "\u200c", "\ufe0e"]
ODD = ["\x00", "\x01", "\x07", "\x1b", "\x7f", "\u0080", "\u009f", "\u00ad", "\ufeff", "\ufffd", "\ue000",
       "\uf8ff", "\uffff", "\U0010fffd", "\u0378", "\u200b", "\u2060", "\u061c", "\u202e", "\U000e0041"]
CONTRACTIONS = ["'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'S", "'T", "'RE", "'LL", "'D", "’s", "''", "'",
                "n't", "'x", "'l", "'r", "'v", "'ll'd", "' s"]
WORDS = ["the", "The", "wheel", "chassis", "attach", "screw", "Now", "Assembly", "toy", "step", "complete",
         "start", "in_progress", "not_started", "completed", "paused", "cancelled", "failed", "DST_UPDATE",
         "User", "Assistant", "don", "it", "we", "they", "I", "you", "cabin", "roof", "arm", "bucket", "excavator"]
DST_TEXTS = [
    "S2->complete, S3->start", "S1->start", "S10->resume, S11->pause", "DST_UPDATE: S1->start, ",
    "DST_UPDATE: S2->complete, S3->start, \n", "Current state: S1:in_progress, S2:not_started, S3:completed",
    "User: What do I do next?\n", "Assistant: Now attach the wheels to the chassis.\n",
    "<|im_start|>system\nYou are a helpful assistant.<end_of_utterance>\n",
    "<fake_token_around_image><global-img><image><image><image><fake_token_around_image>",
    "<|im_start|>User:<image>Can you help me?<end_of_utterance>\nAssistant:",
    "Task steps:\nS1: attach the cabin\nS2: screw the roof\n\nCurrent state: S1:paused, S2:cancelled\n",
    "S3->fail, S4->cancel, S5->reset", "S12->complete,S13->start", "S2 -> complete",
]


def rand_range_char(rng, ranges):
    lo, hi = rng.choice(ranges)
    return chr(rng.randint(lo, hi))


class StringMaker:
    def __init__(self, rng, specials):
        self.rng = rng
        self.specials = specials
        # Broken specials: prefixes, inner spaces, case changes, doubled brackets.
        broken = []
        for s in specials[:40]:
            broken += [s[:-1], s[1:], s[: len(s) // 2], s.upper(), s.replace(">", " >"), "<" + s, s + ">"]
        self.broken = broken

    def word(self, script=None, lo=1, hi=12):
        rng = self.rng
        script = script or rng.choice(list(SCRIPTS))
        return "".join(rand_range_char(rng, SCRIPTS[script]) for _ in range(rng.randint(lo, hi)))

    def atom(self):
        rng = self.rng
        kind = rng.choices(
            ["word", "ascii_word", "space", "digits", "number", "punct", "emoji", "combining", "special", "broken",
             "contraction", "dst", "odd", "long"],
            [12, 14, 10, 6, 3, 6, 4, 4, 6, 3, 4, 4, 2, 1])[0]
        if kind == "word":
            return self.word()
        if kind == "ascii_word":
            w = rng.choice(WORDS) if rng.random() < 0.6 else self.word("latin")
            return w.capitalize() if rng.random() < 0.2 else w
        if kind == "space":
            n = rng.choice([1, 1, 1, 2, 3, 5, 8])
            return "".join(rng.choice(WHITESPACE) for _ in range(n))
        if kind == "digits":
            d = rng.choice(DIGITS)
            return "".join(rng.choice(d) for _ in range(rng.randint(1, 30)))
        if kind == "number":
            return rng.choice(["3.14", "1,000,000", "-42", "1e10", "0x1F", "12:30", "2024-06-11", "v2.0.1", "50%",
                               "$9.99", "#3", "No.7", "1/2"])
        if kind == "punct":
            return "".join(rng.choice(PUNCT) for _ in range(rng.randint(1, 6)))
        if kind == "emoji":
            return "".join(rng.choice(EMOJI) for _ in range(rng.randint(1, 4)))
        if kind == "combining":
            base = self.word(rng.choice(["latin", "greek", "cyrillic", "hebrew", "devanagari", "thai"]), 1, 3)
            return base + "".join(rng.choice(COMBINING) for _ in range(rng.randint(1, 4)))
        if kind == "special":
            return rng.choice(self.specials)
        if kind == "broken":
            return rng.choice(self.broken)
        if kind == "contraction":
            return rng.choice(WORDS + ["I", "don", "it", "we"]) + rng.choice(CONTRACTIONS)
        if kind == "dst":
            return rng.choice(DST_TEXTS)
        if kind == "odd":
            return rng.choice(ODD)
        # long: a very long word, digit run, whitespace run or punctuation run
        sub = rng.choice(["word", "ascii", "digits", "space", "punct", "repeat"])
        n = rng.randint(200, 2500)
        if sub == "word":
            return self.word(None, n, n)
        if sub == "ascii":
            return self.word("latin", n, n)
        if sub == "digits":
            return "".join(rng.choice("0123456789") for _ in range(n))
        if sub == "space":
            return "".join(rng.choice(WHITESPACE) for _ in range(n // 10))
        if sub == "punct":
            return "".join(rng.choice(PUNCT) for _ in range(n // 10))
        return rng.choice(["a", "ab", "é", "😀", "-", "\n"]) * (n // 4)

    def string(self):
        rng = self.rng
        r = rng.random()
        if r < 0.03:
            return ""
        if r < 0.10:  # one atom alone
            return self.atom()
        parts = []
        for _ in range(rng.randint(2, 14)):
            parts.append(self.atom())
            sep = rng.random()
            if sep < 0.45:
                parts.append(" ")
            elif sep < 0.55:
                parts.append(rng.choice(WHITESPACE))
        return "".join(parts)


def make_strings(specials, n, seed):
    rng = random.Random(seed)
    sm = StringMaker(rng, specials)
    out = [sm.string() for _ in range(n)]
    out += DST_TEXTS + [s for s in specials[:20]] + ["".join(specials[:6])]
    return out


# ---------------------------------------------------------------------------------------- encoding check
def prospect_tokenize(binary, tokenizer, texts):
    payload = "".join(json.dumps({"text": t}, ensure_ascii=False) + "\n" for t in texts)
    cmd = [str(binary), "tokenize", "--tokenizer", str(tokenizer), "--offsets"]
    print("$ " + " ".join(cmd) + f" < {len(texts)} lines", flush=True)
    r = subprocess.run(cmd, input=payload.encode("utf-8"), capture_output=True)
    if r.returncode != 0:
        peerlib.fail_now(f"prospect tokenize exited with {r.returncode}: {r.stderr.decode(errors='replace')[:2000]}")
    lines = r.stdout.decode("utf-8").splitlines()
    if len(lines) != len(texts):
        peerlib.fail_now(f"prospect tokenize wrote {len(lines)} lines for {len(texts)} inputs")
    return [json.loads(line) for line in lines]


def short(s, at=None, width=60):
    """repr of s, cut around code point `at`."""
    if at is None or len(s) <= 2 * width:
        return repr(s[: 2 * width]) + ("..." if len(s) > 2 * width else "")
    lo = max(0, at - width)
    return ("..." if lo else "") + repr(s[lo: at + width]) + ("..." if at + width < len(s) else "")


def compare_encodings(name, tok_path, texts, binary, report):
    hf = Tokenizer.from_file(str(tok_path))
    t0 = time.time()
    ref = hf.encode_batch(texts, add_special_tokens=False)
    t_hf = time.time() - t0
    t0 = time.time()
    got = prospect_tokenize(binary, tok_path, texts)
    t_pr = time.time() - t0
    n_ids = n_off = 0
    id_bad, off_bad = [], []
    for i, (text, e, g) in enumerate(zip(texts, ref, got)):
        hids, hoff = list(e.ids), [list(o) for o in e.offsets]
        pids, poff = g["ids"], g["offsets"]
        n_ids += max(len(hids), len(pids))
        if hids != pids:
            id_bad.append(i)
            continue
        n_off += len(hoff)
        if hoff != poff:
            off_bad.append(i)
    print(f"[{name}] {len(texts)} strings ({sum(len(t) for t in texts)} code points), {n_ids} ids compared, "
          f"{n_off} offsets compared; HF {t_hf:.2f} s, prospect {t_pr:.2f} s")
    print(f"[{name}] id mismatches: {len(id_bad)} strings; offset mismatches: {len(off_bad)} strings")
    for i in (id_bad + off_bad)[:SHOW]:
        e, g = ref[i], got[i]
        hids, pids = list(e.ids), g["ids"]
        hoff, poff = [tuple(o) for o in e.offsets], [tuple(o) for o in g["offsets"]]
        k = next((j for j in range(min(len(hids), len(pids))) if hids[j] != pids[j] or hoff[j] != poff[j]),
                 min(len(hids), len(pids)))
        at = hoff[k][0] if k < len(hoff) else (hoff[-1][0] if hoff else 0)
        print(f"  string {i}: {short(texts[i], at)}")
        print(f"    first difference at token {k} of {len(hids)} (HF) / {len(pids)} (prospect)")
        print(f"    HF       ids {hids[max(0, k - 2):k + 4]} offsets {hoff[max(0, k - 2):k + 4]} "
              f"tokens {[hf.id_to_token(t) for t in hids[max(0, k - 2):k + 4]]}")
        print(f"    prospect ids {pids[max(0, k - 2):k + 4]} offsets {poff[max(0, k - 2):k + 4]} "
              f"tokens {[hf.id_to_token(t) for t in pids[max(0, k - 2):k + 4]]}")
    report.require(f"{name}: ids equal on {len(texts)} strings", not id_bad, f"{len(id_bad)} differ" if id_bad else "")
    report.require(f"{name}: offsets equal", not off_bad, f"{len(off_bad)} differ" if off_bad else "")


# ---------------------------------------------------------------------------------------- training check
SYLLABLES = ["ka", "to", "ri", "mo", "ne", "sa", "lu", "pe", "chi", "gro", "sta", "ble", "ing", "tion", "er", "an",
             "qu", "ix", "zo", "wh", "th", "ea", "ou", "str", "pl"]
TRAIN_WORDS_EXTRA = ["café", "naïve", "Привет", "мир", "東京", "日本語", "Ünïcödé", "año", "straße", "😀", "€5",
                     "don't", "it's", "we'll", "I'm", "S2->complete,", "S3->start", "in_progress", "x²"]


def make_corpus(seed, n_texts):
    """[(text, multiplicity)]: sentences over a made-up lexicon with Zipf-like word frequencies, spaces,
    newlines, tabs, digits, punctuation and some multi-byte characters, each repeated 1-20 times (spreads the
    pair counts, so fewer ties). No special-token strings."""
    rng = random.Random(seed)
    lexicon = set()
    while len(lexicon) < 1500:
        w = "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(1, 4)))
        if rng.random() < 0.15:
            w = w.capitalize()
        lexicon.add(w)
    lexicon = sorted(lexicon) + TRAIN_WORDS_EXTRA
    rng.shuffle(lexicon)
    weights = [1.0 / (r + 1) ** 1.07 * rng.uniform(0.6, 1.4) for r in range(len(lexicon))]
    texts = []
    for _ in range(n_texts):
        words = rng.choices(lexicon, weights, k=rng.randint(4, 18))
        parts = []
        for w in words:
            parts.append(w)
            r = rng.random()
            if r < 0.06:
                parts.append(rng.choice([",", ".", "!", "?", ":", ";", "...", " -", "()"]))
            if r < 0.03:
                parts.append(" " + str(rng.randint(0, 2000)))
            parts.append(rng.choices([" ", "\n", "  ", "\t", " \n"], [88, 5, 3, 2, 2])[0])
        texts.append("".join(parts).rstrip(" ") + rng.choice(["", ".", "\n"]))
    return [(t, rng.randint(1, 20)) for t in texts]


def hf_train(texts, vocab_size, min_frequency):
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Digits(individual_digits=True),
        pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=True)])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size - len(TRAILING_SPECIAL), min_frequency=min_frequency,
                                  special_tokens=LEADING_SPECIAL, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(texts, trainer)
    tok.add_special_tokens(TRAILING_SPECIAL)
    return tok


def merges_of(doc):
    out = []
    for m in doc["model"]["merges"]:
        out.append(tuple(m.split(" ")) if isinstance(m, str) else tuple(m))
    return out


def replay(words, p_merges, h_merges, p_id, h_id, min_frequency, max_merges):
    """Lockstep replay (see the header). words: {tuple of symbols: count}. Returns (compared, problems, tie,
    ties): tie describes an order-dependent tie that ended the replay (or None), ties counts the ties both
    sides broke the same way."""
    words = [(list(w), c) for w, c in words.items()]
    pair_count = collections.Counter()
    where = collections.defaultdict(set)
    for wi, (syms, c) in enumerate(words):
        for a, b in zip(syms, syms[1:]):
            pair_count[(a, b)] += c
            where[(a, b)].add(wi)
    problems = []
    step = ties = 0
    n = max(len(p_merges), len(h_merges))
    while step < n:
        best = max(pair_count.values(), default=0)
        tied = [p for p, c in pair_count.items() if c == best] if best > 0 else []
        p = p_merges[step] if step < len(p_merges) else None
        h = h_merges[step] if step < len(h_merges) else None
        if p is None or h is None:
            problems.append(f"merge {step}: one side stopped: prospect {p}, HF {h} (best count {best}, "
                            f"min_frequency {min_frequency})")
            break
        for side, m, key in (("prospect", p, p_id), ("HF", h, h_id)):
            if m not in tied:
                problems.append(f"merge {step}: {side} merged {m} (count {pair_count.get(m, 0)}) but the best "
                                f"count is {best}: {tied[:4]}")
            elif len(tied) > 1 and min(tied, key=lambda q: (key[q[0]], key[q[1]])) != m:
                problems.append(f"merge {step}: {side} broke the tie {tied[:6]} (count {best}) against its rule")
        if problems:
            break
        if p != h:
            return step, problems, (f"merge {step}: order-dependent tie at count {best} between {len(tied)} pairs: "
                                    f"prospect {p}, HF {h}"), ties
        ties += len(tied) > 1
        # Apply merge p to every word holding it (left to right, no overlap).
        new = p[0] + p[1]
        for wi in list(where[p]):
            syms, c = words[wi]
            for a, b in zip(syms, syms[1:]):
                pair_count[(a, b)] -= c
                if pair_count[(a, b)] == 0:
                    del pair_count[(a, b)]
            out, i = [], 0
            while i < len(syms):
                if i + 1 < len(syms) and syms[i] == p[0] and syms[i + 1] == p[1]:
                    out.append(new)
                    i += 2
                else:
                    out.append(syms[i])
                    i += 1
            words[wi] = (out, c)
            for a, b in zip(out, out[1:]):
                pair_count[(a, b)] += c
                where[(a, b)].add(wi)
        step += 1
    if not problems and step == n:
        best = max(pair_count.values(), default=0)
        if n < max_merges and best >= min_frequency:
            problems.append(f"both stopped after {n} merges with a pair of count {best} >= min_frequency "
                            f"{min_frequency} left and room for {max_merges - n} more")
    return step, problems, None, ties


def compare_training(name, corpus_pairs, vocab_size, min_frequency, binary, work, report, expect_stop,
                     tie_expected=False):
    texts = [t for t, m in corpus_pairs for _ in range(m)]
    corpus = work / f"corpus_{name}.jsonl"
    corpus.write_text("".join(json.dumps({"text": t}, ensure_ascii=False) + "\n" for t in texts), encoding="utf-8")
    out = work / f"trained_{name}"
    t0 = time.time()
    peerlib.run_prospect(binary, ["synth", "--out", out, "--tokenizer-corpus", corpus, "--vocab-size", vocab_size,
                                  "--min-frequency", min_frequency])
    t_pr = time.time() - t0
    p_doc = json.loads((out / "tokenizer.json").read_text(encoding="utf-8"))
    t0 = time.time()
    hf = hf_train(texts, vocab_size, min_frequency)
    t_hf = time.time() - t0
    h_doc = json.loads(hf.to_str())
    p_merges, h_merges = merges_of(p_doc), merges_of(h_doc)
    p_vocab, h_vocab = p_doc["model"]["vocab"], h_doc["model"]["vocab"]
    max_merges = vocab_size - len(LEADING_SPECIAL) - 256 - len(TRAILING_SPECIAL)
    print(f"[train {name}] {len(texts)} texts, vocab_size {vocab_size}, min_frequency {min_frequency}: "
          f"prospect {len(p_merges)} merges ({t_pr:.1f} s), HF {len(h_merges)} merges ({t_hf:.1f} s), "
          f"room for {max_merges}")

    # Pre-token types, as HF's pre-tokenizer splits (the byte-level symbols of each).
    pt = hf.pre_tokenizer
    words = collections.Counter()
    for t, m in corpus_pairs:
        for piece, _ in pt.pre_tokenize_str(t):
            words[tuple(piece)] += m
    compared, problems, tie, ties = replay(words, p_merges, h_merges, p_vocab, h_vocab, min_frequency, max_merges)
    print(f"[train {name}] {len(words)} word types; merges replayed in lockstep: {compared} of "
          f"{max(len(p_merges), len(h_merges))}; ties of the best count met and broken the same way: {ties}")
    for p in problems[:SHOW]:
        print("  " + p)
    if tie:
        print("  " + tie)
    if tie and tie_expected:
        report.require(f"train {name}: merges equal up to the first order-dependent tie ({compared}), where each "
                       f"side takes the smallest pair by its own ids", not problems)
        return
    report.require(f"train {name}: every merge is a most frequent pair, same on both sides", not problems)
    report.require(f"train {name}: replay not cut short by an order-dependent tie", tie is None,
                   "(the corpus no longer discriminates; pick another seed)" if tie else "")
    full = len(p_vocab) + len(TRAILING_SPECIAL) == vocab_size
    report.require(f"train {name}: stops for the expected reason ({expect_stop})",
                   full == (expect_stop == "vocab_size"), f"{len(p_merges)} merges, room for {max_merges}")
    diff = next((i for i in range(min(len(p_merges), len(h_merges))) if p_merges[i] != h_merges[i]), None)
    report.require(f"train {name}: merge lists equal", p_merges == h_merges,
                   "" if p_merges == h_merges else f"first difference at {diff}: "
                   f"{p_merges[diff] if diff is not None else p_merges[len(h_merges):][:1]} vs "
                   f"{h_merges[diff] if diff is not None else h_merges[len(p_merges):][:1]}")

    # Vocabulary: learned tokens by id; the alphabet as a set, each side numbered by its rule.
    alphabet = pre_tokenizers.ByteLevel.alphabet()
    base = len(LEADING_SPECIAL)
    p_alpha = {t: i for t, i in p_vocab.items() if base <= i < base + 256}
    h_alpha = {t: i for t, i in h_vocab.items() if base <= i < base + 256}
    byte_chars = _bytes_to_unicode()
    p_rule = {byte_chars[b]: base + b for b in range(256)}
    h_rule = {c: base + k for k, c in enumerate(sorted(alphabet, key=ord))}
    report.require(f"train {name}: alphabet is the 256 byte-level characters on both sides",
                   set(p_alpha) == set(h_alpha) == set(alphabet))
    report.require(f"train {name}: alphabet ids follow each side's rule (byte order / code-point order)",
                   p_alpha == p_rule and h_alpha == h_rule)
    p_learned = {t: i for t, i in p_vocab.items() if i >= base + 256}
    h_learned = {t: i for t, i in h_vocab.items() if i >= base + 256}
    bad = sorted(set(p_learned.items()) ^ set(h_learned.items()), key=lambda x: x[1])
    report.require(f"train {name}: learned tokens equal, same ids ({len(p_learned)})", not bad,
                   f"{len(bad)} differ, e.g. {bad[:4]}" if bad else "")
    p_added = [(a["id"], a["content"], a["special"]) for a in p_doc["added_tokens"]]
    h_added = [(a["id"], a["content"], a["special"]) for a in h_doc["added_tokens"]]
    report.require(f"train {name}: added tokens equal ({len(p_added)})", p_added == h_added,
                   "" if p_added == h_added else f"{p_added} vs {h_added}")

    # The trained tokenizers tokenize the corpus the same (token strings; alphabet ids differ by design).
    sample = [t for t, _ in corpus_pairs[:2000]]
    h_enc = hf.encode_batch(sample, add_special_tokens=False)
    p_enc = prospect_tokenize(binary, out / "tokenizer.json", sample)
    p_tok = {i: t for t, i in p_vocab.items()}
    for a in p_doc["added_tokens"]:
        p_tok[a["id"]] = a["content"]
    n_tok = sum(len(e.tokens) for e in h_enc)
    bad = [i for i, (e, g) in enumerate(zip(h_enc, p_enc))
           if list(e.tokens) != [p_tok[j] for j in g["ids"]] or [list(o) for o in e.offsets] != g["offsets"]]
    for i in bad[:SHOW]:
        ht, pt_ = list(h_enc[i].tokens), [p_tok[j] for j in p_enc[i]["ids"]]
        ho, po = [tuple(o) for o in h_enc[i].offsets], [tuple(o) for o in p_enc[i]["offsets"]]
        k = next((j for j in range(min(len(ht), len(pt_))) if ht[j] != pt_[j] or ho[j] != po[j]),
                 min(len(ht), len(pt_)))
        print(f"  text {i}: {short(sample[i])}; first difference at token {k}\n"
              f"    HF       {ht[max(0, k - 3):k + 4]} {ho[max(0, k - 3):k + 4]}\n"
              f"    prospect {pt_[max(0, k - 3):k + 4]} {po[max(0, k - 3):k + 4]}")
    report.require(f"train {name}: both trained tokenizers give the same tokens on {len(sample)} texts "
                   f"({n_tok} tokens)", not bad, f"{len(bad)} texts differ")


def _bytes_to_unicode():
    """GPT-2's byte -> character table (what ByteLevel uses)."""
    bs = list(range(0x21, 0x7F)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {b: chr(c) for b, c in zip(bs, cs)}


# ---------------------------------------------------------------------------------------- main
def main():
    args = peerlib.parse_args(__doc__.splitlines()[0])
    started = time.time()
    work = peerlib.fresh_dir(args.work)
    report = peerlib.Report()
    smol = Path(args.testdata) / "fixtures" / "smolvlm2-tokenizer" / "tokenizer.json"
    if not smol.is_file():
        peerlib.fail_now(f"missing test input {smol} (made by TestData.Generate: tests/peers/make_test_inputs.py)")

    # The tokenizer `prospect synth` trains for its demo data (no model, few videos: only the text matters).
    synth_out = work / "synth"
    out = peerlib.run_prospect(args.prospect, ["synth", "--out", synth_out, "--no-model", "--train-videos", 40,
                                               "--val-videos", 1, "--test-videos", 1, "--image-size", 32])
    synth_tok = next((Path(line.split("synth: tokenizer ", 1)[1].strip()) for line in out.splitlines()
                      if line.startswith("synth: tokenizer ")), None)
    if synth_tok is None or not synth_tok.is_file():
        peerlib.fail_now("prospect synth did not say where it wrote its tokenizer")

    specials = []
    for path in (smol, synth_tok):
        for a in json.loads(path.read_text(encoding="utf-8"))["added_tokens"]:
            if a["content"] not in specials:
                specials.append(a["content"])
    texts = make_strings(specials, N_STRINGS, SEED)
    compare_encodings("SmolVLM2", smol, texts, args.prospect, report)
    compare_encodings("synth", synth_tok, texts, args.prospect, report)

    corpus = make_corpus(SEED, 3000)
    compare_training("A", corpus, vocab_size=len(LEADING_SPECIAL) + 256 + len(TRAILING_SPECIAL) + 400,
                     min_frequency=2, binary=args.prospect, work=work, report=report, expect_stop="vocab_size")
    compare_training("B", corpus, vocab_size=5000, min_frequency=400, binary=args.prospect, work=work,
                     report=report, expect_stop="min_frequency")
    # C: every text once: many pairs share the best count (ties), yet none that the two orders rank differently.
    compare_training("C", [(t, 1) for t, _ in corpus], vocab_size=len(LEADING_SPECIAL) + 256 +
                     len(TRAILING_SPECIAL) + 400, min_frequency=2, binary=args.prospect, work=work, report=report,
                     expect_stop="vocab_size")
    # D: the documented difference: ('a','b') and ('Ġ','c') tie at 3; Prospect numbers 'Ġ' (byte 0x20) below
    # 'a', HF above, so the first merges differ, each side's by its own rule.
    compare_training("D", [("ab", 3), (" cd", 3)], vocab_size=len(LEADING_SPECIAL) + 256 + len(TRAILING_SPECIAL) + 3,
                     min_frequency=1, binary=args.prospect, work=work, report=report, expect_stop="vocab_size",
                     tie_expected=True)
    return peerlib.finish(report, work, args.keep, started)


if __name__ == "__main__":
    sys.exit(main())
