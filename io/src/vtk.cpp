// VTK XML writers (see physml/io/vtk.hpp).
#include "physml/io/vtk.hpp"

#include "physml/core/error.hpp"
#include "physml/io/atomic_file.hpp"
#include "physml/io/hdf5.hpp"  // dtype_name, shape_string

#include <torch/torch.h>

#include <vtkCellArray.h>
#include <vtkCellData.h>
#include <vtkCellType.h>
#include <vtkDataArray.h>
#include <vtkErrorCode.h>
#include <vtkIdTypeArray.h>
#include <vtkImageData.h>
#include <vtkNew.h>
#include <vtkPointData.h>
#include <vtkPoints.h>
#include <vtkPolyData.h>
#include <vtkSmartPointer.h>
#include <vtkUnstructuredGrid.h>
#include <vtkXMLImageDataWriter.h>
#include <vtkXMLPolyDataWriter.h>
#include <vtkXMLUnstructuredGridWriter.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace fs = std::filesystem;

namespace physml::io {

namespace {

int vtk_type(c10::ScalarType t, const std::string& what) {
  switch (t) {
    case c10::ScalarType::Float: return VTK_FLOAT;
    case c10::ScalarType::Double: return VTK_DOUBLE;
    case c10::ScalarType::Long: return VTK_TYPE_INT64;
    case c10::ScalarType::Int: return VTK_TYPE_INT32;
    case c10::ScalarType::Byte: return VTK_TYPE_UINT8;
    default:
      PHYSML_THROW(what, " has dtype ", dtype_name(t), ": VTK arrays are written from float32, float64, int64, int32 "
                   "or uint8 tensors");
  }
}

/// A VTK array of `tuples` tuples of `components` values copied from a contiguous tensor.
vtkSmartPointer<vtkDataArray> make_array(const std::string& name, const at::Tensor& t, std::int64_t tuples,
                                         std::int64_t components) {
  at::Tensor c = t.detach().to(torch::kCPU).contiguous();
  PHYSML_CHECK(c.numel() == tuples * components, "internal: array '", name, "' size mismatch");
  auto a = vtkSmartPointer<vtkDataArray>::Take(vtkDataArray::CreateDataArray(vtk_type(c.scalar_type(), "array '" + name + "'")));
  a->SetName(name.c_str());
  a->SetNumberOfComponents(static_cast<int>(components));
  a->SetNumberOfTuples(tuples);
  if (c.numel() > 0) std::memcpy(a->GetVoidPointer(0), c.data_ptr(), c.nbytes());
  return a;
}

/// Attach [n] or [n, C] arrays (one row per point or cell) to `data`.
void add_row_arrays(vtkDataSetAttributes* data, const std::vector<VtkArray>& arrays, std::int64_t n, const char* kind) {
  for (const auto& a : arrays) {
    PHYSML_CHECK(!a.name.empty(), kind, " array with an empty name");
    PHYSML_CHECK(a.values.defined(), kind, " array '", a.name, "' is undefined");
    const auto& v = a.values;
    PHYSML_CHECK((v.dim() == 1 || v.dim() == 2) && v.size(0) == n, kind, " array '", a.name, "' has shape ",
                 shape_string(v.sizes().vec()), ", expected [", n, "] or [", n, ", C]");
    data->AddArray(make_array(a.name, v, n, v.dim() == 2 ? v.size(1) : 1));
  }
}

/// Points [N, 2|3] as vtkPoints (double precision; 2-D points get z = 0).
vtkSmartPointer<vtkPoints> make_points(const at::Tensor& p, const char* what) {
  PHYSML_CHECK(p.defined() && p.dim() == 2 && (p.size(1) == 2 || p.size(1) == 3), what, " has shape ",
               p.defined() ? shape_string(p.sizes().vec()) : std::string("(undefined)"), ", expected [N, 2] or [N, 3]");
  PHYSML_CHECK(p.is_floating_point(), what, " has dtype ", dtype_name(p.scalar_type()), ", expected a floating dtype");
  at::Tensor xyz = p.detach().to(torch::kCPU, torch::kFloat64);
  if (xyz.size(1) == 2) xyz = torch::cat({xyz, torch::zeros({xyz.size(0), 1}, xyz.options())}, 1);
  xyz = xyz.contiguous();
  auto pts = vtkSmartPointer<vtkPoints>::New();
  pts->SetDataTypeToDouble();
  pts->SetNumberOfPoints(xyz.size(0));
  if (xyz.numel() > 0) std::memcpy(pts->GetData()->GetVoidPointer(0), xyz.data_ptr(), xyz.nbytes());
  return pts;
}

void check_target(const std::string& path) { check_writable_path(path, "VTK file"); }

/// Run a VTK XML writer into a temporary file and rename it to `path`.
void write_atomically(vtkXMLWriter* w, const std::string& path) {
  check_target(path);
  std::string tmp = temporary_path(path);
  w->SetFileName(tmp.c_str());
  w->SetDataModeToAppended();
  w->EncodeAppendedDataOff();  // raw binary (compressed with zlib by default)
  // VTK's writers return 1 from Write() even when a write(2) failed part-way (disk full): the
  // error code and the closing tag of the XML file are checked as well, so a cut-off file is
  // never renamed over `path`.
  const bool written = w->Write() == 1 && w->GetErrorCode() == 0 && file_ends_with(tmp, "</VTKFile>\n");
  if (!written) {
    const unsigned long code = w->GetErrorCode();
    std::error_code ec;
    fs::remove(tmp, ec);
    PHYSML_THROW("VTK could not write '", path, "'",
                 code == vtkErrorCode::OutOfDiskSpaceError ? std::string(" (out of disk space)")
                 : code != 0 ? " (VTK error code " + std::to_string(code) + ")"
                             : std::string(" (the file was cut off: disk full?)"));
  }
  publish_file(tmp, path);
}

std::string xml_escape(const std::string& s) {
  std::string r;
  for (char c : s) {
    switch (c) {
      case '&': r += "&amp;"; break;
      case '<': r += "&lt;"; break;
      case '>': r += "&gt;"; break;
      case '"': r += "&quot;"; break;
      default: r += c;
    }
  }
  return r;
}

}  // namespace

void write_vti(const std::string& path, const ImageGeometry& g, const std::vector<VtkArray>& arrays) {
  const auto d = static_cast<std::int64_t>(g.points.size());
  PHYSML_CHECK(d == 2 || d == 3, "write_vti('", path, "'): ImageGeometry.points ", shape_string(g.points),
               " must be [ny, nx] or [nz, ny, nx]");
  for (auto n : g.points)
    PHYSML_CHECK(n >= 1, "write_vti('", path, "'): ImageGeometry.points ", shape_string(g.points),
                 " has an extent < 1");
  PHYSML_CHECK(g.origin.empty() || static_cast<std::int64_t>(g.origin.size()) == d, "write_vti('", path,
               "'): origin has ", g.origin.size(), " entries, expected ", d);
  PHYSML_CHECK(g.spacing.empty() || static_cast<std::int64_t>(g.spacing.size()) == d, "write_vti('", path,
               "'): spacing has ", g.spacing.size(), " entries, expected ", d);
  auto img = vtkSmartPointer<vtkImageData>::New();
  int dims[3] = {1, 1, 1};
  double origin[3] = {0, 0, 0}, spacing[3] = {1, 1, 1};
  for (std::int64_t i = 0; i < d; ++i) {  // tensor axis i is VTK axis d-1-i
    dims[d - 1 - i] = static_cast<int>(g.points[i]);
    if (!g.origin.empty()) origin[d - 1 - i] = g.origin[i];
    if (!g.spacing.empty()) spacing[d - 1 - i] = g.spacing[i];
  }
  img->SetDimensions(dims);
  img->SetOrigin(origin);
  img->SetSpacing(spacing);
  std::vector<std::int64_t> cells = g.points;
  for (auto& c : cells) c = std::max<std::int64_t>(c - 1, 1);
  for (const auto& a : arrays) {
    PHYSML_CHECK(!a.name.empty(), "write_vti('", path, "'): an array has an empty name");
    PHYSML_CHECK(a.values.defined(), "write_vti('", path, "'): array '", a.name, "' is undefined");
    at::Tensor v = a.values;
    std::int64_t comps = 1;
    if (v.dim() == d + 1) {
      comps = v.size(0);
      v = v.movedim(0, -1);  // [C, spatial...] -> [spatial..., C]: VTK interleaves components
    }
    std::vector<std::int64_t> spatial(v.sizes().begin(), v.sizes().begin() + std::min<std::int64_t>(v.dim(), d));
    bool rank_ok = v.dim() == d || (v.dim() == d + 1 && a.values.dim() == d + 1);
    bool on_points = rank_ok && spatial == g.points;
    bool on_cells = rank_ok && spatial == cells && !on_points;
    PHYSML_CHECK(on_points || on_cells, "write_vti('", path, "'): array '", a.name, "' has shape ",
                 shape_string(a.values.sizes().vec()), "; expected point data ", shape_string(g.points),
                 ", cell data ", shape_string(cells), ", or either with a leading component axis [C, ...]");
    std::int64_t tuples = v.numel() / std::max<std::int64_t>(comps, 1);
    auto arr = make_array(a.name, v, tuples, comps);
    if (on_points)
      img->GetPointData()->AddArray(arr);
    else
      img->GetCellData()->AddArray(arr);
  }
  vtkNew<vtkXMLImageDataWriter> w;
  w->SetInputData(img);
  write_atomically(w, path);
}

void write_vtu(const std::string& path, const at::Tensor& points, const at::Tensor& cells,
               const std::vector<VtkArray>& point_arrays, const std::vector<VtkArray>& cell_arrays) {
  auto pts = make_points(points, "write_vtu: points");
  const std::int64_t n = points.size(0);
  PHYSML_CHECK(cells.defined() && cells.dim() == 2 && (cells.size(1) == 3 || cells.size(1) == 4),
               "write_vtu('", path, "'): cells have shape ",
               cells.defined() ? shape_string(cells.sizes().vec()) : std::string("(undefined)"),
               ", expected [M, 3] (triangles) or [M, 4] (tetrahedra)");
  PHYSML_CHECK(cells.scalar_type() == torch::kInt64, "write_vtu('", path, "'): cells have dtype ",
               dtype_name(cells.scalar_type()), ", expected int64");
  at::Tensor c = cells.detach().to(torch::kCPU).contiguous();
  const std::int64_t m = c.size(0), k = c.size(1);
  if (c.numel() > 0) {
    auto lo = c.min().item<std::int64_t>(), hi = c.max().item<std::int64_t>();
    PHYSML_CHECK(lo >= 0 && hi < n, "write_vtu('", path, "'): cells refer to point ", (lo < 0 ? lo : hi),
                 ", expected indices in [0, ", n, ")");
  }
  auto conn = vtkSmartPointer<vtkIdTypeArray>::New();
  conn->SetNumberOfValues(m * k);
  const auto* cp = c.data_ptr<std::int64_t>();
  for (std::int64_t i = 0; i < m * k; ++i) conn->SetValue(i, static_cast<vtkIdType>(cp[i]));
  auto offsets = vtkSmartPointer<vtkIdTypeArray>::New();
  offsets->SetNumberOfValues(m + 1);
  for (std::int64_t i = 0; i <= m; ++i) offsets->SetValue(i, static_cast<vtkIdType>(i * k));
  auto ca = vtkSmartPointer<vtkCellArray>::New();
  ca->SetData(offsets, conn);
  auto ug = vtkSmartPointer<vtkUnstructuredGrid>::New();
  ug->SetPoints(pts);
  ug->SetCells(k == 3 ? VTK_TRIANGLE : VTK_TETRA, ca);
  add_row_arrays(ug->GetPointData(), point_arrays, n, "write_vtu: point");
  add_row_arrays(ug->GetCellData(), cell_arrays, m, "write_vtu: cell");
  vtkNew<vtkXMLUnstructuredGridWriter> w;
  w->SetInputData(ug);
  write_atomically(w, path);
}

void write_vtp(const std::string& path, const at::Tensor& positions, const std::vector<VtkArray>& arrays) {
  auto pts = make_points(positions, "write_vtp: positions");
  const std::int64_t n = positions.size(0);
  auto conn = vtkSmartPointer<vtkIdTypeArray>::New();
  conn->SetNumberOfValues(n);
  auto offsets = vtkSmartPointer<vtkIdTypeArray>::New();
  offsets->SetNumberOfValues(n + 1);
  for (std::int64_t i = 0; i < n; ++i) conn->SetValue(i, i);
  for (std::int64_t i = 0; i <= n; ++i) offsets->SetValue(i, i);
  auto verts = vtkSmartPointer<vtkCellArray>::New();
  verts->SetData(offsets, conn);
  auto pd = vtkSmartPointer<vtkPolyData>::New();
  pd->SetPoints(pts);
  pd->SetVerts(verts);
  add_row_arrays(pd->GetPointData(), arrays, n, "write_vtp: particle");
  vtkNew<vtkXMLPolyDataWriter> w;
  w->SetInputData(pd);
  write_atomically(w, path);
}

PvdWriter::PvdWriter(std::string path) : path_(std::move(path)) { check_target(path_); }

void PvdWriter::add(double time, const std::string& file, int part) {
  PHYSML_CHECK(std::isfinite(time), "PvdWriter('", path_, "'): time ", time, " is not finite");
  fs::path dir = fs::absolute(fs::path(path_)).parent_path().lexically_normal();
  fs::path abs = fs::absolute(fs::path(file)).lexically_normal();
  fs::path rel = abs.lexically_relative(dir);
  std::string stored = (rel.empty() || *rel.begin() == "..") ? abs.string() : rel.generic_string();
  entries_.push_back({time, part, stored});
  write();
}

void PvdWriter::write() const {
  std::ostringstream out;
  out << "<?xml version=\"1.0\"?>\n"
      << "<VTKFile type=\"Collection\" version=\"0.1\" byte_order=\"LittleEndian\">\n  <Collection>\n";
  char t[64];
  for (const auto& e : entries_) {
    std::snprintf(t, sizeof t, "%.17g", e.time);
    out << "    <DataSet timestep=\"" << t << "\" group=\"\" part=\"" << e.part << "\" file=\""
        << xml_escape(e.file) << "\"/>\n";
  }
  out << "  </Collection>\n</VTKFile>\n";
  io::write_text_file(path_, "VTK file", out.str());
}

}  // namespace physml::io
