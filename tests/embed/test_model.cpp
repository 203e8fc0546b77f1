// embed::Model: zero-copy views of caller memory (row-/column-major, strides, PETSc Vecs),
// TorchScript files made by Python's torch give Python's outputs, PhysML Checkpoints give the
// saved model's outputs, the format is detected by content, and errors name what was expected.
#include "embed_fixtures.hpp"
#include "physml/core/views.hpp"
#include "physml/embed/model.hpp"
#include "physml/io/hdf5.hpp"
#include "physml/operators/checkpoint.hpp"
#include "physml/operators/fno.hpp"
#include "test_util.hpp"

#include <torch/torch.h>

#include <atomic>
#include <fstream>
#include <thread>

using namespace physml;
using namespace physml::embed;
using physml::test::embed_fixture;
using physml::test::python_reference;

#define EXPECT_THROW_TYPE_MSG(stmt, Type, substr)                                              \
  do {                                                                                         \
    try {                                                                                      \
      stmt;                                                                                    \
      ADD_FAILURE() << "expected " #Type " containing \"" << (substr) << "\"";                 \
    } catch (const Type& e) {                                                                  \
      EXPECT_NE(std::string(e.what()).find(substr), std::string::npos) << "message: " << e.what(); \
    }                                                                                          \
  } while (0)

TEST(EmbedArrayView, RowMajorTensorIsTheCallersMemoryBothWays) {
  float x[5 * 3];
  for (int i = 0; i < 15; ++i) x[i] = static_cast<float>(i);
  auto t = embed::as_tensor(ArrayView(x, torch::kFloat32, {5, 3}));
  EXPECT_EQ(t.data_ptr(), static_cast<void*>(x));
  EXPECT_EQ(t.sizes(), (std::vector<int64_t>{5, 3}));
  EXPECT_FLOAT_EQ(t[2][1].item<float>(), x[2 * 3 + 1]);
  t[4][2] = -7.0f;  // write through the tensor, seen in the array
  EXPECT_EQ(x[14], -7.0f);
  x[0] = 42.0f;  // write into the array, seen through the tensor
  EXPECT_EQ(t[0][0].item<float>(), 42.0f);
}

TEST(EmbedArrayView, ColumnMajorAndExplicitStridesIndexLikeFortranAndC) {
  double x[4 * 3];  // Fortran x(4, 3): element (i, j) at i + 4 j
  for (int i = 0; i < 12; ++i) x[i] = i;
  auto t = embed::as_tensor(ArrayView(x, torch::kFloat64, {4, 3}, Layout::ColumnMajor));
  EXPECT_EQ(t.data_ptr(), static_cast<void*>(x));
  EXPECT_EQ(t.strides(), (std::vector<int64_t>{1, 4}));
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 3; ++j) EXPECT_EQ(t[i][j].item<double>(), x[i + 4 * j]);
  // Every second row of a [6, 2] row-major array: strides {4, 1}, shape {3, 2}.
  double y[12];
  for (int i = 0; i < 12; ++i) y[i] = 10 + i;
  auto s = embed::as_tensor(ArrayView(y, torch::kFloat64, {3, 2}, Layout::RowMajor, {4, 1}));
  EXPECT_EQ(s[2][1].item<double>(), y[2 * 4 + 1]);
  s[1][0] = -1.0;
  EXPECT_EQ(y[4], -1.0);
  EXPECT_THROW_TYPE_MSG(embed::as_tensor(ArrayView(y, torch::kFloat64, {3, 2}, Layout::RowMajor, {1})), ShapeError,
                        "1 strides, expected 2");
  EXPECT_THROW_TYPE_MSG(embed::as_tensor(ArrayView(y, torch::kFloat64, {3, -2})), ShapeError, "negative extent");
}

TEST(EmbedModel, TorchScriptFromPythonGivesPythonsOutputs) {
  auto model = Model::load(embed_fixture("mlp.pt"));
  EXPECT_EQ(model.format(), ModelFormat::TorchScript);
  EXPECT_EQ(model.dtype(), torch::kFloat32);
  const auto x = python_reference("mlp_x");
  const auto y = model.forward(x);
  EXPECT_TRUE(torch::allclose(y, python_reference("mlp_y"), 1e-6, 1e-6)) << (y - python_reference("mlp_y")).abs().max();
  // The same weights in float64 (cast at load) against Python's float64 evaluation.
  auto model64 = Model::load(embed_fixture("mlp.pt"), ModelOptions().dtype("float64"));
  EXPECT_EQ(model64.dtype(), torch::kFloat64);
  const auto y64 = model64.forward(x.to(torch::kFloat64));
  EXPECT_TRUE(torch::allclose(y64, python_reference("mlp_y64"), 1e-13, 1e-13));
}

