// Rendering and labels (sequence.md): the worked example of §5 with every count, splitting at 4096, token ids
// equal to tokenizing the whole string on both real samples, disjoint label streams, negative subsampling,
// frame_stride and context_frames. Needs the SmolVLM2 tokenizer fixture.
#include "data/clip_renderer.h"

#include <gtest/gtest.h>

#include <iostream>
#include <nlohmann/json.hpp>
#include <set>

#include "core/error.h"
#include "data/clip_checks.h"
#include "data/clip_reader.h"
#include "fixtures.h"
#include "text/tokenizer.h"

using namespace prospect::data;
using prospect::test::dst_sample_path;
using prospect::test::proassist_sample_path;
using prospect::test::tokenizer_path;

namespace {

const prospect::text::Tokenizer& tokenizer() {
  static prospect::text::Tokenizer tok = prospect::text::Tokenizer::load(tokenizer_path());
  return tok;
}

#define REQUIRE_SAMPLES()                              \
  do {                                                 \
    PROSPECT_REQUIRE_FIXTURE(tokenizer_path());        \
    PROSPECT_REQUIRE_FIXTURE(dst_sample_path());       \
    PROSPECT_REQUIRE_FIXTURE(proassist_sample_path()); \
  } while (0)

// Compares the renderer's ids with tokenizing the sample's whole text; prints the first difference.
void expect_ids_equal_whole_string(const Sample& s, const std::string& what) {
  std::vector<int32_t> whole = tokenizer().encode(s.text);
  size_t first_diff = std::min(whole.size(), s.input_ids.size());
  for (size_t i = 0; i < std::min(whole.size(), s.input_ids.size()); ++i) {
    if (whole[i] != s.input_ids[i]) {
      first_diff = i;
      break;
    }
  }
  bool equal = whole == s.input_ids;
  std::cout << what << ": " << s.input_ids.size() << " ids rendered, " << whole.size()
            << " from the whole string, " << (equal ? "equal" : "DIFFERENT") << "\n";
  if (!equal && first_diff < std::max(whole.size(), s.input_ids.size())) {
    std::cout << "  first difference at " << first_diff << ": rendered "
              << (first_diff < s.input_ids.size() ? tokenizer().id_to_token(s.input_ids[first_diff])
                                                  : "<end>")
              << ", whole "
              << (first_diff < whole.size() ? tokenizer().id_to_token(whole[first_diff]) : "<end>") << "\n";
  }
  EXPECT_TRUE(equal) << what;
}

// Every position carries at most one stream; learned labels equal the input id; <image> never learned;
// decisions sit on the closing <fake_token_around_image> of a block.
void expect_streams_disjoint(const Sample& s, const std::string& what) {
  const int32_t image = tokenizer().token_to_id("<image>");
  const int32_t fake = tokenizer().token_to_id("<fake_token_around_image>");
  int64_t overlaps = 0, wrong_values = 0, image_learned = 0, decision_not_on_block = 0;
  for (size_t t = 0; t < s.input_ids.size(); ++t) {
    int streams = (s.lm_labels[t] != kIgnoreIndex) + (s.dst_labels[t] != kIgnoreIndex) +
                  (s.speak_labels[t] != kIgnoreIndex || s.dst_update_labels[t] != kIgnoreIndex);
    overlaps += streams > 1;
    if (s.lm_labels[t] != kIgnoreIndex && s.lm_labels[t] != s.input_ids[t]) ++wrong_values;
    if (s.dst_labels[t] != kIgnoreIndex && s.dst_labels[t] != s.input_ids[t]) ++wrong_values;
    if (s.input_ids[t] == image && streams > 0) ++image_learned;
    if (s.speak_labels[t] != kIgnoreIndex && s.input_ids[t] != fake) ++decision_not_on_block;
  }
  std::cout << what << ": overlaps " << overlaps << ", wrong label values " << wrong_values
            << ", <image> learned " << image_learned << ", decisions off a block end "
            << decision_not_on_block << "\n";
  EXPECT_EQ(overlaps, 0);
  EXPECT_EQ(wrong_values, 0);
  EXPECT_EQ(image_learned, 0);
  EXPECT_EQ(decision_not_on_block, 0);
}

Clip dst_clip() { return read_clips(dst_sample_path()).at(0); }

RenderOptions opts(int64_t max_seq_len, double rate = 1.0) {
  RenderOptions o;
  o.image_seq_len = 81;
  o.max_seq_len = max_seq_len;
  o.neg_frame_sampling_rate = rate;
  o.keep_text = true;
  return o;
}

}  // namespace

