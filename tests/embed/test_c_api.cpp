// The C API called from C++: training through it is the same computation as OnlineTrainer,
// several threads infer on one handle and on separate handles, the last error is per thread,
// and no exception escapes (status codes instead). The C program test_embed_c (compiled as C)
// covers the same calls from C.
#include "embed_fixtures.hpp"
#include "physml/embed/model.hpp"
#include "physml/embed/online_trainer.hpp"
#include "physml/embed/physml_c.h"
#include "test_util.hpp"

#include <torch/torch.h>

#include <atomic>
#include <cmath>
#include <string>
#include <thread>

using physml::test::embed_fixture;

namespace {

physml_tensor tensor_of(float* data, std::vector<int64_t>& shape) {
  return physml_tensor{data, PHYSML_FLOAT32, PHYSML_ROW_MAJOR, static_cast<int>(shape.size()), shape.data(), nullptr};
}

/// Inputs x [n, 3] and targets [n, 2] filled by formulas (the C test uses the same ones).
void regression_data(int step, int n, std::vector<float>& x, std::vector<float>& y) {
  x.resize(3 * n);
  y.resize(2 * n);
  for (int k = 0; k < n; ++k) {
    for (int j = 0; j < 3; ++j) x[3 * k + j] = static_cast<float>(std::sin(0.37 * (step * n + k) + 1.3 * j));
    y[2 * k] = std::sin(2 * x[3 * k]) + 0.5f * x[3 * k + 1] * x[3 * k + 2];
    y[2 * k + 1] = std::cos(x[3 * k + 1]) - x[3 * k + 2];
  }
}

}  // namespace

TEST(EmbedCApi, OnlineTrainingThroughCIsTheSameAsInCpp) {
  physml_model* cm = nullptr;
  physml_trainer* ct = nullptr;
  ASSERT_EQ(physml_model_load(embed_fixture("mlp.pt").c_str(), nullptr, &cm), PHYSML_OK) << physml_last_error();
  ASSERT_EQ(physml_options_set("-cxxtest_lr", "0.01"), PHYSML_OK) << physml_last_error();
  ASSERT_EQ(physml_trainer_create(cm, "cxxtest_", &ct), PHYSML_OK) << physml_last_error();
  auto model = physml::embed::Model::load(embed_fixture("mlp.pt"));
  physml::embed::OnlineTrainerOptions options;
  auto schedule = options.schedule();
  schedule.lr = 0.01;
  physml::embed::OnlineTrainer trainer(model, options.schedule(schedule));
  const int n = 16;
  std::vector<float> x, y;
  std::vector<int64_t> xs{n, 3}, ys{n, 2};
  double first = 0, last = 0;
  for (int step = 0; step < 40; ++step) {
    regression_data(step, n, x, y);
    physml_tensor in = tensor_of(x.data(), xs), target = tensor_of(y.data(), ys);
    double c_loss = -1;
    ASSERT_EQ(physml_trainer_step(ct, 1, &in, 1, &target, &c_loss), PHYSML_OK) << physml_last_error();
    const double cpp_loss = trainer.step(torch::from_blob(x.data(), {n, 3}), torch::from_blob(y.data(), {n, 2}));
    EXPECT_EQ(c_loss, cpp_loss) << "step " << step;
    if (step == 0) first = c_loss;
    last = c_loss;
  }
  EXPECT_LT(last, 0.5 * first);
  int64_t steps = 0;
  EXPECT_EQ(physml_trainer_steps(ct, &steps), PHYSML_OK);
  EXPECT_EQ(steps, 40);
  // The trainer keeps the model alive: destroying the model first is safe.
  EXPECT_EQ(physml_model_destroy(&cm), PHYSML_OK);
  EXPECT_EQ(cm, nullptr);
  regression_data(99, n, x, y);
  physml_tensor in = tensor_of(x.data(), xs), target = tensor_of(y.data(), ys);
  EXPECT_EQ(physml_trainer_step(ct, 1, &in, 1, &target, nullptr), PHYSML_OK);
  EXPECT_EQ(physml_trainer_destroy(&ct), PHYSML_OK);
  EXPECT_EQ(physml_trainer_destroy(&ct), PHYSML_OK);  // NULL handle: a no-op
}

TEST(EmbedCApi, ThreadsInferOnOneHandleAndOnSeparateHandles) {
  physml_model* shared = nullptr;
  ASSERT_EQ(physml_model_load(embed_fixture("mlp.pt").c_str(), nullptr, &shared), PHYSML_OK) << physml_last_error();
  auto x = physml::test::python_reference("mlp_x").contiguous();
  const auto want = physml::test::python_reference("mlp_y");
  std::vector<int64_t> xs{7, 3}, ys{7, 2};
  std::atomic<int> failures{0}, mismatches{0};
  auto work = [&](physml_model* m) {
    std::vector<float> y(14);
    std::vector<int64_t> xs_local = xs, ys_local = ys;
    physml_tensor in = tensor_of(x.data_ptr<float>(), xs_local), out = tensor_of(y.data(), ys_local);
    for (int k = 0; k < 40; ++k) {
      if (physml_model_forward(m, 1, &in, 1, &out) != PHYSML_OK) ++failures;
      if (!torch::allclose(torch::from_blob(y.data(), {7, 2}), want, 1e-6, 1e-6)) ++mismatches;
    }
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < 3; ++t) threads.emplace_back(work, shared);
  std::vector<physml_model*> own(2, nullptr);
  for (auto& m : own) ASSERT_EQ(physml_model_load(embed_fixture("mlp.pt").c_str(), nullptr, &m), PHYSML_OK);
  for (auto* m : own) threads.emplace_back(work, m);
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(mismatches.load(), 0);
  for (auto& m : own) physml_model_destroy(&m);
  physml_model_destroy(&shared);
}

