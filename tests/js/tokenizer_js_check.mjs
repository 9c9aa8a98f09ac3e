// Does Hugging Face's own tokenizer.json reader (tokenizers.js, the tokenizer of Transformers.js) read a
// tokenizer.json and encode exactly as Prospect does? Used on the BPE tokenizer `prospect synth` trains
// (issue 6) and, as a control, on the SmolVLM2 tokenizer whose parity with Python `tokenizers` the fixtures prove.
//
// usage: node tokenizer_js_check.mjs PROSPECT_BINARY TOKENIZER_JSON CLIPS_JSON
// Encodes the text of every turn in the clip file (a DST clip or a JSON array of them) plus rendered strings with special
// tokens, digits, whitespace runs and non-ASCII text. Prints the counts it compared and the first mismatch; exit
// 1 on any mismatch or error.
import { readFileSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { Tokenizer } from "@huggingface/tokenizers";

const [prospect, tokPath, clipsPath] = process.argv.slice(2);
const texts = [
  "<|im_start|>System: Task steps:\nS1: Attach the red wheel.<end_of_utterance>\n",
  "DST_UPDATE: S1->complete, S2->start<end_of_utterance>\nAssistant: Now fix the blue base.",
  "<fake_token_around_image><global-img><image><image><fake_token_around_image>",
  "  leading spaces, digits 12345 and unicode: caf\u00e9 \u2014 \u4e2d\u6587 \u{1F600}",
  "tabs\tand\nnewlines\r\n  end  ",
];
const parsed = JSON.parse(readFileSync(clipsPath, "utf8"));
for (const clip of Array.isArray(parsed) ? parsed : [parsed]) {
  for (const turn of clip.conversation) {
    texts.push(typeof turn.content === "string" ? turn.content : JSON.stringify(turn.content));
  }
}
const tokJson = JSON.parse(readFileSync(tokPath, "utf8"));
const hf = new Tokenizer(tokJson, {});
const input = texts.map((t) => JSON.stringify({ text: t })).join("\n") + "\n";
const out = execFileSync(prospect, ["tokenize", "--tokenizer", tokPath], { input, maxBuffer: 1 << 28 }).toString();
const ours = out.split("\n").filter((l) => l.trim()).map((l) => JSON.parse(l).ids);
if (ours.length !== texts.length) {
  console.log(`prospect tokenize returned ${ours.length} lines for ${texts.length} texts`);
  process.exit(1);
}
let equal = 0, ids = 0, roundTrip = 0, first = -1;
for (let i = 0; i < texts.length; i++) {
  const theirs = hf.encode(texts[i], { add_special_tokens: false }).ids;
  ids += theirs.length;
  const same = theirs.length === ours[i].length && theirs.every((v, k) => v === ours[i][k]);
  if (same) equal++;
  else if (first < 0) first = i;
  if (hf.decode(ours[i], { skip_special_tokens: false }) === texts[i]) roundTrip++;
}
console.log(`${tokPath}: ${texts.length} texts, ${ids} tokenizers.js ids, ${equal} equal, ${texts.length - equal} different; ` +
            `tokenizers.js decodes Prospect's ids back to the text for ${roundTrip}/${texts.length}`);
if (first >= 0) {
  console.log("first mismatch:", JSON.stringify(texts[first]));
  console.log("  tokenizers.js", JSON.stringify(hf.encode(texts[first], { add_special_tokens: false }).ids));
  console.log("  prospect     ", JSON.stringify(ours[first]));
  process.exit(1);
}