TEST(EmbedModel, SeveralInputsAndOutputsOnCallerMemory) {
  auto model = Model::load(embed_fixture("multi.pt"));
  auto a = python_reference("multi_a").contiguous(), b = python_reference("multi_b").contiguous();
  std::vector<float> y0(4 * 2, 0.0f), y1(4, 0.0f);
  model.forward({ArrayView(a.data_ptr(), torch::kFloat32, {4, 3}), ArrayView(b.data_ptr(), torch::kFloat32, {4, 2})},
                {ArrayView(y0.data(), torch::kFloat32, {4, 2}), ArrayView(y1.data(), torch::kFloat32, {4, 1})});
  auto t0 = torch::from_blob(y0.data(), {4, 2}), t1 = torch::from_blob(y1.data(), {4, 1});
  EXPECT_TRUE(torch::allclose(t0, python_reference("multi_y0"), 1e-6, 1e-6));
  EXPECT_TRUE(torch::allclose(t1, python_reference("multi_y1"), 1e-6, 1e-6));
  // A wrong output count or shape names both.
  EXPECT_THROW_TYPE_MSG(
      model.forward({ArrayView(a.data_ptr(), torch::kFloat32, {4, 3}), ArrayView(b.data_ptr(), torch::kFloat32, {4, 2})},
                    {ArrayView(y0.data(), torch::kFloat32, {4, 2})}),
      ShapeError, "returned 2 outputs, the caller gave 1");
  EXPECT_THROW_TYPE_MSG(
      model.forward({ArrayView(a.data_ptr(), torch::kFloat32, {4, 3}), ArrayView(b.data_ptr(), torch::kFloat32, {4, 2})},
                    {ArrayView(y0.data(), torch::kFloat32, {2, 4}), ArrayView(y1.data(), torch::kFloat32, {4, 1})}),
      ShapeError, "output array 0 has shape [2, 4], the model's output 0 has shape [4, 2]");
}

TEST(EmbedModel, ColumnMajorInputGivesTheSameAsRowMajor) {
  auto model = Model::load(embed_fixture("linear.pt"), ModelOptions().dtype("float64"));
  const int n = 5;
  double xr[n * 3], xc[n * 3], yr[n * 2], yc[n * 2], want[n * 2];
  for (int k = 0; k < n; ++k)
    for (int j = 0; j < 3; ++j) {
      xr[3 * k + j] = std::sin(1.0 + k + 0.3 * j);
      xc[k + n * j] = xr[3 * k + j];
    }
  physml::test::linear_reference(xr, want, n);
  model.forward({ArrayView(xr, torch::kFloat64, {n, 3})}, {ArrayView(yr, torch::kFloat64, {n, 2})});
  model.forward({ArrayView(xc, torch::kFloat64, {n, 3}, Layout::ColumnMajor)},
                {ArrayView(yc, torch::kFloat64, {n, 2}, Layout::ColumnMajor)});
  for (int k = 0; k < n; ++k)
    for (int i = 0; i < 2; ++i) {
      EXPECT_NEAR(yr[2 * k + i], want[2 * k + i], 1e-7);  // float32 weights, cast to float64
      EXPECT_EQ(yc[k + n * i], yr[2 * k + i]);
    }
}

TEST(EmbedModel, PhysMLCheckpointAndTorchScriptAreDetectedByContentNotName) {
  const auto dir = physml::test::scratch_dir();
  operators::FNO fno(operators::FNOOptions(1, 1).modes({4}).width(8).layers(2).projection_channels(16));
  const auto checkpoint = (dir / "fno_named_like_torchscript.pt").string();
  operators::save(checkpoint, *fno);
  std::filesystem::copy_file(embed_fixture("mlp.pt"), dir / "mlp_named_like_checkpoint.h5");
  EXPECT_EQ(detect_format(checkpoint), ModelFormat::PhysMLCheckpoint);
  EXPECT_EQ(detect_format((dir / "mlp_named_like_checkpoint.h5").string()), ModelFormat::TorchScript);

  auto model = Model::load(checkpoint);
  EXPECT_EQ(model.format(), ModelFormat::PhysMLCheckpoint);
  auto x = torch::randn({2, 1, 32});
  fno->eval();
  torch::NoGradGuard g;
  EXPECT_TRUE(torch::equal(model.forward(x), fno->forward(x)));
  EXPECT_THROW_TYPE_MSG(model.forward(torch::randn({2, 3, 32})), ShapeError, "expects [batch, 1, spatial...]");
  auto script = Model::load((dir / "mlp_named_like_checkpoint.h5").string());
  EXPECT_TRUE(torch::allclose(script.forward(python_reference("mlp_x")), python_reference("mlp_y"), 1e-6, 1e-6));
}