TEST(ClipLayout, WorkedExampleTextOrder) {
  PROSPECT_REQUIRE_FIXTURE(dst_sample_path());
  Clip c = dst_clip();
  std::string text = render_clip_text(c, opts(0));
  std::string sys = system_message(c, c.initial_state);
  EXPECT_EQ(sys.rfind("<|im_start|>System: You are a helpful and proactive assistant.", 0), 0u);
  EXPECT_NE(sys.find("\n\nTask steps:\nS1: Assemble the chassis by attaching and screwing the chassis parts "
                     "together.\nS2: Attach wheels to the chassis.\n"),
            std::string::npos);
  EXPECT_EQ(sys.find("Current state"), std::string::npos);
  EXPECT_EQ(text.rfind(sys + "\n", 0), 0u);
  const std::string block = frame_block_text(81);
  // Frame 193's block, then the user turn anchored at 194, frame 194's block, its update, its answer.
  std::string expect194 =
      block + "User: I want to assemble a toy roller with chassis, wheels, and cabin.<end_of_utterance>\n" +
      block + "DST_UPDATE: S1->start<end_of_utterance>\nAssistant: Great! Let's get started.";
  EXPECT_NE(text.find(sys + "\n" + expect194), std::string::npos);
  std::string expect213 =
      block + "DST_UPDATE: S1->complete, S2->start<end_of_utterance>\nAssistant: Now, let's screw";
  EXPECT_NE(text.find(expect213), std::string::npos);
  // 258 blocks.
  size_t blocks = 0;
  for (size_t p = text.find(block); p != std::string::npos; p = text.find(block, p + block.size())) ++blocks;
  std::cout << "blocks " << blocks << ", text " << text.size() << " bytes\n";
  EXPECT_EQ(blocks, 258u);
  // Ends with frame 450's block and its update.
  std::string tail = block + "DST_UPDATE: S6->complete<end_of_utterance>\n";
  EXPECT_EQ(text.substr(text.size() - tail.size()), tail);
}

TEST(ClipLayout, SubsamplingDeterministicKeepsPositives) {
  PROSPECT_REQUIRE_FIXTURE(dst_sample_path());
  Clip c = dst_clip();
  ClipLayout layout = layout_clip(c, opts(0));
  ASSERT_EQ(layout.units.size(), 258u);
  auto count = [&](const std::vector<bool>& keep, bool positives) {
    int64_t n = 0;
    for (size_t i = 0; i < keep.size(); ++i) n += keep[i] && layout.units[i].has_output() == positives;
    return n;
  };
  std::vector<bool> a = select_decision_units(c, layout, 0.5, 7, 0);
  std::vector<bool> b = select_decision_units(c, layout, 0.5, 7, 0);
  std::vector<bool> e1 = select_decision_units(c, layout, 0.5, 7, 1);
  std::vector<bool> s2 = select_decision_units(c, layout, 0.5, 8, 0);
  std::cout << "rho 0.5: positives " << count(a, true) << ", negatives kept " << count(a, false)
            << " of 249; epoch 1 " << count(e1, false) << "; seed 8 " << count(s2, false) << "\n";
  EXPECT_EQ(a, b);
  EXPECT_NE(a, e1);
  EXPECT_NE(a, s2);
  EXPECT_EQ(count(a, true), 9);  // 9 anchor frames with outputs
  EXPECT_EQ(count(e1, true), 9);
  EXPECT_GT(count(a, false), 90);
  EXPECT_LT(count(a, false), 160);
  std::vector<bool> none = select_decision_units(c, layout, 0.0, 7, 0);
  EXPECT_EQ(count(none, true), 9);
  EXPECT_EQ(count(none, false), 1);  // at least one negative per clip
  std::vector<bool> all = select_decision_units(c, layout, 1.0, 7, 3);
  EXPECT_EQ(count(all, false), 249);
  // Depends on the clip: the same clip at another position in its file draws differently.
  Clip other = c;
  other.index_in_file = 1;
  EXPECT_NE(select_decision_units(other, layout, 0.5, 7, 0), a);
}

