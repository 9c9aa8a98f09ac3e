// Readers on the real samples (both formats, as object, array and JSONL) and on bad input: each bad case must
// give one error naming file, clip, video_uid, turn and field.
#include "data/clip_reader.h"

#include <gtest/gtest.h>

#include <functional>
#include <iostream>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "data/clip_checks.h"
#include "fixtures.h"

using namespace prospect::data;
using nlohmann::json;
using prospect::test::dst_sample_path;
using prospect::test::proassist_sample_path;
using prospect::test::read_file_text;

namespace {

const char* kUid =
    "assembly_nusar-2021_action_both_9011-c03f_9011_user_id_2021-02-01_160239__HMC_84355350_mono10bit";

json dst_sample_json() { return json::parse(read_file_text(dst_sample_path())); }

// The message read_clips_from_string throws for `text`, or "" when it reads cleanly.
std::string error_of(const std::string& text, const std::string& origin = "bad.json") {
  try {
    read_clips_from_string(text, origin);
  } catch (const prospect::Error& e) {
    return e.what();
  }
  return "";
}

// One mutated copy of the DST sample must fail with a message containing every piece of `expect`.
void expect_error(const std::string& what, const std::function<void(json&)>& mutate,
                  const std::vector<std::string>& expect) {
  json j = dst_sample_json();
  mutate(j);
  std::string msg = error_of(j.dump(), "bad.json");
  std::cout << "[" << what << "] " << msg << "\n";
  ASSERT_FALSE(msg.empty()) << what << ": no error";
  for (const std::string& piece : expect)
    EXPECT_NE(msg.find(piece), std::string::npos) << what << ": expected '" << piece << "' in: " << msg;
  // The collecting reader gives exactly one error for it.
  prospect::data::ClipReadResult r = read_clips_collect_from_string(j.dump(), "bad.json");
  EXPECT_EQ(r.errors.size(), 1u) << what;
  EXPECT_EQ(r.clips.size(), 0u) << what;
}

}  // namespace

TEST(ClipReader, DstSample) {
  PROSPECT_REQUIRE_FIXTURE(dst_sample_path());
  std::vector<Clip> clips = read_clips(dst_sample_path());
  ASSERT_EQ(clips.size(), 1u);
  const Clip& c = clips[0];
  EXPECT_EQ(c.format, ClipFormat::Dst);
  EXPECT_EQ(c.video_uid, kUid);
  EXPECT_EQ(c.dataset, "assembly101");
  EXPECT_EQ(c.start_frame, 193);
  EXPECT_EQ(c.end_frame, 451);
  EXPECT_EQ(c.fps, 2.0);
  EXPECT_EQ(c.steps.size(), 6u);
  EXPECT_EQ(c.steps[1].id, "S2");
  EXPECT_EQ(c.steps[1].name, "Attach wheels to the chassis.");
  EXPECT_EQ(
      c.system_prompt,
      "You are a helpful and proactive assistant. Always be ready to assist and provide useful information "
      "ahead of time.");
  EXPECT_EQ(c.turns.size(), 21u);  // 22 turns minus the opening system turn
  EXPECT_TRUE(c.initial_state.all_not_started());
  std::set<int64_t> anchors;
  int dst_turns = 0, assistant = 0, user = 0;
  for (const Turn& t : c.turns) {
    anchors.insert(t.anchor_frame);
    dst_turns += t.role == Role::DstUpdate;
    assistant += t.role == Role::Assistant;
    user += t.role == Role::User;
  }
  std::set<int64_t> want = {194, 213, 225, 261, 304, 370, 395, 424, 450};
  EXPECT_EQ(anchors, want);
  std::cout << "turns " << c.turns.size() << " (DST_UPDATE " << dst_turns << ", assistant " << assistant
            << ", user " << user << "), anchors " << anchors.size() << "\n";
  EXPECT_EQ(dst_turns, 12);
  EXPECT_EQ(assistant, 8);
  EXPECT_EQ(user, 1);
  EXPECT_EQ(c.turns[0].turn_index, 1);
  EXPECT_EQ(format_dst_items(c.turns[3].dst_items), "S1->complete");
  // Clean sample: no findings.
  std::vector<Finding> findings = check_clip(c);
  for (const auto& f : findings) std::cout << "finding: " << f.message << "\n";
  EXPECT_TRUE(findings.empty());
}