TEST(EmbedModel, MissingFilesAndFilesOfAnotherKindAreClearErrors) {
  const auto dir = physml::test::scratch_dir();
  EXPECT_THROW_TYPE_MSG(Model::load((dir / "absent.pt").string()), FileNotFoundError, "does not exist");
  {
    std::ofstream((dir / "notes.txt").string()) << "solver notes, not a model\n";
  }
  EXPECT_THROW_TYPE_MSG(Model::load((dir / "notes.txt").string()), FileFormatError,
                        "neither a PhysML Checkpoint (HDF5) nor a TorchScript archive");
  EXPECT_THROW_TYPE_MSG(Model::load(embed_fixture("notmodel.zip")), FileFormatError,
                        "is a zip archive but not a TorchScript model");
  {
    auto h5 = io::H5File::create((dir / "data.h5").string());
    h5.set_attribute("/", "format", std::string("something.else"));
    h5.commit();
  }
  EXPECT_THROW_TYPE_MSG(Model::load((dir / "data.h5").string()), FileFormatError,
                        "is an HDF5 file but not a PhysML Checkpoint");
}

TEST(EmbedModel, DTypeShapeAndNaNErrorsNameExpectedAndGot) {
  auto model = Model::load(embed_fixture("mlp.pt"), ModelOptions().input_shapes({{-1, 3}}));
  EXPECT_THROW_TYPE_MSG(model.forward(torch::zeros({4, 3}, torch::kFloat64)), DTypeError,
                        "input 0 has dtype Double, the TorchScript model expects Float");
  EXPECT_THROW_TYPE_MSG(model.forward(torch::zeros({4, 5})), ShapeError,
                        "input 0 has shape [4, 5], the TorchScript model expects [*, 3]");
  auto x = torch::zeros({4, 3});
  x[2][1] = std::numeric_limits<float>::quiet_NaN();
  EXPECT_THROW(model.forward(x), NonFiniteError);
  float out[8];
  EXPECT_THROW_TYPE_MSG(model.forward({ArrayView(torch::zeros({4, 3}).data_ptr(), torch::kFloat32, {4, 3})},
                                      {ArrayView(out, torch::kFloat64, {4, 2})}),
                        DTypeError, "output array 0 has dtype Double, the model's output 0 has dtype Float");
  // Without a declared shape, LibTorch's own error comes back as physml::Error.
  auto plain = Model::load(embed_fixture("mlp.pt"));
  EXPECT_THROW_MSG(plain.forward(torch::zeros({4, 5})), "model forward failed on inputs of shape [4, 5]");
}

TEST(EmbedModel, PetscVecsAreViewedWithoutCopies) {
  // A float64 model reads a Vec of doubles in place and writes the result into another Vec.
  auto model = Model::load(embed_fixture("linear.pt"), ModelOptions().dtype("float64"));
  const int n = 6;
  Vec in, out;
  PHYSML_PETSC(VecCreateSeq(PETSC_COMM_SELF, 3 * n, &in));
  PHYSML_PETSC(VecCreateSeq(PETSC_COMM_SELF, 2 * n, &out));
  PetscScalar* a;
  PHYSML_PETSC(VecGetArray(in, &a));
  for (int i = 0; i < 3 * n; ++i) a[i] = std::cos(0.7 * i);
  std::vector<double> x(a, a + 3 * n);
  PHYSML_PETSC(VecRestoreArray(in, &a));
  model.forward(in, out, {n, 3}, {n, 2});
  std::vector<double> want(2 * n);
  physml::test::linear_reference(x.data(), want.data(), n);
  const PetscScalar* b;
  PHYSML_PETSC(VecGetArrayRead(out, &b));
  for (int i = 0; i < 2 * n; ++i) EXPECT_NEAR(b[i], want[i], 1e-7);
  PHYSML_PETSC(VecRestoreArrayRead(out, &b));
  PetscReal norm;  // PETSc sees the new values (state marked modified)
  PHYSML_PETSC(VecNorm(out, NORM_2, &norm));
  double want_norm = 0;
  for (double w : want) want_norm += w * w;
  EXPECT_NEAR(norm, std::sqrt(want_norm), 1e-7);
  // A float32 model refuses the Vec of doubles instead of copying it.
  auto model32 = Model::load(embed_fixture("linear.pt"));
  EXPECT_THROW_TYPE_MSG(model32.forward(in, out, {n, 3}, {n, 2}), DTypeError, "expects Float");
  VecDestroy(&in);
  VecDestroy(&out);
}

