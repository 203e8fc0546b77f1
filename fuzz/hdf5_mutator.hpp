/// \file hdf5_mutator.hpp
/// Structure-aware edits of a valid PhysML HDF5 file, driven by the fuzzer's bytes: the
/// edits go through io::H5File, so the file stays a well-formed HDF5 file and what is
/// fuzzed is PhysML's reading of its content (names, dtypes, shapes, attribute types and
/// values, JSON metadata, missing objects), not libhdf5's parser of the container format
/// (fuzz_hdf5_bytes does that, by hand only: see fuzz/README.md).
#pragma once

#include "physml/io/hdf5.hpp"

#include <ATen/ATen.h>
#include <fuzzer/FuzzedDataProvider.h>

#include <cstring>
#include <string>
#include <vector>

namespace physml::fuzz {

/// Object paths and attribute keys a reader looks for, plus values that get it further
/// than random text would (valid JSON, format names, sizes).
struct Vocabulary {
  std::vector<std::string> objects;     ///< dataset / group paths ("train/inputs", "model/...")
  std::vector<std::string> keys;        ///< attribute keys ("format", "grid", ...)
  std::vector<std::string> strings = {  ///< string attribute values
      "",
      "{}",
      "[]",
      "null",
      "{\"sizes\":[4]}",
      "{\"type\":\"uniform_grid\",\"dim\":1,\"sizes\":[4],\"lower\":[0.0],\"upper\":[1.0]}",
      "{\"sizes\":[0]}",
      "{\"sizes\":[-3,2]}",
      "{\"sizes\":[9223372036854775807]}",
      "{\"train\":2,\"test\":1}",
      "{\"train\":-1}",
      "[1,4]",
      "[1,-4]",
      "[]",
      "float32",
      "float64",
      "int64",
      "physml.dataset",
      "physml.checkpoint",
      "physml.trajectory",
      "fno",
      "mgno",
      "true",
      "nan",
      "1e308",
  };
};

inline std::string pick(FuzzedDataProvider& p, const std::vector<std::string>& from) {
  if (from.empty() || p.ConsumeBool()) return p.ConsumeRandomLengthString(64);
  return from[p.ConsumeIntegralInRange<std::size_t>(0, from.size() - 1)];
}

/// A tensor of fuzzer-chosen dtype, rank 0..4 and extents 0..6, filled with fuzzer bytes.
inline at::Tensor fuzzed_tensor(FuzzedDataProvider& p) {
  static const c10::ScalarType dtypes[] = {at::kFloat, at::kDouble, at::kLong, at::kInt, at::kByte};
  const auto dtype = dtypes[p.ConsumeIntegralInRange<int>(0, 4)];
  std::vector<std::int64_t> shape(p.ConsumeIntegralInRange<int>(0, 4));
  for (auto& n : shape) n = p.ConsumeIntegralInRange<std::int64_t>(0, 6);
  auto t = at::zeros(shape, at::TensorOptions().dtype(dtype));
  const auto bytes = p.ConsumeBytes<std::uint8_t>(static_cast<std::size_t>(t.nbytes()));
  if (!bytes.empty()) std::memcpy(t.data_ptr(), bytes.data(), bytes.size());
  return t;
}

/// Apply up to `max_edits` edits to the open file: set an attribute (string, int, real or
/// list, on the root or an object), or write a dataset (replacing one of that name).
inline void mutate(io::H5File& f, FuzzedDataProvider& p, const Vocabulary& v, int max_edits = 8) {
  const int edits = p.ConsumeIntegralInRange<int>(1, max_edits);
  for (int i = 0; i < edits && p.remaining_bytes() > 0; ++i) {
    switch (p.ConsumeIntegralInRange<int>(0, 2)) {
      case 0:
      case 1: {
        const std::string object = p.ConsumeBool() ? std::string("/") : pick(p, v.objects);
        const std::string key = pick(p, v.keys);
        if (key.empty() || object.empty()) break;
        switch (p.ConsumeIntegralInRange<int>(0, 3)) {
          case 0: f.set_attribute(object, key, pick(p, v.strings)); break;
          case 1: f.set_attribute(object, key, p.ConsumeIntegral<std::int64_t>()); break;
          case 2: f.set_attribute(object, key, p.ConsumeFloatingPoint<double>()); break;
          default: {
            std::vector<double> list(p.ConsumeIntegralInRange<int>(0, 5));
            for (auto& x : list) x = p.ConsumeFloatingPoint<double>();
            f.set_attribute(object, key, list);
          }
        }
        break;
      }
      default: {
        const std::string name = pick(p, v.objects);
        if (name.empty() || name == "/") break;
        f.write(name, fuzzed_tensor(p));
      }
    }
  }
}

}  // namespace physml::fuzz
