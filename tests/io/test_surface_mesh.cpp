// Surface files (io/surface_mesh.hpp): OBJ (our reader: polygons, index forms, errors with the
// line), ASCII STL, legacy VTK and VTK XML PolyData (VTK's readers), duplicate vertices merged,
// and bad files refused by name.
#include "physml/io/surface_mesh.hpp"
#include "test_util.hpp"

#include <fstream>

namespace {

void write(const std::filesystem::path& p, const std::string& text) { std::ofstream(p) << text; }

/// The unit cube as 6 quads, with comments, texture/normal lines, i/t/n index forms and a face
/// of negative (relative) indices.
const char* kCube = R"(# unit cube
o cube
v 0 0 0
v 1 0 0
v 1 1 0
v 0 1 0
v 0 0 1
v 1 0 1
v 1 1 1
v 0 1 1
vt 0 0
vn 0 0 1
f 1 4 3 2
f 5/1 6/1 7/1 8/1
f 1//1 2//1 6//1 5//1
f 2/1/1 3/1/1 7/1/1 6/1/1
f 3 4 8 7
f -1 -5 -8 -4
)";

/// The octahedron |x| + |y| + |z| <= 1 as ASCII STL: 8 facets, each with its own 3 corners.
std::string octahedron_stl() {
  const double v[6][3] = {{1, 0, 0}, {-1, 0, 0}, {0, 1, 0}, {0, -1, 0}, {0, 0, 1}, {0, 0, -1}};
  const int t[8][3] = {{0, 2, 4}, {2, 1, 4}, {1, 3, 4}, {3, 0, 4}, {2, 0, 5}, {1, 2, 5}, {3, 1, 5}, {0, 3, 5}};
  std::string s = "solid octa\n";
  for (const auto& f : t) {
    s += " facet normal 0 0 0\n  outer loop\n";
    for (int k : f)
      s += "   vertex " + std::to_string(v[k][0]) + " " + std::to_string(v[k][1]) + " " + std::to_string(v[k][2]) + "\n";
    s += "  endloop\n endfacet\n";
  }
  return s + "endsolid octa\n";
}

/// The tetrahedron (0,0,0), e_x, e_y, e_z (volume 1/6), outward triangles.
const char* kTetVtk = R"(# vtk DataFile Version 3.0
tet
ASCII
DATASET POLYDATA
POINTS 4 double
0 0 0 1 0 0 0 1 0 0 0 1
POLYGONS 4 16
3 0 2 1
3 0 1 3
3 0 3 2
3 1 2 3
)";

const char* kTetVtp = R"(<?xml version="1.0"?>
<VTKFile type="PolyData" version="0.1" byte_order="LittleEndian">
  <PolyData>
    <Piece NumberOfPoints="4" NumberOfPolys="4">
      <Points>
        <DataArray type="Float64" NumberOfComponents="3" format="ascii">0 0 0 1 0 0 0 1 0 0 0 1</DataArray>
      </Points>
      <Polys>
        <DataArray type="Int64" Name="connectivity" format="ascii">0 2 1 0 1 3 0 3 2 1 2 3</DataArray>
        <DataArray type="Int64" Name="offsets" format="ascii">3 6 9 12</DataArray>
      </Polys>
    </Piece>
  </PolyData>
</VTKFile>
)";

}  // namespace