TEST(ClipRenderer, WorkedExampleCounts) {
  REQUIRE_SAMPLES();
  ClipRenderer r(tokenizer(), opts(0));
  std::vector<Sample> samples = r.render(dst_clip());
  ASSERT_EQ(samples.size(), 1u);
  const Sample& s = samples[0];
  std::cout << "tokens " << s.input_ids.size() << ", decision points " << s.decisions.size() << ", speak "
            << s.speak_pos() << "/" << s.speak_neg() << ", dst " << s.dst_pos() << "/" << s.dst_neg()
            << ", lm " << s.lm_messages << " msgs " << s.lm_tokens() << " tokens, dst " << s.dst_messages
            << " msgs " << s.dst_tokens() << " tokens, frames " << s.first_frame << ".." << s.last_frame
            << "\n";
  EXPECT_EQ(s.decisions.size(), 258u);
  EXPECT_EQ(s.speak_pos(), 8);
  EXPECT_EQ(s.speak_neg(), 250);
  EXPECT_EQ(s.dst_pos(), 7);
  EXPECT_EQ(s.dst_neg(), 251);
  EXPECT_EQ(s.lm_messages, 8);
  EXPECT_EQ(s.dst_messages, 7);
  EXPECT_EQ(s.first_frame, 193);
  EXPECT_EQ(s.last_frame, 450);
  EXPECT_TRUE(s.initial_state.all_not_started());
  EXPECT_EQ(s.frames.size(), 258u);
  std::set<int64_t> speak, dst;
  for (const auto& d : s.decisions) {
    if (d.speak == 1) speak.insert(d.frame);
    if (d.dst_update == 1) dst.insert(d.frame);
  }
  EXPECT_EQ(speak, (std::set<int64_t>{194, 213, 225, 261, 304, 370, 395, 424}));
  EXPECT_EQ(dst, (std::set<int64_t>{194, 213, 304, 370, 395, 424, 450}));
  EXPECT_NE(s.text.find("DST_UPDATE: S1->complete, S2->start<end_of_utterance>\n"), std::string::npos);
  // The learned DST tokens at frame 213 decode to exactly " S1->complete, S2->start<end_of_utterance>".
  std::vector<int32_t> dst_run;
  const DecisionPoint* d213 = nullptr;
  for (const auto& d : s.decisions)
    if (d.frame == 213) d213 = &d;
  ASSERT_NE(d213, nullptr);
  for (size_t t = static_cast<size_t>(d213->position) + 1; t < s.input_ids.size() && dst_run.size() < 64;
       ++t) {
    if (s.dst_labels[t] != kIgnoreIndex)
      dst_run.push_back(s.dst_labels[t]);
    else if (!dst_run.empty())
      break;
  }
  std::string learned = tokenizer().decode(dst_run);
  std::cout << "frame 213 learned DST: '" << learned << "'\n";
  EXPECT_EQ(learned, " S1->complete, S2->start<end_of_utterance>");
  // 258 x 84 frame tokens plus text.
  int64_t image_tokens = 0;
  for (int32_t id : s.input_ids) image_tokens += id == tokenizer().token_to_id("<image>");
  EXPECT_EQ(image_tokens, 258 * 81);
  expect_ids_equal_whole_string(s, "DST sample (unsplit)");
  expect_streams_disjoint(s, "DST sample (unsplit)");
}

