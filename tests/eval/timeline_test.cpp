// Timeline reading: clip resolution, defaults, and errors that name FILE:LINE; DST text parsing; round trip.
#include "eval/timeline.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "core/error.h"
#include "eval_test_clips.h"

using prospect::eval::EventType;
using prospect::eval::parse_dst_text;
using prospect::eval::read_timeline_from_string;
using prospect::eval::TimelineEvent;

namespace {

// The error message of reading `text`, or "" when it reads.
std::string read_error(const std::string& text, const std::vector<prospect::data::Clip>& clips) {
  try {
    read_timeline_from_string(text, "preds.jsonl", clips);
  } catch (const prospect::Error& e) {
    std::cout << "error: " << e.what() << "\n";
    return e.what();
  }
  return "";
}

std::vector<prospect::data::Clip> two_clips() {
  return {prospect::test::two_step_clip(), prospect::test::make_clip("vid_b", 0, 100, 120, {})};
}

}  // namespace

TEST(ParseDstText, ItemsAndGarbage) {
  auto two = parse_dst_text("S1->complete, S2->start");
  ASSERT_EQ(two.size(), 2u);
  ASSERT_TRUE(two[0].item && two[1].item);
  EXPECT_EQ(two[0].item->step_id, "S1");
  EXPECT_EQ(two[0].item->transition, prospect::data::Transition::Complete);
  EXPECT_EQ(two[1].item->step_id, "S2");
  EXPECT_EQ(two[1].item->transition, prospect::data::Transition::Start);
  // Each comma-separated piece is one prediction; bad ones have no item.
  auto bad = parse_dst_text("S1->finish, ->start, S3 start, S4->start,");
  std::cout << "pieces: " << bad.size() << "\n";
  ASSERT_EQ(bad.size(), 5u);
  EXPECT_FALSE(bad[0].item);  // unknown transition
  EXPECT_FALSE(bad[1].item);  // no step id
  EXPECT_FALSE(bad[2].item);  // no arrow
  EXPECT_TRUE(bad[3].item);
  EXPECT_FALSE(bad[4].item);  // trailing empty piece
  EXPECT_EQ(parse_dst_text("").size(), 1u);
  EXPECT_FALSE(parse_dst_text("")[0].item);
}

TEST(ReadTimeline, ResolvesClipsAndDefaults) {
  auto clips = two_clips();
  std::string text =
      "{\"video_uid\":\"vid_a\",\"clip_idx\":0,\"frame\":12,\"time\":6.0,\"type\":\"dst_update\",\"text\":"
      "\"S1->start\"}\n"
      "\n"
      "{\"clip\":1,\"frame\":101,\"type\":\"speak\",\"text\":\"hi\",\"p\":0.9}\n"
      "{\"clip\":0,\"video_uid\":\"vid_a\",\"clip_idx\":0,\"frame\":39,\"time\":19.5,\"type\":\"speak\","
      "\"text\":\"x\"}\n";
  auto ev = read_timeline_from_string(text, "preds.jsonl", clips);
  ASSERT_EQ(ev.size(), 3u);
  EXPECT_EQ(ev[0].clip, 0);
  EXPECT_EQ(ev[0].type, EventType::DstUpdate);
  EXPECT_EQ(ev[0].line, 1);
  EXPECT_EQ(ev[1].clip, 1);
  EXPECT_EQ(ev[1].line, 3);
  EXPECT_DOUBLE_EQ(ev[1].time, 50.5);  // no `time`: frame / fps
  EXPECT_EQ(ev[2].frame, 39);
}

