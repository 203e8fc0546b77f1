// Makes the bad input files of the command-line catalogue (tests/cli/bad_inputs.cmake,
// docs/bad-inputs.md) with PhysML's own HDF5 layer, at test time:
//
//   bad_input_fixtures nan IN OUT SPLIT FIELD SAMPLE INDEX  copy a Dataset, set one value to NaN
//   bad_input_fixtures inf IN OUT SPLIT FIELD SAMPLE INDEX  ... to +Inf
//   bad_input_fixtures retype IN OUT NAME DTYPE     copy, store dataset NAME as DTYPE (e.g. int32)
//   bad_input_fixtures narrow IN OUT NAME           copy, keep the first half of NAME's last axis
//   bad_input_fixtures attr IN OUT KEY VALUE        copy, set root attribute KEY (int if it parses)
//   bad_input_fixtures truncate IN OUT FRACTION     the first FRACTION of IN's bytes
//   bad_input_fixtures random OUT BYTES             pseudo-random bytes (fixed seed)
//   bad_input_fixtures system OUT N KIND            a 1-D Laplacian system of N rows (physml.linear_system);
//                                                   KIND ok | nan | nonsquare | column | rhs
//   bad_input_fixtures poisson2d OUT N              the N x N cell-centred 5-point Poisson system (Dirichlet
//                                                   walls) with a smooth right-hand side (good input, for solves)
//   bad_input_fixtures dcdm_model OUT SEED          an untrained 2-D DCDM network (operators::save), seeded
#include "physml/core/error.hpp"
#include "physml/io/hdf5.hpp"
#include "physml/operators/checkpoint.hpp"
#include "physml/operators/dcdm_net.hpp"

#include <torch/torch.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <string>
#include <vector>

namespace fs = std::filesystem;
using physml::io::H5File;

