// The options of a streaming run (streaming.md §1), torch-free so command lines that only sometimes link
// libtorch (tools/cmd_eval.cpp) can hold them. Not here: the loop itself (stream_engine.h).
#pragma once
#include <cstdint>
#include <string>

namespace prospect::stream {

enum class ContextPolicy { Refresh, DropMiddle };
// "refresh" / "drop_middle"; parse throws prospect::Error for another name.
const char* context_policy_name(ContextPolicy p);
ContextPolicy parse_context_policy(const std::string& name);

struct StreamOptions {
  double threshold_dst = 0.5;  // a head fires when p > threshold (0 fires on every frame, 1 never)
  double threshold_speak = 0.5;
  bool constrain_dst = true;  // grammar-constrained DST decoding
  // An utterance that is nothing but DST items ("S2->complete") on a frame where the DST head did not fire
  // is the model writing its update in the wrong channel: take it back, decode the DST update (under the
  // grammar when constrained), then speak once more (docs/STREAMING.md). false keeps such utterances.
  bool reroute_dst_speech = true;
  // A `reset` (which wipes a step's progress) the grammar forced on the model: when constrained decoding
  // picks a token of a reset item that the model itself gave less than this probability (softmax over the
  // whole vocabulary), the update keeps only the items before it, and is dropped when there are none
  // (docs/STREAMING.md §1). 0 (the default) keeps whatever the grammar allows.
  double min_reset_prob = 0;
  int max_dst_tokens = 32;  // generated tokens per update, <end_of_utterance> included
  int max_speak_tokens = 128;
  int64_t max_context = 4096;    // tokens the cache may hold (the model's max_seq_len)
  int64_t refresh_margin = 512;  // act when fewer than this many would remain (capped at max_context / 4)
  ContextPolicy policy = ContextPolicy::Refresh;
  bool teacher_forced = false;    // append the reference turns instead of generating; thresholds unused
  int frame_stride = 1;           // visit every s-th frame (anchor frames always), as the renderer does
  bool keep_context_ids = false;  // return the final context's token ids (tests, debugging)
};

// Where the model, its tokenizer and the frames are, and how to run it.
struct ModelRunOptions {
  std::string model_dir;
  std::string tokenizer;    // "" = MODEL_DIR/tokenizer.json
  std::string frames_root;  // "" = the data file's folder
  std::string device = "cpu";
  std::string dtype = "fp32";  // fp32 | bf16 | fp16
  int threads = 0;             // <= 0: all cores (set_compute_threads)
  int encode_batch = 8;        // frames per vision-tower call
  // Whether the command line set StreamOptions::max_context / frame_stride; where it did not, they come from
  // the checkpoint's training run (resolve_trained_stream_options).
  bool max_context_given = false, frame_stride_given = false;
};

}  // namespace prospect::stream