TEST(ReadTimeline, ErrorsNameFileAndLine) {
  auto clips = two_clips();
  const std::string ok = "{\"clip\":0,\"frame\":12,\"type\":\"speak\",\"text\":\"a\"}\n";
  struct Case {
    std::string line;
    std::string expect;  // substring of the message
  };
  std::vector<Case> cases = {
      {"{\"clip\":0,\"frame\":12,\"type\":\"speak\",\"text\":", "preds.jsonl:2: malformed JSON"},
      {"[1,2]", "preds.jsonl:2: expected a JSON object"},
      {"{\"clip\":0,\"frame\":12,\"type\":\"shout\",\"text\":\"a\"}",
       "preds.jsonl:2: field 'type': unknown event type 'shout'"},
      {"{\"clip\":0,\"frame\":12,\"type\":\"speak\"}", "preds.jsonl:2: field 'text': missing"},
      {"{\"clip\":0,\"frame\":1.5,\"type\":\"speak\",\"text\":\"a\"}",
       "preds.jsonl:2: field 'frame': expected an integer"},
      {"{\"clip\":0,\"frame\":40,\"type\":\"speak\",\"text\":\"a\"}",
       "preds.jsonl:2: field 'frame': frame 40 is outside"},
      {"{\"clip\":5,\"frame\":12,\"type\":\"speak\",\"text\":\"a\"}",
       "preds.jsonl:2: field 'clip': clip 5 is not in the data file"},
      {"{\"video_uid\":\"vid_z\",\"clip_idx\":0,\"frame\":12,\"type\":\"speak\",\"text\":\"a\"}",
       "preds.jsonl:2: field 'video_uid': no clip with video_uid vid_z"},
      {"{\"frame\":12,\"type\":\"speak\",\"text\":\"a\"}", "preds.jsonl:2: field 'video_uid': missing"},
      {"{\"clip\":0,\"video_uid\":\"vid_b\",\"frame\":12,\"type\":\"speak\",\"text\":\"a\"}",
       "preds.jsonl:2: field 'clip': clip 0 of the data file is video_uid vid_a"},
      {"{\"clip\":0,\"frame\":12,\"time\":\"soon\",\"type\":\"speak\",\"text\":\"a\"}",
       "preds.jsonl:2: field 'time': expected a number"},
  };
  for (const auto& c : cases) {
    std::string got = read_error(ok + c.line + "\n", clips);
    EXPECT_NE(got.find(c.expect), std::string::npos)
        << "line: " << c.line << "\nexpected: " << c.expect << "\ngot: " << got;
  }
}

TEST(ReadTimeline, AmbiguousClipNeedsClipField) {
  // Two clips with the same (video_uid, clip_idx), as in the ProAssist sample file.
  std::vector<prospect::data::Clip> clips = {prospect::test::make_clip("v", 0, 0, 10, {}),
                                             prospect::test::make_clip("v", 0, 0, 10, {})};
  std::string got = read_error(
      "{\"video_uid\":\"v\",\"clip_idx\":0,\"frame\":1,\"type\":\"speak\",\"text\":\"a\"}\n", clips);
  EXPECT_NE(got.find("preds.jsonl:1: field 'video_uid': 2 clips of the data file have video_uid v"),
            std::string::npos)
      << got;
  EXPECT_NE(got.find("add `clip`"), std::string::npos) << got;
  auto ev =
      read_timeline_from_string("{\"clip\":1,\"frame\":1,\"type\":\"speak\",\"text\":\"a\"}\n", "p", clips);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].clip, 1);
}

TEST(ReadTimeline, WriteThenReadRoundTrip) {
  auto clips = two_clips();
  std::vector<TimelineEvent> events = {{0, 12, 6.1, EventType::DstUpdate, "S1->start", 0},
                                       {1, 100, 50.0, EventType::Speak, "say \"this\"\nand that", 0}};
  std::string path = (std::filesystem::path(::testing::TempDir()) / "eval_roundtrip.jsonl").string();
  prospect::eval::write_timeline(path, events, clips);
  auto back = prospect::eval::read_timeline(path, clips);
  ASSERT_EQ(back.size(), events.size());
  for (size_t i = 0; i < events.size(); ++i) {
    EXPECT_EQ(back[i].clip, events[i].clip);
    EXPECT_EQ(back[i].frame, events[i].frame);
    EXPECT_EQ(back[i].time, events[i].time);
    EXPECT_EQ(back[i].type, events[i].type);
    EXPECT_EQ(back[i].text, events[i].text);
  }
  EXPECT_THROW(prospect::eval::read_timeline(path + ".missing", clips), prospect::Error);
  std::filesystem::remove(path);
}
