#!/usr/bin/env python3
"""Live check: Llama 3 style tokenizers in Prospect against Hugging Face `tokenizers` (CTest Peers.llama3_tokenizer).

No Llama 3 file can be downloaded here, so the check builds one at test time with `tokenizers` itself, in the
shape of Meta's Llama 3 tokenizer.json:
  pre_tokenizer  Sequence[Split(Regex <the Llama 3 pattern>, behavior Isolated, invert false),
                          ByteLevel(add_prefix_space false, trim_offsets true, use_regex false)]
  model          BPE with ignore_merges true, trained here (vocab 3000) on generated text
  decoder        ByteLevel
  post_processor Sequence[ByteLevel(add_prefix_space true, trim_offsets false, use_regex true),
                          TemplateProcessing(single "<|begin_of_text|> $A")]
  added_tokens   Llama 3's special names (<|begin_of_text|>, <|eot_id|>, <|start_header_id|>, reserved tokens,
                 ...), the SmolVLM2 chat placeholders Prospect's renderer writes (src/text/special_tokens.h:
                 <image>, <fake_token_around_image>, <global-img>, <end_of_utterance>, <|im_start|>), all
                 special and normalized false like Llama 3's; plus a few that exercise the other flags
                 (non-special normalized / not normalized, lstrip + rstrip, single_word).
Thousands of generated strings aimed at every alternative of the Split regex (contractions in any case incl.
U+017F, number runs of 1-7 in several scripts, punctuation runs followed by \\r / \\n, \\r\\n, tabs, space runs
before words and at the end, non-Latin letters and combining marks, emoji, CJK, added tokens glued to text and
broken ones), plus the broader strings of check_tokenizer.py, go through `prospect tokenize --offsets --decode`
and `Tokenizer.encode_batch`, once with add_special_tokens False and once True (`--add-special-tokens`: the
template's <|begin_of_text|>). Ids and offsets (code points on both sides) must be equal, and decode must give
back HF's decode and the input text. The same strings are also compared with the pattern's two variants that
Prospect knows (single \\p{N}, as Qwen2 writes it, and GPT-2's pattern as a Split) and with the ByteLevel options
Llama 3 leaves off (add_prefix_space, trim_offsets), and an unknown pattern must be refused with an error
naming the file and the pattern. The check also prints how many strings ignore_merges
changes (HF with ignore_merges false as the reference), to show that path is exercised.

Prints counts (strings, ids, offsets, mismatches) and the first mismatches with both sides. Exit status 1 on
any mismatch.
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
from check_tokenizer import StringMaker, short  # noqa: E402  (the broad random strings of Peers.tokenizer)

from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, pre_tokenizers, processors, trainers  # noqa: E402

LLAMA3_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|"
                  r"\s*[\r\n]+|\s+(?!\S)|\s+")
QWEN2_PATTERN = LLAMA3_PATTERN.replace(r"\p{N}{1,3}", r"\p{N}")
GPT2_PATTERN = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"
UNKNOWN_PATTERN = LLAMA3_PATTERN.replace(r"\p{N}{1,3}", r"\p{N}{1,4}")

BOS = "<|begin_of_text|>"
SPECIAL = [BOS, "<|end_of_text|>", "<|reserved_special_token_0|>", "<|reserved_special_token_1|>",
           "<|reserved_special_token_10|>", "<|reserved_special_token_100|>", "<|finetune_right_pad_id|>",
           "<|start_header_id|>", "<|end_header_id|>", "<|eom_id|>", "<|eot_id|>", "<|python_tag|>",
           "<|im_start|>", "<|im_end|>", "<image>", "<fake_token_around_image>", "<global-img>",
           "<end_of_utterance>", "<row_1_col_1>", "<|reserved_special_token_2|>"]
STRIP_TOKEN = "<|strip|>"
# Added tokens with the other flags (Llama 3 has none of these; SmolVLM2-derived files may).
OTHER_ADDED = [
    AddedToken("<note>", special=False, normalized=True),
    AddedToken("[[cite]]", special=False, normalized=False),
    AddedToken(STRIP_TOKEN, special=True, normalized=False, lstrip=True, rstrip=True),
    AddedToken("wordtok", special=False, normalized=False, single_word=True),
]
VOCAB_SIZE = 3000
N_EXTRA_VOCAB = 300  # pre-tokens added to the vocabulary without merges (for ignore_merges)
N_TARGETED = 3000
N_BROAD = 1500
SEED = 20261207
SHOW = 5

# ---------------------------------------------------------------------------------------- strings
LETTERS = {  # a few scripts, with their combining marks
    "latin": "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZéèàçñøßÆœ",
    "greek": "αβγδεζηθικλμνξοπρστυφχψωΑΒΓΔΣΩ",
    "cyrillic": "абвгдежзийклмнопрстуфхцчшщъыьэюяЖЩЯ",
    "arabic": "ابتثجحخدذرزسشصضطظعغفقكلمنهوي",
    "hebrew": "אבגדהוזחטיכלמנסעפצקרשת",
    "devanagari": "कखगघङचछजझञटठडढणतथदधनपफबभमयरलवशषसह",
    "thai": "กขฃคฅฆงจฉชซฌญฎฏฐฑฒณดตถทธนบปผฝพฟภมยรลวศษสหฬอฮ",
    "cjk": "的一是不了人我在有他这中大来上国个到说们为子和你地出道也时年得就那要下以生会自着去之过家学对可她",
    "kana": "あいうえおかきくけこさしすせそアイウエオカキクケコー",
    "hangul": "가나다라마바사아자차카타파하한국어",
}
MARKS = ["\u0301", "\u0300", "\u0308", "\u0327", "\u093f", "\u094d", "\u0e31", "\u0e48", "\u05b7", "\u064e",
         "\u3099", "\u200d", "\ufe0f", "\u20e3"]
NUMBERS = ["0123456789", "٠١٢٣٤٥٦٧٨٩", "०१२३४५६७८९", "０１２３４５６７８９", "²³¹", "½¾", "ⅠⅡⅢⅫ", "①②③", "𝟎𝟏𝟐𝟗", "〇"]
PUNCT = list("!\"#$%&()*+,-./:;<=>?@[\\]^_`{|}~'") + ["…", "—", "«", "»", "“", "”", "¿", "、", "。", "€", "→", "©"]
EMOJI = ["😀", "🙏", "🚀", "❤️", "👍🏽", "👩‍💻", "🇫🇷", "1️⃣", "🏳️‍🌈", "✅", "🦀"]
SPACES = [" ", " ", " ", "  ", "   ", "\t", "\t\t", " \t", "\u00a0", "\u3000", "\u2009", "\u200a"]
NEWLINES = ["\n", "\n\n", "\r\n", "\r", "\r\n\r\n", " \n", "\t\n", "\n ", "\n\t", " \r\n ", "\u2028", "\u0085",
            "\x0b", "\x0c"]
CONTRACTION_TAILS = ["s", "t", "re", "ve", "m", "ll", "d"]
WORDS = ["don", "DON", "it", "IT", "we", "They", "I", "you", "attach", "the", "wheel", "chassis", "Assistant",
         "User", "S2", "step"]


def any_case(s, rng):
    return "".join(c.upper() if rng.random() < 0.5 else c for c in s)


class TargetedMaker:
    """Strings aimed at the alternatives of the Llama 3 pattern and at the added tokens."""

    def __init__(self, rng, specials):
        self.rng = rng
        self.specials = specials
        self.broken = [s[:-1] for s in specials] + [s[1:] for s in specials] + [s.upper() for s in specials[:6]]

    def word(self):
        rng = self.rng
        script = rng.choice(list(LETTERS))
        w = "".join(rng.choice(LETTERS[script]) for _ in range(rng.randint(1, 9)))
        if rng.random() < 0.2:
            w += "".join(rng.choice(MARKS) for _ in range(rng.randint(1, 2)))
            if rng.random() < 0.5:
                w += "".join(rng.choice(LETTERS[script]) for _ in range(rng.randint(1, 4)))
        return w

    def atom(self):
        rng = self.rng
        kind = rng.choices(["word", "ascii", "contraction", "apostrophe", "number", "punct", "punct_nl", "space",
                            "newline", "emoji", "mark", "special", "broken", "symbol_word", "long_space"],
                           [10, 10, 8, 2, 8, 5, 6, 8, 7, 3, 2, 6, 2, 4, 1])[0]
        if kind == "word":
            return self.word()
        if kind == "ascii":
            return any_case(rng.choice(WORDS), rng) if rng.random() < 0.7 else rng.choice(WORDS)
        if kind == "contraction":  # (?i:'s|'t|...) in any case, glued to a word or not, incl. U+017F (long s)
            tail = any_case(rng.choice(CONTRACTION_TAILS), rng)
            if rng.random() < 0.05:
                tail = "\u017f" + rng.choice(["", "t", "x"])
            return (rng.choice(WORDS) if rng.random() < 0.8 else "") + "'" + tail + \
                (rng.choice(["", "", "x", "ing", "'", "s"]))
        if kind == "apostrophe":
            return rng.choice(["'", "''", "'x", "' s", "’s", "'1", "'\n", "'é", "'ſ", "'K"])
        if kind == "number":  # runs of 1-7 of one script, so \p{N}{1,3} splits them in threes
            digits = rng.choice(NUMBERS)
            return "".join(rng.choice(digits) for _ in range(rng.randint(1, 7)))
        if kind == "punct":
            return "".join(rng.choice(PUNCT) for _ in range(rng.randint(1, 5)))
        if kind == "punct_nl":  # ` ?[^\s\p{L}\p{N}]+[\r\n]*`
            return rng.choice(["", " "]) + "".join(rng.choice(PUNCT) for _ in range(rng.randint(1, 4))) + \
                "".join(rng.choice(["\n", "\r", "\r\n"]) for _ in range(rng.randint(0, 3)))
        if kind == "space":
            return rng.choice(SPACES) * rng.randint(1, 3)
        if kind == "newline":  # `\s*[\r\n]+`
            return rng.choice(NEWLINES) + (rng.choice(SPACES) if rng.random() < 0.3 else "")
        if kind == "emoji":
            return "".join(rng.choice(EMOJI) for _ in range(rng.randint(1, 3)))
        if kind == "mark":  # a mark with no letter before it
            return rng.choice(MARKS) + (self.word() if rng.random() < 0.5 else "")
        if kind == "special":
            return rng.choice(self.specials)
        if kind == "broken":
            return rng.choice(self.broken)
        if kind == "symbol_word":  # `[^\r\n\p{L}\p{N}]?\p{L}+` with a symbol, tab or NBSP as the prefix
            return rng.choice(PUNCT + ["\t", "\u00a0", "\u3000"] + EMOJI[:3]) + self.word()
        return rng.choice([" ", "\t", "\n", " \n"]) * rng.randint(5, 60)

    def string(self):
        rng = self.rng
        parts = []
        for _ in range(rng.randint(1, 12)):
            parts.append(self.atom())
            r = rng.random()
            if r < 0.35:
                parts.append(" ")
            elif r < 0.45:
                parts.append(rng.choice(SPACES + NEWLINES))
        s = "".join(parts)
        r = rng.random()
        if r < 0.1:
            s = " " + s
        elif r < 0.2:
            s += rng.choice(["  ", " ", "\n", "\t ", "   \n"])
        return s


def make_strings(specials):
    rng = random.Random(SEED)
    tm = TargetedMaker(rng, specials)
    out = [tm.string() for _ in range(N_TARGETED)]
    broad = StringMaker(random.Random(SEED + 1), specials)
    out += [broad.string() for _ in range(N_BROAD)]
    out += ["", " ", "  ", "\n", "\r\n", "DON'T", "'Ll", "I'M here", "we'VE", "it'ſ", "1234567", "a  b  ", "x\t\ty",
            "!!!\n\n", " ...\r\n", "hello\u0301world", "<|begin_of_text|>Hi<|eot_id|>", "a<|strip|>  b",
            "  <|strip|>", "wordtok wordtoks xwordtok", "<note> <note>x[[cite]]", "٣٤٥٦٧", "日本語のテキスト"]
    return out


def make_corpus():
    rng = random.Random(SEED + 2)
    tm = TargetedMaker(rng, [])
    tm.specials = ["."]
    tm.broken = ["."]
    text = [tm.string() for _ in range(20000)]
    # Frequent English-like words, so merges build whole words (and ignore_merges has something to do).
    eng = ["the", "wheel", "chassis", "attach", "screw", "now", "assembly", "step", "complete", "don't", "it's",
           "We'll", "they're", "user", "assistant", "123", "2024", "hello", "world"]
    text += [" ".join(rng.choice(eng) for _ in range(rng.randint(3, 15))) for _ in range(20000)]
    return text


# ---------------------------------------------------------------------------------------- the tokenizer
def build_llama3_like(texts):
    """Trains the BPE, then adds to its vocabulary (without merges) the most frequent pre-tokens of `texts` that
    training did not make: merges cannot build those, so only ignore_merges encodes them as one token, which is
    how Llama 3's converted tiktoken vocabulary behaves."""
    split = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(LLAMA3_PATTERN), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=False)])
    trained = Tokenizer(models.BPE(ignore_merges=True))
    trained.pre_tokenizer = split
    trainer = trainers.BpeTrainer(vocab_size=VOCAB_SIZE, min_frequency=2, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), special_tokens=[])
    trained.train_from_iterator(make_corpus(), trainer)
    model = json.loads(trained.to_str())["model"]
    vocab = dict(model["vocab"])
    counts = collections.Counter(piece for t in texts for piece, _ in split.pre_tokenize_str(t))
    extras = [p for p, _ in counts.most_common() if p not in vocab and len(p) > 1][:N_EXTRA_VOCAB]
    for p in extras:
        vocab[p] = len(vocab)
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[tuple(m) for m in model["merges"]], ignore_merges=True))
    tok.pre_tokenizer = split
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens([AddedToken(s, special=True, normalized=False) for s in SPECIAL])
    tok.add_tokens(OTHER_ADDED)
    bos = tok.token_to_id(BOS)
    tok.post_processor = processors.Sequence([
        processors.ByteLevel(add_prefix_space=True, trim_offsets=False, use_regex=True),
        processors.TemplateProcessing(single=f"{BOS} $A", pair=f"{BOS} $A {BOS} $B", special_tokens=[(BOS, bos)])])
    return tok, len(extras)