TEST(SurfaceMeshFiles, ReadsObjStlVtkAndVtp) {
  const auto dir = physml::test::scratch_dir();
  write(dir / "cube.obj", kCube);
  const auto cube = physml::io::read_surface_mesh((dir / "cube.obj").string());
  EXPECT_EQ(cube.num_vertices(), 8);
  EXPECT_EQ(cube.num_triangles(), 12);  // 6 quads as fans
  EXPECT_NEAR(cube.signed_volume(), 1.0, 1e-15);
  const double in[3] = {0.5, 0.5, 0.5}, out[3] = {1.5, 0.5, 0.5};
  EXPECT_TRUE(cube.contains(in));
  EXPECT_FALSE(cube.contains(out));
  write(dir / "octa.STL", octahedron_stl());  // the extension in any case
  const auto octa = physml::io::read_surface_mesh((dir / "octa.STL").string());
  EXPECT_EQ(octa.num_vertices(), 6);  // 24 corners merged
  EXPECT_EQ(octa.num_triangles(), 8);
  EXPECT_NEAR(octa.signed_volume(), 4.0 / 3.0, 1e-6);  // (STL stores float32)
  write(dir / "tet.vtk", kTetVtk);
  EXPECT_NEAR(physml::io::read_surface_mesh((dir / "tet.vtk").string()).signed_volume(), 1.0 / 6.0, 1e-15);
  write(dir / "tet.vtp", kTetVtp);
  EXPECT_NEAR(physml::io::read_surface_mesh((dir / "tet.vtp").string()).signed_volume(), 1.0 / 6.0, 1e-15);
}

TEST(SurfaceMeshFiles, BadFilesAreRefusedByNameAndLine) {
  const auto dir = physml::test::scratch_dir();
  const auto f = [&](const char* name, const std::string& text) {
    write(dir / name, text);
    return (dir / name).string();
  };
  using physml::io::read_surface_mesh;
  EXPECT_THROW_MSG(read_surface_mesh((dir / "none.obj").string()), "none.obj' does not exist");
  EXPECT_THROW_MSG(read_surface_mesh(f("x.ply", "ply\n")), "unknown extension '.ply'; expected .obj, .stl, .vtk or .vtp");
  EXPECT_THROW_MSG(read_surface_mesh(f("short.obj", "v 0 0 0\nv 1 0\n")),
                   "short.obj', line 2: expected 'v x y z' with 3 numbers of magnitude <= 1e150, got 'v 1 0'");
  EXPECT_THROW_MSG(read_surface_mesh(f("word.obj", "v 0 0 zero\n")), "line 1: expected 'v x y z'");
  EXPECT_THROW_MSG(read_surface_mesh(f("huge.obj", "v 0 0 1e200\n")), "line 1: expected 'v x y z'");
  EXPECT_THROW_MSG(read_surface_mesh(f("early.obj", "f 1 2 3\nv 0 0 0\n")), "line 1: vertex index 1 refers to no vertex (0 vertices");
  // A legacy VTK file whose polygon refers to a point it does not have.
  std::string bad_vtk(kTetVtk);
  bad_vtk.replace(bad_vtk.find("3 1 2 3"), 7, "3 1 2 9");
  EXPECT_THROW_MSG(read_surface_mesh(f("far.vtk", bad_vtk)), "far.vtk': face 3 refers to vertex 9 of 4 (0-based)");
  EXPECT_THROW_MSG(read_surface_mesh(f("far.obj", "v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 9\n")),
                   "far.obj', line 4: vertex index 9 refers to no vertex (3 vertices read so far)");
  EXPECT_THROW_MSG(read_surface_mesh(f("zero.obj", "v 0 0 0\nf 0 1 1\n")), "line 2: expected vertex indices");
  EXPECT_THROW_MSG(read_surface_mesh(f("edge.obj", "v 0 0 0\nv 1 0 0\nf 1 2\n")), "line 3: a face needs at least 3 vertices");
  EXPECT_THROW_MSG(read_surface_mesh(f("empty.obj", "# nothing\n")), "empty.obj': no vertices");
  // The cube without its top face: not closed, named.
  std::string open(kCube);
  open = open.substr(0, open.find("f 5/1"));
  open += "f 1//1 2//1 6//1 5//1\nf 2/1/1 3/1/1 7/1/1 6/1/1\nf 3 4 8 7\nf -1 -5 -8 -4\n";
  EXPECT_THROW_MSG(read_surface_mesh(f("open.obj", open)), "open.obj': the surface is not closed: the edge between vertices");
  EXPECT_THROW_MSG(read_surface_mesh(f("junk.stl", "this is not an STL file\n")),
                   "junk.stl': cannot be read: STLReader: error while reading file");
  EXPECT_THROW_MSG(read_surface_mesh(f("junk.vtp", "<VTKFile")), "junk.vtp': cannot be read: Error parsing input file");
}