TEST(ClipRenderer, SplitsAt4096KeepingEveryLabelOnce) {
  REQUIRE_SAMPLES();
  Clip c = dst_clip();
  Sample whole = ClipRenderer(tokenizer(), opts(0)).render(c).at(0);
  std::vector<Sample> parts = ClipRenderer(tokenizer(), opts(4096)).render(c);
  std::vector<TaskState> states = states_before_frames(c);
  std::cout << "4096: " << parts.size() << " sub-clips\n";
  EXPECT_GE(parts.size(), 6u);
  std::map<int64_t, int> decision_frames;
  int64_t lm_tokens = 0, dst_tokens = 0, lm_msgs = 0, dst_msgs = 0, speak_pos = 0, dst_pos = 0;
  int64_t expected_first = 193;
  for (size_t p = 0; p < parts.size(); ++p) {
    const Sample& s = parts[p];
    std::cout << "  piece " << p << ": frames " << s.first_frame << ".." << s.last_frame << ", "
              << s.input_ids.size() << " tokens, " << s.decisions.size() << " decisions, lm " << s.lm_messages
              << ", dst " << s.dst_messages << ", state " << s.initial_state.format() << "\n";
    EXPECT_LE(s.input_ids.size(), 4096u);
    EXPECT_EQ(s.first_frame, expected_first);  // pieces tile the clip
    expected_first = s.last_frame + 1;
    EXPECT_EQ(s.sub_clip, static_cast<int>(p));
    EXPECT_EQ(s.num_sub_clips, static_cast<int>(parts.size()));
    EXPECT_EQ(s.initial_state, states[static_cast<size_t>(s.first_frame - 193)]) << "piece " << p;
    EXPECT_EQ(s.text.find("Current state") != std::string::npos, !s.initial_state.all_not_started());
    for (const auto& d : s.decisions) decision_frames[d.frame]++;
    lm_tokens += s.lm_tokens();
    dst_tokens += s.dst_tokens();
    lm_msgs += s.lm_messages;
    dst_msgs += s.dst_messages;
    speak_pos += s.speak_pos();
    dst_pos += s.dst_pos();
    expect_ids_equal_whole_string(s, "piece " + std::to_string(p));
    expect_streams_disjoint(s, "piece " + std::to_string(p));
  }
  EXPECT_EQ(expected_first, 451);
  EXPECT_EQ(decision_frames.size(), 258u);
  int twice = 0;
  for (const auto& [f, n] : decision_frames) twice += n != 1;
  EXPECT_EQ(twice, 0);
  EXPECT_EQ(lm_tokens, whole.lm_tokens());
  EXPECT_EQ(dst_tokens, whole.dst_tokens());
  EXPECT_EQ(lm_msgs, 8);
  EXPECT_EQ(dst_msgs, 7);
  EXPECT_EQ(speak_pos, 8);
  EXPECT_EQ(dst_pos, 7);
  // Cuts fall after an output turn, except where a silent stretch alone overflows.
  for (size_t p = 0; p + 1 < parts.size(); ++p) {
    bool after_output = false;
    for (const auto& d : parts[p].decisions) {
      if (d.frame == parts[p].last_frame) after_output = d.speak == 1 || d.dst_update == 1;
    }
    bool silent_stretch = parts[p].speak_pos() == 0 && parts[p].dst_pos() == 0;
    EXPECT_TRUE(after_output || silent_stretch) << "piece " << p << " ends at " << parts[p].last_frame;
  }
}