def with_pattern(doc, pattern, ignore_merges=True):
    d = json.loads(json.dumps(doc))
    d["pre_tokenizer"]["pretokenizers"][0]["pattern"] = {"Regex": pattern}
    d["model"]["ignore_merges"] = ignore_merges
    return d


# ---------------------------------------------------------------------------------------- comparing
def prospect_tokenize(binary, tokenizer, texts, add_special):
    payload = "".join(json.dumps({"text": t}, ensure_ascii=False) + "\n" for t in texts)
    cmd = [str(binary), "tokenize", "--tokenizer", str(tokenizer), "--offsets", "--decode"]
    if add_special:
        cmd.append("--add-special-tokens")
    print("$ " + " ".join(cmd) + f" < {len(texts)} lines", flush=True)
    r = subprocess.run(cmd, input=payload.encode("utf-8"), capture_output=True)
    if r.returncode != 0:
        peerlib.fail_now(f"prospect tokenize exited with {r.returncode}: {r.stderr.decode(errors='replace')[:2000]}")
    # Not splitlines(): "decoded" may hold U+2028, U+0085, ... raw, which it would also split at.
    lines = r.stdout.decode("utf-8").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if len(lines) != len(texts):
        peerlib.fail_now(f"prospect tokenize wrote {len(lines)} lines for {len(texts)} inputs")
    return [json.loads(line) for line in lines]