TEST(ClipReader, ProAssistSample) {
  PROSPECT_REQUIRE_FIXTURE(proassist_sample_path());
  std::vector<Clip> clips = read_clips(proassist_sample_path());
  ASSERT_EQ(clips.size(), 6u);
  const Clip& c = clips[0];
  EXPECT_EQ(c.format, ClipFormat::ProAssist);
  EXPECT_EQ(c.start_frame, 11);
  EXPECT_EQ(c.end_frame, 342);
  EXPECT_TRUE(c.steps.empty());
  EXPECT_EQ(c.system_prompt,
            "You are a proactive assistant. Pay close attention to the user's actions and provide relevant "
            "information proactively.");
  // turn 2 (user) after frames [11, 15) anchors at 14; turn 4 (assistant) after [15, 16) at 15.
  ASSERT_GE(c.turns.size(), 2u);
  EXPECT_EQ(c.turns[0].turn_index, 2);
  EXPECT_EQ(c.turns[0].role, Role::User);
  EXPECT_EQ(c.turns[0].anchor_frame, 14);
  EXPECT_EQ(c.turns[1].turn_index, 4);
  EXPECT_EQ(c.turns[1].anchor_frame, 15);
  EXPECT_EQ(c.turns.back().anchor_frame, 341);
  int64_t turns = 0;
  for (size_t i = 0; i < clips.size(); ++i) {
    EXPECT_EQ(clips[i].index_in_file, static_cast<int64_t>(i));
    turns += static_cast<int64_t>(clips[i].turns.size());
    EXPECT_TRUE(check_clip(clips[i]).empty());
  }
  std::cout << "ProAssist: " << clips.size() << " clips, " << turns << " text turns\n";
}

TEST(ClipReader, ArrayAndJsonlLayouts) {
  PROSPECT_REQUIRE_FIXTURE(dst_sample_path());
  json j = dst_sample_json();
  json arr = json::array({j, j, j});
  std::vector<Clip> a = read_clips_from_string(arr.dump(2), "arr.json");
  ASSERT_EQ(a.size(), 3u);
  EXPECT_EQ(a[2].index_in_file, 2);
  std::string jsonl = j.dump() + "\n" + j.dump() + "\n\n" + j.dump() + "\n";
  std::vector<Clip> l = read_clips_from_string(jsonl, "x.jsonl");
  ASSERT_EQ(l.size(), 3u);
  EXPECT_EQ(l[2].index_in_file, 3);  // JSONL line number from 0 (the blank line counts)
  EXPECT_EQ(l[1].turns.size(), 21u);
  // A single compact object with a trailing newline is one clip, not JSONL.
  EXPECT_EQ(read_clips_from_string(j.dump() + "\n", "one.json").size(), 1u);
  // Mixed formats in one array.
  json p = json::parse(
      read_file_text(proassist_sample_path()).substr(0, read_file_text(proassist_sample_path()).find('\n')));
  std::vector<Clip> mixed = read_clips_from_string(json::array({j, p}).dump(), "mixed.json");
  ASSERT_EQ(mixed.size(), 2u);
  EXPECT_EQ(mixed[0].format, ClipFormat::Dst);
  EXPECT_EQ(mixed[1].format, ClipFormat::ProAssist);
}