TEST(ClipRenderer, ContextFramesAreBareAndUnlabelled) {
  REQUIRE_SAMPLES();
  RenderOptions o = opts(4096);
  o.context_frames = 3;
  std::vector<Sample> parts = ClipRenderer(tokenizer(), o).render(dst_clip());
  int64_t decisions = 0;
  for (size_t p = 0; p < parts.size(); ++p) {
    const Sample& s = parts[p];
    decisions += static_cast<int64_t>(s.decisions.size());
    EXPECT_LE(s.input_ids.size(), 4096u);
    EXPECT_EQ(s.context_frames, p == 0 ? 0 : 3);
    if (p > 0) {
      ASSERT_GE(s.frames.size(), 3u);
      EXPECT_EQ(s.frames[0], s.first_frame - 3);
      EXPECT_EQ(s.frames[2], s.first_frame - 1);
      // The system message is followed directly by three bare blocks.
      std::string three = frame_block_text(81) + frame_block_text(81) + frame_block_text(81);
      EXPECT_EQ(s.text.find("<end_of_utterance>\n" + three), s.text.find("<end_of_utterance>\n"));
    }
    for (const auto& d : s.decisions) EXPECT_GE(d.frame, s.first_frame);
    expect_ids_equal_whole_string(s, "context piece " + std::to_string(p));
  }
  std::cout << parts.size() << " pieces with 3 context frames, " << decisions << " decision points\n";
  EXPECT_EQ(decisions, 258);
}

TEST(ClipRenderer, ProAssistSampleRendersAndLabels) {
  REQUIRE_SAMPLES();
  std::vector<Clip> clips = read_clips(proassist_sample_path());
  ClipRenderer r(tokenizer(), opts(0));
  for (const Clip& c : clips) {
    std::vector<Sample> ss = r.render(c);
    ASSERT_EQ(ss.size(), 1u);
    const Sample& s = ss[0];
    std::set<int64_t> assistant_frames;
    int64_t assistant_turns = 0;
    for (const Turn& t : c.turns) {
      if (t.role == Role::Assistant) {
        assistant_frames.insert(t.anchor_frame);
        ++assistant_turns;
      }
    }
    std::cout << "clip " << c.index_in_file << ": frames " << c.start_frame << ".." << c.end_frame - 1 << ", "
              << s.input_ids.size() << " tokens, speak " << s.speak_pos() << "/" << s.speak_neg() << ", dst "
              << s.dst_pos() << "/" << s.dst_neg() << ", lm " << s.lm_messages << " msgs " << s.lm_tokens()
              << " tokens\n";
    EXPECT_EQ(s.decisions.size(), static_cast<size_t>(c.end_frame - c.start_frame));
    EXPECT_EQ(s.speak_pos(), static_cast<int64_t>(assistant_frames.size()));
    EXPECT_EQ(s.dst_pos() + s.dst_neg(), 0);
    EXPECT_EQ(s.dst_tokens(), 0);
    EXPECT_EQ(s.lm_messages, assistant_turns);
    EXPECT_GT(s.lm_tokens(), assistant_turns);
    EXPECT_EQ(s.text.find("Task steps"), std::string::npos);
    for (const auto& d : s.decisions) EXPECT_EQ(d.dst_update, kIgnoreIndex);
    expect_ids_equal_whole_string(s, "ProAssist clip " + std::to_string(c.index_in_file));
    expect_streams_disjoint(s, "ProAssist clip " + std::to_string(c.index_in_file));
  }
  // Clip 0: the user's goal (anchored at 14) comes right before frame 14's block, the answer right after
  // 15's.
  const std::string block = frame_block_text(81);
  Sample s0 = r.render(clips[0]).at(0);
  std::string want = block +
                     "User: I want to disassemble this toy water tanker truck into its component parts."
                     "<end_of_utterance>\n" +
                     block + block + "Assistant: Great goal!";
  size_t p = s0.text.find(want);
  ASSERT_NE(p, std::string::npos);
  size_t blocks_before = 0;
  for (size_t q = s0.text.find(block); q < p; q = s0.text.find(block, q + block.size())) ++blocks_before;
  EXPECT_EQ(blocks_before, 2u);  // frames 11, 12; `want` starts at 13's block, then the user turn, then 14
}