def compare(name, tok_path, texts, binary, report, add_special, gives_back_input=True):
    """gives_back_input: decode must return the input (false where add_prefix_space inserts spaces)."""
    hf = Tokenizer.from_file(str(tok_path))
    t0 = time.time()
    ref = hf.encode_batch(texts, add_special_tokens=add_special)
    t_hf = time.time() - t0
    t0 = time.time()
    got = prospect_tokenize(binary, tok_path, texts, add_special)
    t_pr = time.time() - t0
    hf_dec = hf.decode_batch([list(e.ids) for e in ref], skip_special_tokens=False)
    n_ids = n_off = n_strip = 0
    id_bad, off_bad, dec_bad, trip_bad = [], [], [], []
    for i, (text, e, g) in enumerate(zip(texts, ref, got)):
        hids, hoff = list(e.ids), [list(o) for o in e.offsets]
        n_ids += max(len(hids), len(g["ids"]))
        if hids != g["ids"]:
            id_bad.append(i)
            continue
        n_off += len(hoff)
        if hoff != g["offsets"]:
            off_bad.append(i)
        if g["decoded"] != hf_dec[i]:
            dec_bad.append(i)
        # The input comes back whole unless an lstrip/rstrip token took in the whitespace around it.
        if STRIP_TOKEN in text or not gives_back_input:
            n_strip += 1
        elif g["decoded"] != (BOS if add_special else "") + text:
            trip_bad.append(i)
    label = f"[{name}, add_special_tokens={add_special}]"
    print(f"{label} {len(texts)} strings ({sum(len(t) for t in texts)} code points), {n_ids} ids compared, "
          f"{n_off} offsets compared; HF {t_hf:.2f} s, prospect {t_pr:.2f} s")
    print(f"{label} mismatches: ids {len(id_bad)} strings, offsets {len(off_bad)}, decode vs HF {len(dec_bad)}, "
          f"decode vs input {len(trip_bad)} (of {len(texts) - n_strip}: "
          f"{'those without ' + STRIP_TOKEN if gives_back_input else 'not compared: add_prefix_space'})")
    for i in (id_bad + off_bad)[:SHOW]:
        e, g = ref[i], got[i]
        hids, pids = list(e.ids), g["ids"]
        hoff, poff = [tuple(o) for o in e.offsets], [tuple(o) for o in g["offsets"]]
        k = next((j for j in range(min(len(hids), len(pids))) if hids[j] != pids[j] or hoff[j] != poff[j]),
                 min(len(hids), len(pids)))
        at = hoff[k][0] if k < len(hoff) else len(texts[i])
        print(f"  text {i}: {short(texts[i], at)}; first difference at token {k}\n"
              f"    HF       {list(e.tokens)[max(0, k - 3):k + 4]} {hids[max(0, k - 3):k + 4]} "
              f"{hoff[max(0, k - 3):k + 4]}\n"
              f"    prospect {pids[max(0, k - 3):k + 4]} {poff[max(0, k - 3):k + 4]}")
    for i in (dec_bad + trip_bad)[:SHOW]:
        print(f"  text {i}: {short(texts[i])} decodes to {short(got[i]['decoded'])} (HF {short(hf_dec[i])})")
    report.require(f"{label} ids equal on {len(texts)} strings ({n_ids} ids)", not id_bad,
                   f"{len(id_bad)} strings differ" if id_bad else "")
    report.require(f"{label} offsets equal ({n_off})", not off_bad, f"{len(off_bad)} strings differ" if off_bad else "")
    report.require(f"{label} decode equals HF's decode", not dec_bad, f"{len(dec_bad)} differ" if dec_bad else "")
    if gives_back_input:
        report.require(f"{label} decode gives back the input", not trip_bad,
                       f"{len(trip_bad)} differ" if trip_bad else "")
    return ref


