// Decision heads and the multi-task loss: balanced BCE never NaN (no positives, no negatives, neither),
// CE and BCE normalised by counts that span accumulation micro-batches (cutting a batch changes nothing),
// CE from hidden states equals CE from full logits, heads save and load in both shapes.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>

#include "core/error.h"
#include "model/checkpoint.h"
#include "model/heads.h"
#include "model/loss.h"
#include "model/tensor_io.h"
#include "model_test_util.h"

using namespace prospect::model;
using prospect::test::report_maxdiff;

TEST(Loss, BalancedBceNeverNaN) {
  struct Case {
    const char* name;
    std::vector<float> logits, targets;
    double want;
  };
  const double ln2 = std::log(2.0);
  std::vector<Case> cases = {
      {"mixed", {0, 0}, {1, 0}, ln2},
      {"no positives", {0, 0, 0}, {0, 0, 0}, ln2},
      {"no negatives", {0, 0}, {1, 1}, ln2},
      {"empty", {}, {}, 0.0},
      {"extreme logits", {100, -100, 100, -100}, {1, 0, 0, 1}, 0.5 * (50.0 + 50.0)},
  };
  for (const auto& c : cases) {
    at::Tensor x = torch::tensor(c.logits, at::kFloat).requires_grad_(true);
    if (c.logits.empty()) x = at::zeros({0}).requires_grad_(true);
    at::Tensor y = c.targets.empty() ? at::zeros({0}) : torch::tensor(c.targets, at::kFloat);
    BceSums s = bce_sums(x, y);
    at::Tensor l = balanced_bce(s, s.pos, s.neg);
    double v = l.item<double>();
    std::printf("BCE %-15s pos=%lld neg=%lld loss=%.6f want=%.6f\n", c.name, (long long)s.pos,
                (long long)s.neg, v, c.want);
    EXPECT_TRUE(std::isfinite(v)) << c.name;
    EXPECT_NEAR(v, c.want, 1e-5) << c.name;
    if (l.requires_grad()) {
      l.backward();
      EXPECT_TRUE(x.grad().isfinite().all().item<bool>()) << c.name;
    }
  }
  // pos_weight form: mean over all points with positives weighted.
  LossInputs in;
  in.speak_logits = torch::tensor({0.0f, 0.0f, 0.0f});
  in.speak_targets = torch::tensor({1.0f, 0.0f, 0.0f});
  LossOptions opt;
  opt.bce_mode = BceMode::PosWeight;
  opt.pos_weight = 3.0;
  LossTerms t = compute_loss(in, nullptr, opt);
  EXPECT_NEAR(t.speak.item<double>(), (3.0 * ln2 + 2 * ln2) / 3.0, 1e-6);
}