TEST(ClipRenderer, IdsEqualWholeStringOnTrickyContents) {
  REQUIRE_SAMPLES();
  nlohmann::json j = nlohmann::json::parse(prospect::test::read_file_text(dst_sample_path()));
  // Contents chosen to sit badly at segment boundaries: leading/trailing whitespace, newlines, empty,
  // digits, non-ASCII, contractions, a literal special token.
  const char* contents[] = {"  two leading spaces",
                            "trailing newline\n",
                            "",
                            "\n\nUser: fake turn",
                            "12345 digits",
                            "'s contraction",
                            "naïve café — ünïcödé 日本語 🙂",
                            "ends with space ",
                            "<image> literal",
                            "tab\there",
                            "x<end_of_utterance"};
  std::vector<size_t> assistant_turns = {3, 6, 7, 8, 11, 14, 17, 20};
  size_t k = 0;
  for (size_t t : assistant_turns) j["conversation"][t]["content"] = contents[k++ % 11];
  j["conversation"][2]["content"] = contents[k++ % 11];
  j["conversation"][0]["content"] = " system with leading space\n";
  j["dst"][0]["name"] = "Step with trailing spaces  ";
  Clip c = read_clips_from_string(j.dump(), "tricky.json").at(0);
  for (int64_t max_len : {int64_t(0), int64_t(2048)}) {
    std::vector<Sample> parts = ClipRenderer(tokenizer(), opts(max_len)).render(c);
    int64_t lm_msgs = 0;
    for (size_t p = 0; p < parts.size(); ++p) {
      expect_ids_equal_whole_string(parts[p],
                                    "tricky max " + std::to_string(max_len) + " piece " + std::to_string(p));
      lm_msgs += parts[p].lm_messages;
    }
    EXPECT_EQ(lm_msgs, 8);
  }
}

TEST(ClipRenderer, FrameStrideKeepsAnchors) {
  REQUIRE_SAMPLES();
  RenderOptions o = opts(0);
  o.frame_stride = 4;
  Clip c = dst_clip();
  Sample s = ClipRenderer(tokenizer(), o).render(c).at(0);
  std::set<int64_t> frames(s.frames.begin(), s.frames.end());
  int64_t strided = 0;
  for (int64_t f = 193; f < 451; f += 4) ++strided;
  std::cout << "stride 4: " << s.frames.size() << " frames (" << strided << " strided + anchors), "
            << s.input_ids.size() << " tokens\n";
  for (int64_t a : {194, 213, 225, 261, 304, 370, 395, 424, 450}) EXPECT_TRUE(frames.count(a)) << a;
  std::set<int64_t> anchors = {194, 213, 225, 261, 304, 370, 395, 424, 450};
  for (int64_t f : s.frames) EXPECT_TRUE((f - 193) % 4 == 0 || anchors.count(f)) << f;
  EXPECT_EQ(s.frames.size(),
            static_cast<size_t>(strided) + 6);  // 194, 304, 370, 395, 424, 450 are off the stride
  EXPECT_EQ(s.speak_pos(), 8);
  EXPECT_EQ(s.dst_pos(), 7);
  EXPECT_EQ(s.decisions.size(), s.frames.size());
  expect_ids_equal_whole_string(s, "stride 4");
}

TEST(ClipRenderer, FrameThatCannotFitIsAnError) {
  REQUIRE_SAMPLES();
  RenderOptions o = opts(150);
  try {
    ClipRenderer(tokenizer(), o).render(dst_clip());
    FAIL() << "no error";
  } catch (const prospect::Error& e) {
    std::cout << e.what() << "\n";
    std::string m = e.what();
    EXPECT_NE(m.find("clip 0"), std::string::npos);
    EXPECT_NE(m.find("frame 193"), std::string::npos);
    EXPECT_NE(m.find("max_seq_len 150"), std::string::npos);
  }
  RenderOptions bad = opts(0);
  bad.frame_stride = 0;
  EXPECT_THROW(ClipRenderer(tokenizer(), bad), prospect::Error);
}

