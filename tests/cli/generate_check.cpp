// generate_check: independent checks of `physml generate` output for the CLI tests
// (tests/cli/generate.cmake). It reads the files back with the Dataset reader and VTK's own
// XML readers and compares values; it never calls the generator code.
//
//   generate_check compare A.h5 B.h5 [SPLIT ...]
//       same settings (generator, parameters, grid, seed, splits, shapes, dtype) and every
//       stored input/output byte identical; with SPLITs, only those splits are compared and
//       the files may differ in their other splits.
//   generate_check vti DATA.h5 SPLIT INDEX FILE.vti NAME=inputs|outputs[:CHANNEL] ...
//       the image's point dimensions, spacing and origin match the data set's grid and each
//       named array equals that channel of sample SPLIT[INDEX].
//   generate_check pvd DATA.h5 SPLIT INDEX FILE.pvd NAME
//       a time series of 1 + T images: entry 0 at time 0 is inputs[INDEX][0], entry k at
//       increasing times is outputs[INDEX][k-1], each read from its .vti.
// Prints "ok: ..." and exits 0, or prints what differs and exits 1.
#include "physml/core/environment.hpp"
#include "physml/io/dataset.hpp"

#include <torch/torch.h>
#include <vtkDataArray.h>
#include <vtkImageData.h>
#include <vtkNew.h>
#include <vtkPointData.h>
#include <vtkXMLDataElement.h>
#include <vtkXMLImageDataReader.h>
#include <vtkXMLUtilities.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

#if defined(__SANITIZE_ADDRESS__)
// Sanitizer build: Open MPI, PETSc and LibTorch keep process-lifetime allocations that
// LeakSanitizer reports at exit (as in cli/main.cpp); every other ASan check stays on.
extern "C" const char* __asan_default_options() { return "detect_leaks=0:detect_odr_violation=0"; }
#endif

