// OBJ is read here rather than by VTK's vtkOBJReader, which skips lines it cannot parse without
// saying which: a body sampled from half a mesh must be an error naming the line. STL and the
// VTK formats go through VTK's readers.
#include "physml/io/surface_mesh.hpp"

#include "physml/core/error.hpp"

#include <torch/torch.h>

#include <vtkCallbackCommand.h>
#include <vtkCellArray.h>
#include <vtkCellArrayIterator.h>
#include <vtkCommand.h>
#include <vtkExecutive.h>
#include <vtkLogger.h>
#include <vtkPoints.h>
#include <vtkPolyData.h>
#include <vtkPolyDataReader.h>
#include <vtkSTLReader.h>
#include <vtkSmartPointer.h>
#include <vtkStringOutputWindow.h>
#include <vtkXMLPolyDataReader.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

namespace physml::io {

namespace {

/// Triangles from polygons (fans), with vertices of equal coordinates merged.
mesh::SurfaceMesh build(const std::vector<double>& xyz, const std::vector<std::vector<std::int64_t>>& polygons,
                        const std::string& source) {
  PHYSML_CHECK(!xyz.empty(), source, ": no vertices");
  PHYSML_CHECK(!polygons.empty(), source, ": no faces (triangles or polygons)");
  const auto V = static_cast<std::int64_t>(xyz.size() / 3);
  auto vertices = torch::from_blob(const_cast<double*>(xyz.data()), {V, 3}, torch::kDouble).clone();
  const auto [unique, inverse, counts] = at::unique_dim(vertices, 0, true, true, false);
  (void)counts;
  std::vector<std::int64_t> tri;
  const auto* inv = inverse.data_ptr<std::int64_t>();
  for (std::size_t f = 0; f < polygons.size(); ++f) {
    const auto& p = polygons[f];
    PHYSML_CHECK(p.size() >= 3, source, ": a face with ", p.size(), " vertices (at least 3 expected)");
    for (const auto v : p)
      PHYSML_CHECK(v >= 0 && v < V, source, ": face ", f, " refers to vertex ", v, " of ", V, " (0-based)");
    for (std::size_t k = 1; k + 1 < p.size(); ++k)
      for (const auto v : {p[0], p[k], p[k + 1]}) tri.push_back(inv[v]);
  }
  const auto T = static_cast<std::int64_t>(tri.size() / 3);
  return mesh::SurfaceMesh(unique, torch::tensor(tri, torch::kLong).view({T, 3}), source);
}

/// An error observer for VTK readers: the first error message, instead of VTK's output window.
struct VtkErrors {
  std::string message;
  vtkSmartPointer<vtkCallbackCommand> callback = vtkSmartPointer<vtkCallbackCommand>::New();
  VtkErrors() {
    callback->SetClientData(this);
    callback->SetCallback([](vtkObject*, unsigned long, void* self, void* data) {
      auto* e = static_cast<VtkErrors*>(self);
      if (e->message.empty() && data) e->message = static_cast<const char*>(data);
    });
  }
};

mesh::SurfaceMesh from_poly_data(vtkPolyData* pd, const std::string& path) {
  PHYSML_CHECK(pd != nullptr && pd->GetPoints() != nullptr && pd->GetNumberOfPoints() > 0, "surface mesh '", path,
               "': no points read");
  std::vector<double> xyz(static_cast<std::size_t>(3 * pd->GetNumberOfPoints()));
  for (vtkIdType i = 0; i < pd->GetNumberOfPoints(); ++i) pd->GetPoint(i, &xyz[static_cast<std::size_t>(3 * i)]);
  std::vector<std::vector<std::int64_t>> polygons;
  vtkCellArray* polys = pd->GetPolys();
  PHYSML_CHECK(polys != nullptr && polys->GetNumberOfCells() > 0, "surface mesh '", path,
               "': no polygons (a closed surface of triangles or polygons expected)");
  auto it = vtk::TakeSmartPointer(polys->NewIterator());
  for (it->GoToFirstCell(); !it->IsDoneWithTraversal(); it->GoToNextCell()) {
    vtkIdType n = 0;
    const vtkIdType* ids = nullptr;
    it->GetCurrentCell(n, ids);
    polygons.emplace_back(ids, ids + n);
  }
  return build(xyz, polygons, "surface mesh '" + path + "'");
}

/// While alive, VTK's messages go to a string instead of stderr (the pipeline's own errors
/// besides the reader's, which VtkErrors catches and the physml::Error reports). Process-wide
/// VTK state: not for concurrent reads from several threads. VTK 9.1 has no getter of the
/// stderr verbosity alone; the cutoff over all log sinks is restored (the same when PhysML's
/// process logs to no file through vtkLogger).
class QuietVtk {
public:
  QuietVtk() : previous_(vtkOutputWindow::GetInstance()), cutoff_(vtkLogger::GetCurrentVerbosityCutoff()) {
    vtkOutputWindow::SetInstance(vtkSmartPointer<vtkStringOutputWindow>::New());
    vtkLogger::SetStderrVerbosity(vtkLogger::VERBOSITY_OFF);
  }
  ~QuietVtk() {
    vtkLogger::SetStderrVerbosity(cutoff_);
    vtkOutputWindow::SetInstance(previous_);
  }
  QuietVtk(const QuietVtk&) = delete;
  QuietVtk& operator=(const QuietVtk&) = delete;

private:
  vtkSmartPointer<vtkOutputWindow> previous_;
  vtkLogger::Verbosity cutoff_;
};

/// The reason of a VTK error message: its last line without the "vtkSTLReader (0x...): " prefix.
std::string reason(std::string m) {
  while (!m.empty() && (m.back() == '\n' || m.back() == ' ')) m.pop_back();
  if (const auto nl = m.rfind('\n'); nl != std::string::npos) m = m.substr(nl + 1);
  if (const auto p = m.find("): "); p != std::string::npos) m = m.substr(p + 3);
  return m;
}

template <class Reader>
mesh::SurfaceMesh read_with_vtk(const std::string& path) {
  QuietVtk quiet;
  auto reader = vtkSmartPointer<Reader>::New();
  VtkErrors errors;
  reader->AddObserver(vtkCommand::ErrorEvent, errors.callback);
  reader->GetExecutive()->AddObserver(vtkCommand::ErrorEvent, errors.callback);
  reader->SetFileName(path.c_str());
  reader->Update();
  PHYSML_CHECK(errors.message.empty(), "surface mesh '", path, "': cannot be read: ", reason(errors.message));
  return from_poly_data(reader->GetOutput(), path);
}

bool parse_real(const std::string& s, double& out) {
  if (s.empty()) return false;
  char* end = nullptr;
  errno = 0;
  out = std::strtod(s.c_str(), &end);
  // |x| <= 1e150: the winding number multiplies three coordinates (a larger one would overflow).
  return end == s.c_str() + s.size() && errno == 0 && std::isfinite(out) && std::abs(out) <= 1e150;
}

}  // namespace

mesh::SurfaceMesh parse_obj(const std::string& text, const std::string& source) {
  std::vector<double> xyz;
  std::vector<std::vector<std::int64_t>> faces;
  std::istringstream in(text);
  std::string line;
  std::int64_t number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    std::istringstream ls(line);
    std::string key;
    if (!(ls >> key) || key[0] == '#') continue;
    auto where = [&] { return source + ", line " + std::to_string(number); };
    if (key == "v") {
      std::string c[3];
      double x[3];
      for (int k = 0; k < 3; ++k)
        PHYSML_CHECK(static_cast<bool>(ls >> c[k]) && parse_real(c[k], x[k]), where(),
                     ": expected 'v x y z' with 3 numbers of magnitude <= 1e150, got '", line, "'");
      xyz.insert(xyz.end(), x, x + 3);  // (an optional 4th value, w, is ignored)
    } else if (key == "f") {
      std::vector<std::int64_t> face;
      std::string item;
      const auto V = static_cast<std::int64_t>(xyz.size() / 3);
      while (ls >> item) {
        const std::string first = item.substr(0, item.find('/'));
        char* end = nullptr;
        errno = 0;
        const long long i = std::strtoll(first.c_str(), &end, 10);
        PHYSML_CHECK(!first.empty() && end == first.c_str() + first.size() && errno == 0 && i != 0, where(),
                     ": expected vertex indices (1-based, or negative = relative), got '", item, "'");
        const std::int64_t v = i > 0 ? i - 1 : V + i;
        PHYSML_CHECK(v >= 0 && v < V, where(), ": vertex index ", i, " refers to no vertex (", V,
                     " vertices read so far)");
        face.push_back(v);
      }
      PHYSML_CHECK(face.size() >= 3, where(), ": a face needs at least 3 vertices, got ", face.size());
      faces.push_back(std::move(face));
    }
    // vt, vn, o, g, s, usemtl, mtllib, l, p: not part of the surface.
  }
  return build(xyz, faces, source);
}

mesh::SurfaceMesh read_surface_mesh(const std::string& path) {
  PHYSML_CHECK(std::filesystem::is_regular_file(path), "surface mesh '", path, "' does not exist (or is not a file)");
  auto ext = std::filesystem::path(path).extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (ext == ".obj") {
    std::ifstream f(path, std::ios::binary);
    PHYSML_CHECK(f.good(), "surface mesh '", path, "' cannot be opened");
    std::ostringstream s;
    s << f.rdbuf();
    return parse_obj(s.str(), "surface mesh '" + path + "'");
  }
  if (ext == ".stl") return read_with_vtk<vtkSTLReader>(path);
  if (ext == ".vtk") return read_with_vtk<vtkPolyDataReader>(path);
  if (ext == ".vtp") return read_with_vtk<vtkXMLPolyDataReader>(path);
  PHYSML_THROW("surface mesh '", path, "': unknown extension '", ext, "'; expected .obj, .stl, .vtk or .vtp");
}

}  // namespace physml::io