TEST(Loss, AccumulationDoesNotDependOnTheCut) {
  // One batch of 4 rows vs two micro-batches of 2 with batch-wide counts: the summed losses agree.
  auto gen = at::make_generator<at::CPUGeneratorImpl>(3);
  int64_t B = 4, T = 12, V = 17, N = 10;
  at::Tensor logits = at::randn({B, T, V}, gen);
  at::Tensor lm = at::full({B, T}, -100, at::kLong), dst = at::full({B, T}, -100, at::kLong);
  // Uneven label counts per row so a plain per-micro-batch mean would differ.
  for (int64_t b = 0; b < B; ++b)
    for (int64_t t = 1; t < T; ++t) {
      if ((t + b) % (b + 2) == 0) lm.index_put_({b, t}, (b * 5 + t) % V);
      if (b >= 2 && t % 3 == 0) dst.index_put_({b, t}, (b + t) % V);
    }
  at::Tensor hs = at::randn({N}, gen), hd = at::randn({N}, gen);
  at::Tensor ts =
      torch::tensor({1, 0, 0, 0, 0, 1, 0, 0, 0, 0}, at::kFloat);  // all speak positives in one half
  at::Tensor td = torch::tensor({0, 0, 0, 0, 0, 1, 1, 0, 1, 0}, at::kFloat);  // first half has no positives
  auto inputs = [&](int64_t b0, int64_t nb, int64_t p0, int64_t np) {
    LossInputs in;
    in.logits = logits.narrow(0, b0, nb);
    in.lm_labels = lm.narrow(0, b0, nb);
    in.dst_labels = dst.narrow(0, b0, nb);
    in.speak_logits = hs.narrow(0, p0, np);
    in.speak_targets = ts.narrow(0, p0, np);
    in.dst_logits = hd.narrow(0, p0, np);
    in.dst_targets = td.narrow(0, p0, np);
    return in;
  };
  LossTerms whole = compute_loss(inputs(0, B, 0, N), nullptr);
  LossCounts totals = whole.local;
  LossTerms a = compute_loss(inputs(0, 2, 0, 5), nullptr, {}, totals);
  LossTerms b = compute_loss(inputs(2, 2, 5, 5), nullptr, {}, totals);
  std::printf("counts: lm %lld dst %lld speak %lld/%lld dst %lld/%lld (micro-batch a: lm %lld, dst %lld)\n",
              (long long)totals.lm_tokens, (long long)totals.dst_tokens, (long long)totals.speak_pos,
              (long long)totals.speak_neg, (long long)totals.dst_pos, (long long)totals.dst_neg,
              (long long)a.local.lm_tokens, (long long)a.local.dst_tokens);
  report_maxdiff("lm CE accumulated", a.lm + b.lm, whole.lm, 1e-6);
  report_maxdiff("dst CE accumulated", a.dst_gen + b.dst_gen, whole.dst_gen, 1e-6);
  report_maxdiff("speak BCE accumulated", a.speak + b.speak, whole.speak, 1e-6);
  report_maxdiff("dst BCE accumulated", a.dst + b.dst, whole.dst, 1e-6);
  report_maxdiff("total accumulated", a.total + b.total, whole.total, 1e-6);
  EXPECT_EQ(a.local.dst_tokens, 0);
  EXPECT_TRUE(std::isfinite(a.total.item<double>()));
  // Weights scale their terms.
  LossOptions w;
  w.w_lm = 2.0;
  w.w_speak = 0.0;
  LossTerms ww = compute_loss(inputs(0, B, 0, N), nullptr, w);
  EXPECT_NEAR(ww.total.item<double>(), (2 * whole.lm + whole.dst_gen + whole.dst).item<double>(), 1e-5);
}

TEST(Loss, CeFromHiddenEqualsCeFromLogits) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(4);
  at::Tensor hidden = at::randn({2, 9, 8}, gen);
  at::Tensor w = at::randn({30, 8}, gen);
  at::Tensor labels = at::full({2, 9}, -100, at::kLong);
  labels.index_put_({0, at::indexing::Slice(3, 7)}, 5);
  labels.index_put_({1, 8}, 29);
  auto to_logits = [&](const at::Tensor& h) { return at::linear(h, w); };
  at::Tensor a = ce_sum_from_logits(to_logits(hidden), labels);
  at::Tensor b = ce_sum_from_hidden(hidden, labels, to_logits);
  std::printf("labelled tokens %lld\n", (long long)count_labelled_tokens(labels));
  EXPECT_EQ(count_labelled_tokens(labels), 5);
  report_maxdiff("CE sum hidden vs logits", b, a, 1e-5);
  // Decision points come out row-major with their targets.
  at::Tensor dl = at::full({2, 9}, -100, at::kLong);
  dl.index_put_({0, 4}, 1);
  dl.index_put_({1, 2}, 0);
  auto [pos, tgt] = decision_points(dl);
  EXPECT_EQ(pos.size(0), 2);
  EXPECT_EQ(pos[0][1].item<int64_t>(), 4);
  EXPECT_EQ(tgt[0].item<float>(), 1.0f);
  EXPECT_EQ(tgt[1].item<float>(), 0.0f);
}