def main():
    args = peerlib.parse_args(__doc__.splitlines()[0])
    started = time.time()
    work = peerlib.fresh_dir(args.work)
    report = peerlib.Report()

    specials = SPECIAL + [a.content for a in OTHER_ADDED]
    texts = make_strings(specials)
    t0 = time.time()
    hf, n_extra = build_llama3_like(texts)
    doc = json.loads(hf.to_str())
    path = work / "llama3_tokenizer.json"
    path.write_text(json.dumps(doc, ensure_ascii=False, indent=1), encoding="utf-8")
    pt = doc["pre_tokenizer"]
    n_added = len(doc["added_tokens"])
    print(f"built {path.name} in {time.time() - t0:.1f} s: vocab {hf.get_vocab_size(with_added_tokens=False)} "
          f"(of which {n_extra} without merges) + "
          f"{n_added} added tokens, ignore_merges {doc['model']['ignore_merges']}, "
          f"pre_tokenizer {[p['type'] for p in pt['pretokenizers']]}, post_processor "
          f"{[p['type'] for p in doc['post_processor']['processors']]}")
    report.require("the built file has the Llama 3 shape (Split pattern, behavior, ByteLevel use_regex false)",
                   pt["pretokenizers"][0]["pattern"] == {"Regex": LLAMA3_PATTERN}
                   and pt["pretokenizers"][0]["behavior"] == "Isolated"
                   and pt["pretokenizers"][1]["use_regex"] is False and doc["model"]["ignore_merges"] is True)

    ref = compare("llama3", path, texts, args.prospect, report, add_special=False)
    compare("llama3", path, texts, args.prospect, report, add_special=True)

    # How much ignore_merges matters on these strings (so a broken ignore_merges would show up above).
    plain = Tokenizer.from_str(json.dumps(with_pattern(doc, LLAMA3_PATTERN, ignore_merges=False)))
    changed = sum(list(a.ids) != list(b.ids) for a, b in zip(ref, plain.encode_batch(texts, add_special_tokens=False)))
    print(f"ignore_merges changes the ids of {changed} of {len(texts)} strings")
    report.require("ignore_merges is exercised (changes the ids of some strings)", changed > 0)

    # The variants Prospect also knows.
    for name, pattern in (("qwen2-variant", QWEN2_PATTERN), ("gpt2-as-split", GPT2_PATTERN)):
        vpath = work / f"{name}_tokenizer.json"
        vpath.write_text(json.dumps(with_pattern(doc, pattern), ensure_ascii=False), encoding="utf-8")
        compare(name, vpath, texts, args.prospect, report, add_special=False)

    # The ByteLevel options Llama 3 leaves off: add_prefix_space in the pre-tokenizer, trim_offsets in the
    # post-processor (offsets moved past spaces, also those an lstrip/rstrip token took in).
    tdoc = json.loads(json.dumps(doc))
    tdoc["pre_tokenizer"]["pretokenizers"][1]["add_prefix_space"] = True
    tdoc["post_processor"]["processors"][0]["trim_offsets"] = True
    tpath = work / "prefix-space-trim_tokenizer.json"
    tpath.write_text(json.dumps(tdoc, ensure_ascii=False), encoding="utf-8")
    compare("prefix-space-trim", tpath, texts, args.prospect, report, add_special=False, gives_back_input=False)

    # An unknown pattern is refused, naming the file and the pattern.
    bad = work / "unknown_pattern_tokenizer.json"
    bad.write_text(json.dumps(with_pattern(doc, UNKNOWN_PATTERN), ensure_ascii=False), encoding="utf-8")
    r = subprocess.run([str(args.prospect), "tokenize", "--tokenizer", str(bad)], input=b'{"text": "a"}\n',
                       capture_output=True)
    err = r.stderr.decode("utf-8", errors="replace")
    print(f"unknown Split pattern: exit status {r.returncode}, stderr: {err.strip()[:400]}")
    report.require("an unknown Split pattern is an error naming the file and the pattern",
                   r.returncode != 0 and str(bad) in err and json.dumps(UNKNOWN_PATTERN) in err)
    return peerlib.finish(report, work, args.keep, started)


if __name__ == "__main__":
    sys.exit(main())
