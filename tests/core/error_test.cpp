#include "core/error.h"

#include <gtest/gtest.h>

using prospect::ErrorContext;
using prospect::format_error;

TEST(Error, NamesFileClipTurnField) {
  ErrorContext ctx{"train.json", 3, "vid_a", 7, "content"};
  std::string got = format_error(ctx, "expected a string", "quote it");
  std::cout << "message: " << got << "\n";
  EXPECT_EQ(
      got,
      "train.json: clip 3 (video_uid vid_a), turn 7, field 'content': expected a string (hint: quote it)");
}

TEST(Error, LeavesOutEmptyParts) {
  ErrorContext ctx;
  ctx.file = "x.safetensors";
  EXPECT_EQ(format_error(ctx, "header too short"), "x.safetensors: header too short");
  ErrorContext only_field;
  only_field.field = "ids";
  EXPECT_EQ(format_error(only_field, "bad"), "field 'ids': bad");
}