TEST(EmbedModel, ConcurrentInferenceOnOneHandleMatchesSerial) {
  auto model = Model::load(embed_fixture("mlp.pt"));
  const auto x = python_reference("mlp_x");
  const auto want = model.forward(x);
  std::atomic<int> mismatches{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      for (int k = 0; k < 50; ++k)
        if (!torch::equal(model.forward(x), want)) ++mismatches;
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(mismatches.load(), 0);
}

TEST(EmbedModel, SaveRoundTripsBothFormats) {
  const auto dir = physml::test::scratch_dir();
  auto script = Model::load(embed_fixture("mlp.pt"));
  {
    torch::NoGradGuard g;
    script.parameters()[0].add_(0.25);  // a changed weight must be in the saved file
  }
  script.save((dir / "mlp_changed.pt").string());
  auto again = Model::load((dir / "mlp_changed.pt").string());
  const auto x = python_reference("mlp_x");
  EXPECT_TRUE(torch::equal(again.forward(x), script.forward(x)));
  EXPECT_FALSE(torch::allclose(again.forward(x), python_reference("mlp_y")));

  operators::FNO fno(operators::FNOOptions(1, 1).modes({4}).width(8).layers(2).projection_channels(16));
  Model physml_model(fno.ptr());
  physml_model.save((dir / "fno.h5").string());
  auto reloaded = Model::load((dir / "fno.h5").string());
  auto y = torch::randn({1, 1, 16});
  EXPECT_TRUE(torch::equal(reloaded.forward(y), physml_model.forward(y)));
}

TEST(EmbedModel, DmdaVectorsAreFieldsWithoutCopies) {
  // dof 2 in, dof 1 out on an 8 x 6 grid: a 2-channel-to-1 FNO in float64.
  DM da2, da1;
  PHYSML_PETSC(DMDACreate2d(PETSC_COMM_SELF, DM_BOUNDARY_PERIODIC, DM_BOUNDARY_PERIODIC, DMDA_STENCIL_STAR, 8, 6,
                            PETSC_DECIDE, PETSC_DECIDE, 2, 1, nullptr, nullptr, &da2));
  PHYSML_PETSC(DMSetUp(da2));
  PHYSML_PETSC(DMDACreate2d(PETSC_COMM_SELF, DM_BOUNDARY_PERIODIC, DM_BOUNDARY_PERIODIC, DMDA_STENCIL_STAR, 8, 6,
                            PETSC_DECIDE, PETSC_DECIDE, 1, 1, nullptr, nullptr, &da1));
  PHYSML_PETSC(DMSetUp(da1));
  Vec in, out;
  PHYSML_PETSC(DMCreateGlobalVector(da2, &in));
  PHYSML_PETSC(DMCreateGlobalVector(da1, &out));
  PetscScalar* a;
  PHYSML_PETSC(VecGetArray(in, &a));
  auto copy = torch::zeros({1, 2, 6, 8}, torch::kFloat64);  // the field copied by hand
  for (int j = 0; j < 6; ++j)
    for (int i = 0; i < 8; ++i)
      for (int c = 0; c < 2; ++c) {
        a[(j * 8 + i) * 2 + c] = std::sin(0.3 * i + 0.7 * j + c);
        copy[0][c][j][i] = a[(j * 8 + i) * 2 + c];
      }
  PHYSML_PETSC(VecRestoreArray(in, &a));
  operators::FNO fno(operators::FNOOptions(2, 1).modes({2, 2}).width(4).layers(1).projection_channels(8));
  Model model(fno.ptr(), ModelOptions().dtype("float64"));
  model.forward(da2, in, out, da1);
  const auto want = model.forward(copy);
  const PetscScalar* b;
  PHYSML_PETSC(VecGetArrayRead(out, &b));
  double worst = 0;
  for (int j = 0; j < 6; ++j)
    for (int i = 0; i < 8; ++i) worst = std::max(worst, std::abs(b[j * 8 + i] - want[0][0][j][i].item<double>()));
  PHYSML_PETSC(VecRestoreArrayRead(out, &b));
  EXPECT_LT(worst, 1e-12);
  // A wrong output DMDA names both shapes.
  EXPECT_THROW_TYPE_MSG(model.forward(da2, in, in), ShapeError, "the output DMDA vector is a field of shape [1, 2, 6, 8]");
  VecDestroy(&in);
  VecDestroy(&out);
  DMDestroy(&da2);
  DMDestroy(&da1);
}