namespace {

[[noreturn]] void fail(const std::string& what) { throw std::runtime_error(what); }

/// Sample `index` of `split`: field [C, spatial...] as float64.
torch::Tensor sample(const physml::io::DatasetReader& r, const std::string& split, int64_t index, const std::string& field) {
  return r.read(split, field, index, index + 1)[0].to(torch::kDouble).contiguous();
}

/// Compare a VTK point array with a tensor (flattened x fastest, as VTK orders points). The
/// snapshot is written from the float64 solution; a float32 data set is compared to 1e-6.
void expect_array(vtkImageData* img, const std::string& name, const torch::Tensor& expected, bool exact,
                  const std::string& where) {
  vtkDataArray* a = img->GetPointData()->GetArray(name.c_str());
  if (!a) fail(where + ": no point array '" + name + "'");
  if (a->GetNumberOfTuples() != expected.numel() || a->GetNumberOfComponents() != 1)
    fail(where + ": array '" + name + "' has " + std::to_string(a->GetNumberOfTuples()) + " tuples, expected " +
         std::to_string(expected.numel()));
  const double* e = expected.data_ptr<double>();
  const double scale = expected.abs().max().item<double>();
  for (vtkIdType i = 0; i < a->GetNumberOfTuples(); ++i) {
    const double v = a->GetComponent(i, 0);
    if (exact ? v != e[i] : std::abs(v - e[i]) > 1e-6 * scale)
      fail(where + ": array '" + name + "' point " + std::to_string(i) + " = " + std::to_string(v) + ", data set has " +
           std::to_string(e[i]));
  }
}

/// Read a .vti and check its grid against the data set's (points per axis, spacing 1/(n-1)
/// on vertex grids or 1/n on periodic ones, origin 0; a 1-D grid is one row of points).
vtkImageData* read_image(vtkXMLImageDataReader* reader, const std::string& path, const physml::io::DatasetInfo& info) {
  if (!std::filesystem::exists(path)) fail("missing snapshot '" + path + "'");
  reader->SetFileName(path.c_str());
  reader->Update();
  vtkImageData* img = reader->GetOutput();
  int dims[3];
  double spacing[3], origin[3];
  img->GetDimensions(dims);
  img->GetSpacing(spacing);
  img->GetOrigin(origin);
  const bool periodic = info.grid_json.find("periodic") != std::string::npos;
  const std::vector<int64_t> grid(info.input_shape.begin() + 1, info.input_shape.end());
  for (size_t k = 0; k < 3; ++k) {  // VTK axis k is tensor axis d-1-k
    const int64_t n = k < grid.size() ? grid[grid.size() - 1 - k] : 1;
    if (dims[k] != n) fail(path + ": " + std::to_string(dims[k]) + " points on VTK axis " + std::to_string(k) + ", expected " + std::to_string(n));
    if (origin[k] != 0.0) fail(path + ": origin not 0 on VTK axis " + std::to_string(k));
    if (n > 1 && std::abs(spacing[k] - 1.0 / static_cast<double>(periodic ? n : n - 1)) > 1e-14)
      fail(path + ": spacing " + std::to_string(spacing[k]) + " on VTK axis " + std::to_string(k));
  }
  return img;
}

int compare(const std::string& a_path, const std::string& b_path, std::vector<std::string> splits) {
  auto a = physml::io::DatasetReader::open(a_path), b = physml::io::DatasetReader::open(b_path);
  if (splits.empty()) {
    const auto diff = physml::io::first_difference(a.info(), b.info());
    if (!diff.empty()) fail("settings differ: " + diff);
    splits = a.splits();
  } else {  // the named splits only: same settings apart from the split sizes
    auto bi = b.info();
    bi.split_sizes = a.info().split_sizes;
    const auto diff = physml::io::first_difference(a.info(), bi);
    if (!diff.empty()) fail("settings differ: " + diff);
    for (const auto& split : splits)
      if (a.size(split) != b.size(split)) fail("split '" + split + "' sizes differ");
  }
  int64_t samples = 0;
  for (const auto& split : splits) {
    for (const char* field : {"inputs", "outputs"}) {
      auto x = a.read(split, field, 0, a.size(split)).contiguous(), y = b.read(split, field, 0, b.size(split)).contiguous();
      if (x.sizes() != y.sizes() || x.scalar_type() != y.scalar_type() ||
          std::memcmp(x.data_ptr(), y.data_ptr(), static_cast<size_t>(x.numel()) * x.element_size()) != 0) {
        for (int64_t i = 0; i < x.size(0); ++i)
          if (!torch::equal(x[i], y[i])) fail(split + "/" + field + "[" + std::to_string(i) + "] differs");
        fail(split + "/" + field + " differs");
      }
    }
    samples += a.size(split);
  }
  std::printf("ok: identical data, %lld samples in %zu splits\n", static_cast<long long>(samples), splits.size());
  return 0;
}

int check_vti(const std::vector<std::string>& args) {
  if (args.size() < 5) fail("usage: vti DATA.h5 SPLIT INDEX FILE.vti NAME=inputs|outputs[:CHANNEL] ...");
  auto data = physml::io::DatasetReader::open(args[0]);
  const std::string split = args[1];
  const int64_t index = std::stoll(args[2]);
  const bool exact = data.info().dtype == torch::kDouble;
  vtkNew<vtkXMLImageDataReader> reader;
  vtkImageData* img = read_image(reader, args[3], data.info());
  for (size_t k = 4; k < args.size(); ++k) {
    const auto eq = args[k].find('=');
    if (eq == std::string::npos) fail("expected NAME=FIELD[:CHANNEL], got '" + args[k] + "'");
    std::string field = args[k].substr(eq + 1);
    int64_t channel = 0;
    if (auto c = field.find(':'); c != std::string::npos) {
      channel = std::stoll(field.substr(c + 1));
      field = field.substr(0, c);
    }
    expect_array(img, args[k].substr(0, eq), sample(data, split, index, field)[channel].contiguous(), exact, args[3]);
  }
  std::printf("ok: %s matches %s[%lld]\n", args[3].c_str(), split.c_str(), static_cast<long long>(index));
  return 0;
}

int check_pvd(const std::vector<std::string>& args) {
  if (args.size() != 5) fail("usage: pvd DATA.h5 SPLIT INDEX FILE.pvd NAME");
  auto data = physml::io::DatasetReader::open(args[0]);
  const std::string split = args[1], pvd = args[3], name = args[4];
  const int64_t index = std::stoll(args[2]);
  const bool exact = data.info().dtype == torch::kDouble;
  auto input = sample(data, split, index, "inputs"), output = sample(data, split, index, "outputs");
  if (!std::filesystem::exists(pvd)) fail("missing '" + pvd + "'");
  vtkXMLDataElement* root = vtkXMLUtilities::ReadElementFromFile(pvd.c_str());
  if (!root) fail("cannot parse '" + pvd + "'");
  vtkXMLDataElement* coll = root->FindNestedElementWithName("Collection");
  const int entries = coll ? coll->GetNumberOfNestedElements() : 0;
  if (entries != output.size(0) + 1) {
    root->Delete();
    fail(pvd + ": " + std::to_string(entries) + " entries, expected 1 + " + std::to_string(output.size(0)));
  }
  const auto dir = std::filesystem::path(pvd).parent_path();
  double previous = -1;
  for (int k = 0; k < entries; ++k) {
    vtkXMLDataElement* ds = coll->GetNestedElement(k);
    double t = -1;
    ds->GetScalarAttribute("timestep", t);
    const std::string file = (dir / ds->GetAttribute("file")).string();
    if ((k == 0 && t != 0.0) || t <= previous) {
      root->Delete();
      fail(pvd + ": entry " + std::to_string(k) + " has time " + std::to_string(t));
    }
    previous = t;
    vtkNew<vtkXMLImageDataReader> reader;
    vtkImageData* img = read_image(reader, file, data.info());
    expect_array(img, name, k == 0 ? input[0].contiguous() : output[k - 1].contiguous(), exact, file);
  }
  root->Delete();
  std::printf("ok: %s has %d time steps matching %s[%lld]\n", pvd.c_str(), entries, split.c_str(), static_cast<long long>(index));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: generate_check compare|vti|pvd ...\n");
    return 2;
  }
  const std::string mode = argv[1];
  const std::vector<std::string> args(argv + 2, argv + argc);
  try {
    physml::Environment env;
    if (mode == "compare" && args.size() >= 2) return compare(args[0], args[1], {args.begin() + 2, args.end()});
    if (mode == "vti") return check_vti(args);
    if (mode == "pvd") return check_pvd(args);
    fail("unknown mode or wrong number of arguments: '" + mode + "'");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "generate_check %s: FAILED: %s\n", mode.c_str(), e.what());
    return 1;
  }
}
