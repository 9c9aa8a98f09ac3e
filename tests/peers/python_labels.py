"""A plain-Python labels builder, what a transformers user writes without Prospect's collator: tokenize the
rendered chat text with HF `tokenizers`, then learn the assistant and DST message bodies (from after the
`Assistant:` / `DST_UPDATE:` prefix through their <end_of_utterance>), -100 elsewhere. Used by
check_python_collator.py (must equal the collator) and examples/collator_throughput.py (the baseline).
Decision targets with decisions as tokens (docs/DECISIONS.md): the marker token that follows a frame block.
"""
import re

EOU = "<end_of_utterance>"
# A message prefix the model writes: at the start of a line or right after a frame block.
_PREFIX = re.compile(r"(?:(?<=\n)|(?<=<fake_token_around_image>))(Assistant|DST_UPDATE):")


def learned_spans(text):
    """[start, end) character spans of the learned message bodies of a rendered text."""
    spans = []
    for m in _PREFIX.finditer(text):
        end = text.find(EOU, m.end())
        if end < 0:
            continue
        spans.append((m.end(), end + len(EOU)))
    return spans


def build(tokenizer, text):
    """(input_ids, labels) of a rendered text: labels are the ids inside learned spans, else -100."""
    enc = tokenizer.encode(text, add_special_tokens=False)
    return list(enc.ids), labels_from_offsets(enc.ids, enc.offsets, text)


def labels_from_offsets(ids, offsets, text):
    """Labels of tokens `ids` with character `offsets` [(start, end)] into `text` (padding: (0, 0) after the
    text's tokens is never inside a span)."""
    spans = learned_spans(text)
    labels = []
    j = 0
    for tid, (s, e) in zip(ids, offsets):
        while j < len(spans) and spans[j][1] <= s:
            j += 1
        inside = e > s and j < len(spans) and spans[j][0] <= s and e <= spans[j][1]
        labels.append(int(tid) if inside else -100)
    return labels


def markers(tokenizer):
    """The silent / DST / speak marker ids: <end_of_utterance>, first token of "DST_UPDATE:" and of "Assistant:"."""
    return {"silent": tokenizer.token_to_id(EOU),
            "dst": tokenizer.encode("DST_UPDATE:", add_special_tokens=False).ids[0],
            "speak": tokenizer.encode("Assistant:", add_special_tokens=False).ids[0]}


def decision_targets(ids, decisions, marks):
    """{position: target id} for the decision points of one rendered sample: after a frame block the marker
    the text continues with (DST or speak marker), else silent; where the speaking decision is read at the
    end of a DST message, the speak marker when the reference speaks at that frame, else silent."""
    out = {}
    for d in decisions:
        p = d["position"]
        nxt = ids[p + 1] if p + 1 < len(ids) else None
        out[p] = nxt if nxt in (marks["dst"], marks["speak"]) else marks["silent"]
        if d["speak_position"] != p:
            out[d["speak_position"]] = marks["speak"] if d["speak"] == 1 else marks["silent"]
    return out