TEST(ClipReader, BadInputNamesFileClipTurnField) {
  PROSPECT_REQUIRE_FIXTURE(dst_sample_path());
  std::string clip0 = "clip 0 (video_uid " + std::string(kUid) + ")";
  expect_error("missing key", [](json& j) { j.erase("fps"); },
               {"bad.json", clip0, "field 'fps'", "missing key"});
  expect_error("missing turn key", [](json& j) { j["conversation"][3].erase("content"); },
               {"bad.json", clip0, "turn 3", "field 'content'", "missing key"});
  expect_error("wrong type", [](json& j) { j["start_frame_idx"] = "193"; },
               {clip0, "field 'start_frame_idx'", "expected an integer, got a string"});
  expect_error("wrong type in turn", [](json& j) { j["conversation"][2]["content"] = 5; },
               {clip0, "turn 2", "field 'content'", "expected a string"});
  expect_error("unknown role", [](json& j) { j["conversation"][2]["role"] = "narrator"; },
               {clip0, "turn 2", "field 'role'", "unknown role 'narrator'"});
  expect_error("unknown step", [](json& j) { j["conversation"][4]["content"][0]["id"] = "S9"; },
               {clip0, "turn 4", "field 'content[0].id'", "'S9'"});
  expect_error("unknown transition",
               [](json& j) { j["conversation"][4]["content"][0]["transition"] = "finish"; },
               {clip0, "turn 4", "field 'content[0].transition'", "unknown transition 'finish'"});
  expect_error("anchor out of range", [](json& j) { j["conversation"][7]["end_frame"] = 999; },
               {clip0, "turn 7", "field 'end_frame'", "anchor frame 998", "[193, 451)"});
  expect_error("anchor from time out of range",
               [](json& j) {
                 j["conversation"][7].erase("end_frame");
                 j["conversation"][7]["time"] = 10.0;
               },
               {clip0, "turn 7", "field 'time'", "anchor frame 20"});
  expect_error("empty conversation", [](json& j) { j["conversation"] = json::array(); },
               {clip0, "field 'conversation'", "empty conversation"});
  expect_error("end before start", [](json& j) { j["end_frame_idx"] = 193; },
               {clip0, "field 'end_frame_idx'"});
  expect_error("fps zero", [](json& j) { j["fps"] = 0; }, {clip0, "field 'fps'", "positive"});
  expect_error("too long", [](json& j) { j["end_frame_idx"] = 193 + 100001; },
               {clip0, "field 'end_frame_idx'", "100000"});
  expect_error("huge time",
               [](json& j) {
                 j["conversation"][7].erase("end_frame");
                 j["conversation"][7]["time"] = 1e300;
               },
               {clip0, "turn 7", "field 'time'", "overflows"});
  expect_error("neither format", [](json& j) { j.erase("dst"); }, {clip0, "neither a DST clip"});
  expect_error("bad dst_state", [](json& j) { j["conversation"][6]["dst_state"]["S1"] = "done"; },
               {clip0, "turn 6", "field 'dst_state.S1'", "unknown step state 'done'"});
  expect_error("frames turn in DST clip",
               [](json& j) {
                 j["conversation"][2] = {{"role", "frames"}, {"start", 1}, {"end", 2}};
               },
               {clip0, "turn 2", "field 'role'"});
  expect_error("clip not an object", [](json& j) { j = json::array({1}); },
               {"bad.json: clip 0", "expected a clip object"});
}

TEST(ClipReader, MalformedJson) {
  PROSPECT_REQUIRE_FIXTURE(dst_sample_path());
  std::string text = read_file_text(dst_sample_path());
  std::string msg = error_of(text.substr(0, text.size() / 2), "trunc.json");
  std::cout << "truncated: " << msg << "\n";
  EXPECT_NE(msg.find("trunc.json"), std::string::npos);
  EXPECT_NE(msg.find("malformed JSON"), std::string::npos);
  std::string empty = error_of("  \n", "empty.json");
  std::cout << "empty: " << empty << "\n";
  EXPECT_NE(empty.find("empty.json"), std::string::npos);
  // A missing file.
  try {
    read_clips("/nonexistent/clips.json");
    FAIL() << "no error for a missing file";
  } catch (const prospect::Error& e) {
    std::cout << "missing: " << e.what() << "\n";
    EXPECT_NE(std::string(e.what()).find("/nonexistent/clips.json"), std::string::npos);
  }
}