TEST(Heads, SaveLoadBothShapes) {
  std::string dir = prospect::test::fresh_dir("heads");
  for (HeadType type : {HeadType::Linear, HeadType::Mlp}) {
    DecisionHeads h(16, type);
    h.init_weights(9, 0.5);
    ProspectConfig cfg;
    cfg.frame_pool = 3;
    cfg.raw["future_key"] = "kept";
    save_heads(h, dir, cfg);
    auto names = load_tensors(dir + "/" + kHeadsFile);
    std::string listed;
    for (auto& kv : names) listed += kv.first + " ";
    std::printf("%s heads on disk: %s\n", head_type_name(type), listed.c_str());
    if (type == HeadType::Linear) {
      EXPECT_TRUE(names.count("speak_head.weight") && names.count("dst_head.bias"));
    } else {
      EXPECT_TRUE(names.count("speak_head.0.weight") && names.count("dst_head.2.bias"));
      EXPECT_EQ(names.at("speak_head.0.weight").sizes(), (at::IntArrayRef{8, 16}));
    }
    auto back = load_heads(dir);
    EXPECT_EQ(back->type, type);
    ProspectConfig pc = ProspectConfig::load(dir);
    EXPECT_EQ(pc.frame_pool, 3);
    EXPECT_EQ(pc.raw["future_key"], "kept");
    at::Tensor x = at::randn({5, 16}).to(at::kBFloat16);  // heads accept the model's dtype
    HeadLogits a = h.forward(x), b = back->forward(x);
    EXPECT_EQ(a.speak.sizes(), (at::IntArrayRef{5}));
    EXPECT_EQ(a.speak.scalar_type(), at::kFloat);
    report_maxdiff(std::string(head_type_name(type)) + " speak after reload", b.speak, a.speak, 0.0);
    report_maxdiff(std::string(head_type_name(type)) + " dst after reload", b.dst, a.dst, 0.0);
  }
  EXPECT_THROW(DecisionHeads(16, HeadType::Linear).forward(at::zeros({2, 8})), prospect::Error);
  EXPECT_THROW(parse_head_type("conv"), prospect::Error);
  std::filesystem::remove_all(dir);
}

// Decisions as tokens: the per-point CE is -log softmax[target] computed by hand in double, the marker
// log-odds is log p - log(1 - p) of the same softmax, and compute_loss balances the CE over positives and
// negatives with loss.decision as its weight.
TEST(Loss, DecisionTokenCrossEntropyAndLogOdds) {
  at::manual_seed(7);
  const int64_t n = 6, v = 11;
  at::Tensor logits = at::randn({n, v}, at::kFloat) * 3;
  at::Tensor ids = at::tensor(std::vector<int64_t>{1, 4, 4, 9, 1, 0}, at::kLong);
  at::Tensor ce = decision_token_ce(logits, ids);
  at::Tensor odds = marker_log_odds(logits, 4);
  at::Tensor ld = logits.to(at::kDouble);
  double max_ce = 0, max_odds = 0;
  for (int64_t i = 0; i < n; ++i) {
    double z = 0, m = ld[i].max().item<double>();
    for (int64_t j = 0; j < v; ++j) z += std::exp(ld[i][j].item<double>() - m);
    const double log_z = m + std::log(z);
    const double want_ce = log_z - ld[i][ids[i].item<int64_t>()].item<double>();
    const double p = std::exp(ld[i][4].item<double>() - log_z);
    const double want_odds = std::log(p) - std::log1p(-p);
    max_ce = std::max(max_ce, std::abs(ce[i].item<double>() - want_ce));
    max_odds = std::max(max_odds, std::abs(odds[i].item<double>() - want_odds));
  }
  std::printf("%lld points, vocab %lld: CE maxdiff %.3e, log-odds maxdiff %.3e\n", (long long)n, (long long)v,
              max_ce, max_odds);
  EXPECT_LE(max_ce, 1e-5);
  EXPECT_LE(max_odds, 1e-4);

  // Balanced: (mean CE over positives + mean over negatives) / 2, times loss.decision and loss.dst.
  at::Tensor targets = at::tensor(std::vector<float>{1, 0, 0, 1, 0, 0});
  LossInputs in;
  in.dst_point_loss = ce;
  in.dst_targets = targets;
  LossOptions opt;
  opt.w_decision = 0.5;
  opt.w_dst = 2.0;
  LossTerms t = compute_loss(in, nullptr, opt);
  const double pos = (ce[0].item<double>() + ce[3].item<double>()) / 2;
  const double neg =
      (ce[1].item<double>() + ce[2].item<double>() + ce[4].item<double>() + ce[5].item<double>()) / 4;
  const double want = 0.5 * 0.5 * (pos + neg);
  std::printf("balanced decision term %.6f (want %.6f), total %.6f\n", t.dst.item<double>(), want,
              t.total.item<double>());
  EXPECT_NEAR(t.dst.item<double>(), want, 1e-5);
  EXPECT_NEAR(t.total.item<double>(), 2.0 * want, 1e-5);
  EXPECT_EQ(t.local.dst_pos, 2);
  EXPECT_EQ(t.local.dst_neg, 4);
}