namespace {

H5File copy_for_edit(const std::string& in, const std::string& out) {
  fs::copy_file(in, out, fs::copy_options::overwrite_existing);
  return H5File::open(out, H5File::Mode::read_write);
}

std::string read_all(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  PHYSML_CHECK(f.good(), "cannot read ", path);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

void write_all(const std::string& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  PHYSML_CHECK(f.good(), "cannot write ", path);
}

void linear_system(const std::string& out, std::int64_t n, const std::string& kind) {
  std::vector<std::int64_t> row_ptr{0}, col;
  std::vector<double> val;
  for (std::int64_t i = 0; i < n; ++i) {
    for (std::int64_t j = i - 1; j <= i + 1; ++j)
      if (j >= 0 && j < n) {
        col.push_back(j);
        val.push_back(j == i ? 2.0 : -1.0);
      }
    row_ptr.push_back(static_cast<std::int64_t>(col.size()));
  }
  if (kind == "nan") val[val.size() / 2] = std::numeric_limits<double>::quiet_NaN();
  if (kind == "column") col.back() = n + 5;
  auto f = H5File::create(out);
  physml::io::stamp_file(f, "physml.linear_system", 1);
  f.set_attribute("/", "rows", n);
  f.set_attribute("/", "cols", kind == "nonsquare" ? n + 1 : n);
  f.write("A/row_ptr", torch::tensor(row_ptr, torch::kLong));
  f.write("A/col_idx", torch::tensor(col, torch::kLong));
  f.write("A/values", torch::tensor(val, torch::kDouble));
  f.write("b", torch::ones({kind == "rhs" ? n - 1 : n}, torch::kDouble));
  f.commit();
}

void poisson2d(const std::string& out, std::int64_t n) {
  std::vector<std::int64_t> row_ptr{0}, col;
  std::vector<double> val, b;
  for (std::int64_t j = 0; j < n; ++j)
    for (std::int64_t i = 0; i < n; ++i) {
      const std::int64_t nb[4][2] = {{i, j - 1}, {i - 1, j}, {i + 1, j}, {i, j + 1}};
      for (int k = 0; k < 2; ++k)
        if (nb[k][0] >= 0 && nb[k][1] >= 0) {
          col.push_back(nb[k][1] * n + nb[k][0]);
          val.push_back(-1.0);
        }
      col.push_back(j * n + i);
      val.push_back(4.0);
      for (int k = 2; k < 4; ++k)
        if (nb[k][0] < n && nb[k][1] < n) {
          col.push_back(nb[k][1] * n + nb[k][0]);
          val.push_back(-1.0);
        }
      row_ptr.push_back(static_cast<std::int64_t>(col.size()));
      const double x = (i + 0.5) / n, y = (j + 0.5) / n;
      b.push_back(std::sin(M_PI * x) * std::sin(2 * M_PI * y) + 0.3 * x);
    }
  auto f = H5File::create(out);
  physml::io::stamp_file(f, "physml.linear_system", 1);
  f.set_attribute("/", "rows", n * n);
  f.set_attribute("/", "cols", n * n);
  f.write("A/row_ptr", torch::tensor(row_ptr, torch::kLong));
  f.write("A/col_idx", torch::tensor(col, torch::kLong));
  f.write("A/values", torch::tensor(val, torch::kDouble));
  f.write("b", torch::tensor(b, torch::kDouble));
  f.commit();
}

int run(const std::vector<std::string>& a) {
  PHYSML_CHECK(!a.empty(), "usage: see the comment at the top of bad_input_fixtures.cpp");
  const std::string& op = a[0];
  if ((op == "nan" || op == "inf") && a.size() == 7) {
    auto f = copy_for_edit(a[1], a[2]);
    const std::string name = a[3] + "/" + a[4];
    const auto sample = std::stoll(a[5]), index = std::stoll(a[6]);
    at::Tensor row = f.read_rows(name, sample, sample + 1).contiguous();
    row.view({-1})[index] = op == "nan" ? std::numeric_limits<double>::quiet_NaN() : std::numeric_limits<double>::infinity();
    f.write_rows(name, sample, row);
    f.commit();
    return 0;
  }
  if (op == "retype" && a.size() == 5) {
    auto f = copy_for_edit(a[1], a[2]);
    f.write(a[3], f.read(a[3]).to(physml::io::dtype_from_name(a[4])));
    f.commit();
    return 0;
  }
  if (op == "narrow" && a.size() == 4) {
    auto f = copy_for_edit(a[1], a[2]);
    at::Tensor t = f.read(a[3]);
    f.write(a[3], t.narrow(-1, 0, t.size(-1) / 2).contiguous());
    f.commit();
    return 0;
  }
  if (op == "attr" && a.size() == 5) {
    auto f = copy_for_edit(a[1], a[2]);
    char* end = nullptr;
    const long long v = std::strtoll(a[4].c_str(), &end, 10);
    if (!a[4].empty() && *end == '\0')
      f.set_attribute("/", a[3], static_cast<std::int64_t>(v));
    else
      f.set_attribute("/", a[3], a[4]);
    f.commit();
    return 0;
  }
  if (op == "truncate" && a.size() == 4) {
    const auto bytes = read_all(a[1]);
    write_all(a[2], bytes.substr(0, static_cast<std::size_t>(std::stod(a[3]) * static_cast<double>(bytes.size()))));
    return 0;
  }
  if (op == "random" && a.size() == 3) {
    std::string bytes(static_cast<std::size_t>(std::stoll(a[2])), '\0');
    std::uint32_t s = 2463534242u;
    for (auto& b : bytes) {
      s ^= s << 13;
      s ^= s >> 17;
      s ^= s << 5;
      b = static_cast<char>(s & 0xff);
    }
    write_all(a[1], bytes);
    return 0;
  }
  if (op == "system" && a.size() == 4) {
    linear_system(a[1], std::stoll(a[2]), a[3]);
    return 0;
  }
  if (op == "poisson2d" && a.size() == 3) {
    poisson2d(a[1], std::stoll(a[2]));
    return 0;
  }
  if (op == "dcdm_model" && a.size() == 3) {
    torch::manual_seed(std::stoull(a[2]));
    physml::operators::DCDMNet net(physml::operators::DCDMNetOptions(2));
    physml::operators::save(a[1], *net);
    return 0;
  }
  PHYSML_THROW("bad_input_fixtures: unknown operation or wrong argument count: ", op, " (", a.size(), " arguments)");
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(std::vector<std::string>(argv + 1, argv + argc));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bad_input_fixtures: %s\n", e.what());
    return 1;
  }
}
