#include "core/config.h"

#include <gtest/gtest.h>

#include "core/error.h"

using prospect::OptionDoc;

static std::vector<OptionDoc> docs() {
  return {{"model", "tiny", "model directory"},
          {"optim.lr", 1e-5, "peak learning rate"},
          {"optim.warmup_steps", 10, "warmup steps"},
          {"data.neg_rate", 0.5, "negative frame sampling rate"},
          {"quiet", false, "no progress bar"}};
}

TEST(Config, DefaultsOverlayAndOverrides) {
  auto cfg = prospect::defaults_from_docs(docs());
  EXPECT_EQ(cfg["optim"]["lr"].get<double>(), 1e-5);
  prospect::overlay_config(cfg, nlohmann::json::parse(R"({"optim": {"lr": 3e-4}, "quiet": true})"),
                           "user.json");
  prospect::apply_override(cfg, "optim.warmup_steps=5");
  prospect::apply_override(cfg, "data.neg_rate=1");  // int accepted for a float option
  prospect::apply_override(cfg, "model=runs/x");     // unquoted string
  std::cout << "effective: " << cfg.dump() << "\n";
  EXPECT_EQ(cfg["optim"]["lr"].get<double>(), 3e-4);
  EXPECT_EQ(cfg["optim"]["warmup_steps"].get<int>(), 5);
  EXPECT_EQ(cfg["data"]["neg_rate"].get<double>(), 1.0);
  EXPECT_EQ(cfg["model"].get<std::string>(), "runs/x");
  EXPECT_TRUE(cfg["quiet"].get<bool>());
}

TEST(Config, UnknownKeyAndTypeChangeAreErrors) {
  auto cfg = prospect::defaults_from_docs(docs());
  try {
    prospect::apply_override(cfg, "optim.lrr=1");
    FAIL() << "unknown key accepted";
  } catch (const prospect::Error& e) {
    std::cout << "error: " << e.what() << "\n";
    EXPECT_NE(std::string(e.what()).find("did you mean 'optim.lr'"), std::string::npos);
  }
  EXPECT_THROW(prospect::apply_override(cfg, "optim.warmup_steps=0.5"), prospect::Error);
  EXPECT_THROW(prospect::apply_override(cfg, "quiet=3"), prospect::Error);
  EXPECT_THROW(prospect::apply_override(cfg, "noequals"), prospect::Error);
  EXPECT_THROW(prospect::overlay_config(cfg, nlohmann::json::parse(R"({"optim": 3})"), "f.json"),
               prospect::Error);
}
