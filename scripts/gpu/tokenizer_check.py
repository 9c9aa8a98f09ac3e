#!/usr/bin/env python3
"""Does Hugging Face `tokenizers` read a tokenizer.json written by `prospect synth` (our own BPE trainer) and
encode exactly as Prospect does? Needs the `tokenizers` package (the GPU image has it; the CPU machines do not).

usage: tokenizer_check.py PROSPECT_BINARY TOKENIZER_JSON CLIPS_JSON
Encodes every turn text of the clips file plus a few rendered strings with both, prints the counts compared and
the first mismatch, exits 1 on any mismatch."""
import json
import subprocess
import sys

from tokenizers import Tokenizer


def main():
    prospect, tok_path, clips_path = sys.argv[1:4]
    texts = []
    for clip in json.load(open(clips_path)):
        for turn in clip["conversation"]:
            c = turn["content"]
            texts.append(c if isinstance(c, str) else json.dumps(c))
    texts += [
        "<|im_start|>System: Task steps:\nS1: Attach the red wheel.<end_of_utterance>\n",
        "DST_UPDATE: S1->complete, S2->start<end_of_utterance>\nAssistant: Now fix the blue base.",
        "<fake_token_around_image><global-img><image><image><fake_token_around_image>",
        "  leading spaces, digits 12345 and unicode: caf\u00e9 \u2014 \u4e2d\u6587",
    ]
    texts = list(dict.fromkeys(texts))
    hf = Tokenizer.from_file(tok_path)
    hf_ids = [hf.encode(t, add_special_tokens=False).ids for t in texts]
    run = subprocess.run([prospect, "tokenize", "--tokenizer", tok_path],
                         input="".join(json.dumps({"text": t}) + "\n" for t in texts),
                         capture_output=True, text=True, check=True)
    ours = [json.loads(line)["ids"] for line in run.stdout.splitlines() if line.strip()]
    if len(ours) != len(texts):
        print(f"prospect tokenize returned {len(ours)} lines for {len(texts)} texts")
        return 1
    bad = [i for i in range(len(texts)) if ours[i] != hf_ids[i]]
    print(f"tokenizer check: {len(texts)} texts, {sum(len(x) for x in hf_ids)} HF ids, "
          f"{len(texts) - len(bad)} equal, {len(bad)} different")
    round_trip = sum(hf.decode(hf_ids[i], skip_special_tokens=False) == texts[i] for i in range(len(texts)))
    print(f"HF decode round trip: {round_trip}/{len(texts)}")
    if bad:
        i = bad[0]
        print("first mismatch:", json.dumps(texts[i]), "\n  HF  ", hf_ids[i], "\n  ours", ours[i])
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