// Anchor jitter (training augmentation): output groups move by exactly one frame into free frames, keep their
// order and their turns together, the state sequence is unchanged, and the draw depends on (seed, epoch,
// clip).
TEST(ClipRenderer, AnchorJitterMovesGroupsByOneFrameKeepingOrder) {
  REQUIRE_SAMPLES();
  Clip c = dst_clip();
  EXPECT_EQ(jitter_anchors(c, 0.0, 7, 0).turns.size(), c.turns.size());
  for (size_t i = 0; i < c.turns.size(); ++i)
    EXPECT_EQ(jitter_anchors(c, 0.0, 7, 0).turns[i].anchor_frame, c.turns[i].anchor_frame);
  int moved_total = 0, groups_total = 0;
  std::set<std::vector<int64_t>> distinct;
  for (int64_t epoch = 0; epoch < 8; ++epoch) {
    Clip j = jitter_anchors(c, 1.0, 7, epoch);
    ASSERT_EQ(j.turns.size(), c.turns.size());
    std::vector<int64_t> anchors;
    for (size_t i = 0; i < c.turns.size(); ++i) {
      int64_t d = j.turns[i].anchor_frame - c.turns[i].anchor_frame;
      EXPECT_LE(std::abs(d), 1) << "turn " << i;
      EXPECT_GE(j.turns[i].anchor_frame, c.start_frame);
      EXPECT_LT(j.turns[i].anchor_frame, c.end_frame);
      if (i > 0) {
        // Turns that shared a frame still do; order between frames is kept.
        if (c.turns[i].anchor_frame == c.turns[i - 1].anchor_frame)
          EXPECT_EQ(j.turns[i].anchor_frame, j.turns[i - 1].anchor_frame);
        else
          EXPECT_LT(j.turns[i - 1].anchor_frame, j.turns[i].anchor_frame) << "turn " << i;
      }
      if (i == 0 || c.turns[i].anchor_frame != c.turns[i - 1].anchor_frame) {
        ++groups_total;
        moved_total += d != 0;
      }
      anchors.push_back(j.turns[i].anchor_frame);
    }
    distinct.insert(anchors);
    // Same draw for the same (seed, epoch).
    Clip again = jitter_anchors(c, 1.0, 7, epoch);
    for (size_t i = 0; i < c.turns.size(); ++i)
      EXPECT_EQ(again.turns[i].anchor_frame, j.turns[i].anchor_frame);
    // Rendering keeps every positive (one per output group) and the state the updates lead to.
    RenderOptions o = opts(0);
    o.anchor_jitter = 1.0;
    ClipRenderer r(tokenizer(), o);
    std::vector<Sample> s = r.render(c, epoch);
    ASSERT_EQ(s.size(), 1u);
    EXPECT_EQ(s[0].speak_pos(), 8);
    EXPECT_EQ(s[0].dst_pos(), 7);
    EXPECT_EQ(s[0].dst_messages, 7);
    expect_streams_disjoint(s[0], "jittered epoch " + std::to_string(epoch));
  }
  std::cout << "jitter 1.0 over 8 epochs: " << moved_total << " of " << groups_total << " groups moved, "
            << distinct.size() << " distinct anchor sets\n";
  EXPECT_GT(moved_total, groups_total / 2);  // only blocked moves stay
  EXPECT_GE(distinct.size(), 4u);
  RenderOptions bad = opts(0);
  bad.anchor_jitter = 1.5;
  EXPECT_THROW(ClipRenderer(tokenizer(), bad), prospect::Error);
}