TEST(EmbedCApi, LastErrorIsPerThreadAndCodesAreDistinct) {
  physml_model* m = nullptr;
  EXPECT_EQ(physml_model_load("/nonexistent/model.pt", nullptr, &m), PHYSML_ERR_FILE_NOT_FOUND);
  EXPECT_EQ(m, nullptr);
  const std::string here = physml_last_error();
  EXPECT_NE(here.find("/nonexistent/model.pt"), std::string::npos) << here;
  std::string other = "unset";
  std::thread([&] { other = physml_last_error(); }).join();
  EXPECT_EQ(other, "");  // another thread has no error
  EXPECT_EQ(std::string(physml_last_error()), here);
  EXPECT_EQ(physml_model_load(nullptr, nullptr, &m), PHYSML_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(physml_model_forward(nullptr, 0, nullptr, 0, nullptr), PHYSML_ERR_INVALID_ARGUMENT);
  EXPECT_STREQ(physml_status_name(PHYSML_ERR_SHAPE), "PHYSML_ERR_SHAPE");
  ASSERT_EQ(physml_model_load(embed_fixture("mlp.pt").c_str(), nullptr, &m), PHYSML_OK);
  float x[6] = {0}, y[4];
  int64_t xs[2] = {2, 3}, ys[2] = {2, 2};
  physml_tensor in{x, PHYSML_FLOAT32, PHYSML_ROW_MAJOR, 2, xs, nullptr};
  physml_tensor out{y, PHYSML_FLOAT32, 7, 2, ys, nullptr};
  EXPECT_EQ(physml_model_forward(m, 1, &in, 1, &out), PHYSML_ERR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(physml_last_error()).find("unknown layout code 7"), std::string::npos);
  out.layout = PHYSML_ROW_MAJOR;
  in.dtype = 42;
  EXPECT_EQ(physml_model_forward(m, 1, &in, 1, &out), PHYSML_ERR_DTYPE);
  in.dtype = PHYSML_FLOAT32;
  EXPECT_EQ(physml_model_forward(m, 1, &in, 1, &out), PHYSML_OK) << physml_last_error();
  physml_model_destroy(&m);
}

TEST(EmbedCApi, InferenceWhileTrainingOnTheSameHandleWaitsForEachStep) {
  physml_model* m = nullptr;
  physml_trainer* t = nullptr;
  ASSERT_EQ(physml_model_load(embed_fixture("mlp.pt").c_str(), nullptr, &m), PHYSML_OK) << physml_last_error();
  ASSERT_EQ(physml_trainer_create(m, nullptr, &t), PHYSML_OK) << physml_last_error();
  auto x = physml::test::python_reference("mlp_x").contiguous();
  std::atomic<bool> done{false};
  std::atomic<int> failures{0}, calls{0};
  auto infer = [&] {
    std::vector<float> y(14);
    std::vector<int64_t> xs{7, 3}, ys{7, 2};
    physml_tensor in = tensor_of(x.data_ptr<float>(), xs), out = tensor_of(y.data(), ys);
    while (!done) {
      if (physml_model_forward(m, 1, &in, 1, &out) != PHYSML_OK) ++failures;
      ++calls;
    }
  };
  std::thread a(infer), b(infer);
  const int n = 8;
  std::vector<float> bx, by;
  std::vector<int64_t> xs{n, 3}, ys{n, 2};
  for (int step = 0; step < 20; ++step) {
    regression_data(step, n, bx, by);
    physml_tensor in = tensor_of(bx.data(), xs), target = tensor_of(by.data(), ys);
    if (physml_trainer_step(t, 1, &in, 1, &target, nullptr) != PHYSML_OK) ++failures;
  }
  done = true;
  a.join();
  b.join();
  EXPECT_EQ(failures.load(), 0) << physml_last_error();
  EXPECT_GT(calls.load(), 0);
  // After training the C handle's output is the trained model's: the same 20 steps in C++.
  auto model = physml::embed::Model::load(embed_fixture("mlp.pt"));
  physml::embed::OnlineTrainer trainer(model);
  for (int step = 0; step < 20; ++step) {
    regression_data(step, n, bx, by);
    trainer.step(torch::from_blob(bx.data(), {n, 3}), torch::from_blob(by.data(), {n, 2}));
  }
  std::vector<float> y(14);
  std::vector<int64_t> xs7{7, 3}, ys7{7, 2};
  physml_tensor in = tensor_of(x.data_ptr<float>(), xs7), out = tensor_of(y.data(), ys7);
  ASSERT_EQ(physml_model_forward(m, 1, &in, 1, &out), PHYSML_OK);
  EXPECT_TRUE(torch::equal(torch::from_blob(y.data(), {7, 2}), model.forward(x)));
  physml_trainer_destroy(&t);
  physml_model_destroy(&m);
}