TEST(ClipReader, CollectKeepsGoodClipsOfJsonl) {
  PROSPECT_REQUIRE_FIXTURE(dst_sample_path());
  json good = dst_sample_json();
  json bad = good;
  bad["conversation"][5]["role"] = "robot";
  std::string text = good.dump() + "\n" + bad.dump() + "\n{not json\n" + good.dump() + "\n";
  ClipReadResult r = read_clips_collect_from_string(text, "mixed.jsonl");
  for (const auto& e : r.errors) std::cout << "error: " << e << "\n";
  EXPECT_EQ(r.records, 4);
  EXPECT_EQ(r.clips.size(), 2u);
  ASSERT_EQ(r.errors.size(), 2u);
  EXPECT_NE(r.errors[0].find("mixed.jsonl: clip 1"), std::string::npos);
  EXPECT_NE(r.errors[0].find("turn 5"), std::string::npos);
  EXPECT_NE(r.errors[1].find("mixed.jsonl: clip 2"), std::string::npos);
  EXPECT_NE(r.errors[1].find("line 3"), std::string::npos);
  // The throwing reader stops at the first one.
  EXPECT_NE(error_of(text, "mixed.jsonl").find("clip 1"), std::string::npos);
  // read_clip_files with skip_bad_clips reports the same.
  std::string path = prospect::test::write_temp_file("mixed.jsonl", text);
  ClipReadResult f = read_clip_files({path, path}, true);
  EXPECT_EQ(f.clips.size(), 4u);
  EXPECT_EQ(f.errors.size(), 4u);
  EXPECT_THROW(read_clip_files({path}, false), prospect::Error);
}

TEST(ClipChecks, FindingsForInapplicableTransitionAndStateMismatch) {
  PROSPECT_REQUIRE_FIXTURE(dst_sample_path());
  json j = dst_sample_json();
  // Turn 9 completes S2; make it complete S4 (not started): a transition that does not apply. The listed
  // dst_state of later turns then disagrees with the computed one only where S2 stays in progress.
  j["conversation"][9]["content"][0]["id"] = "S4";
  std::vector<Clip> clips = read_clips_from_string(j.dump(), "f.json");
  std::vector<Finding> fs = check_clip(clips[0]);
  int transition = 0, mismatch = 0;
  for (const auto& f : fs) {
    std::cout << finding_kind_name(f.kind) << ": " << f.message << "\n";
    transition += f.kind == FindingKind::TransitionNotApplicable;
    mismatch += f.kind == FindingKind::DstStateMismatch;
  }
  EXPECT_EQ(transition, 1);
  EXPECT_EQ(fs[0].turn_index, 9);
  EXPECT_NE(fs[0].message.find("turn 9"), std::string::npos);
  // Turns 10..21 list S2 completed, computed in_progress: one mismatch each.
  EXPECT_EQ(mismatch, 12);
}

TEST(ClipChecks, InitialStateFromFirstTimedTurn) {
  PROSPECT_REQUIRE_FIXTURE(dst_sample_path());
  json j = dst_sample_json();
  j["clip_idx"] = 1;
  j["conversation"][1]["dst_state"] = {{"S1", "completed"}, {"S2", "in_progress"}};
  // Make the rest consistent enough: the first update starts S3 instead of S1.
  j["conversation"][1]["content"][0]["id"] = "S3";
  std::vector<Clip> clips = read_clips_from_string(j.dump(), "c1.json");
  const Clip& c = clips[0];
  EXPECT_EQ(c.initial_state.format(),
            "S1:completed, S2:in_progress, S3:not_started, S4:not_started, S5:not_started, S6:not_started");
  std::vector<TaskState> st = states_before_frames(c);
  ASSERT_EQ(st.size(), 258u);
  EXPECT_EQ(st[0].format(), c.initial_state.format());
  // At frame 195 the update anchored at 194 (S3 start) is applied.
  EXPECT_EQ(st[195 - 193].get("S3"), StepState::InProgress);
  EXPECT_EQ(st[194 - 193].get("S3"), StepState::NotStarted);
}
