// VTK XML writers, read back with VTK's own readers and compared value by value.
#include "physml/core/error.hpp"
#include "physml/io/vtk.hpp"
#include "test_util.hpp"

#include <torch/torch.h>

#include <vtkCellArray.h>
#include <vtkCellData.h>
#include <vtkCellType.h>
#include <vtkDataArray.h>
#include <vtkImageData.h>
#include <vtkNew.h>
#include <vtkPointData.h>
#include <vtkPolyData.h>
#include <vtkUnstructuredGrid.h>
#include <vtkXMLDataElement.h>
#include <vtkXMLImageDataReader.h>
#include <vtkXMLPolyDataReader.h>
#include <vtkXMLUnstructuredGridReader.h>
#include <vtkXMLUtilities.h>

#include <filesystem>
#include <fstream>
#include <iterator>

namespace fs = std::filesystem;
using namespace physml::io;

namespace {

/// Values of a VTK array as a double tensor [tuples, components].
torch::Tensor values(vtkDataArray* a) {
  EXPECT_NE(a, nullptr);
  if (!a) return {};
  auto t = torch::empty({a->GetNumberOfTuples(), a->GetNumberOfComponents()}, torch::kFloat64);
  auto acc = t.accessor<double, 2>();
  for (vtkIdType i = 0; i < a->GetNumberOfTuples(); ++i)
    for (int c = 0; c < a->GetNumberOfComponents(); ++c) acc[i][c] = a->GetComponent(i, c);
  return t;
}

using physml::test::file_bytes;

}  // namespace

TEST(Vtk, ImageData2DPointCellAndVectorArrays) {
  auto dir = physml::test::scratch_dir();
  auto path = (dir / "f.vti").string();
  const int ny = 4, nx = 6;
  auto y = torch::linspace(0, 1, ny, torch::kFloat64).view({ny, 1});
  auto x = torch::linspace(0, 2, nx, torch::kFloat64).view({1, nx});
  auto u = (x * 10 + y).expand({ny, nx}).contiguous();                  // point field, float64
  auto vel = torch::stack({x.expand({ny, nx}), -y.expand({ny, nx})}).to(torch::kFloat32);  // [2, ny, nx]
  auto k = torch::arange((ny - 1) * (nx - 1), torch::kInt64).reshape({ny - 1, nx - 1});  // cell field
  write_vti(path, {{ny, nx}, {0.5, -1.0}, {1.0 / (ny - 1), 2.0 / (nx - 1)}},
            {{"u", u}, {"velocity", vel}, {"coefficient", k}});

  vtkNew<vtkXMLImageDataReader> r;
  r->SetFileName(path.c_str());
  r->Update();
  vtkImageData* img = r->GetOutput();
  int dims[3];
  img->GetDimensions(dims);
  EXPECT_EQ(dims[0], nx);
  EXPECT_EQ(dims[1], ny);
  EXPECT_EQ(dims[2], 1);
  double* o = img->GetOrigin();
  EXPECT_DOUBLE_EQ(o[0], -1.0);  // x
  EXPECT_DOUBLE_EQ(o[1], 0.5);   // y
  EXPECT_DOUBLE_EQ(img->GetSpacing()[0], 0.4);
  // point (i=x index, j=y index) has VTK id i + nx*j and coordinates origin + spacing*index
  auto uu = values(img->GetPointData()->GetArray("u"));
  EXPECT_EQ(img->GetPointData()->GetArray("u")->GetDataType(), VTK_DOUBLE);
  EXPECT_TRUE(torch::equal(uu.view({ny, nx}), u));
  double p[3];
  img->GetPoint(2 + nx * 3, p);  // x index 2, y index 3
  EXPECT_DOUBLE_EQ(p[0], -1.0 + 2 * 0.4);
  EXPECT_DOUBLE_EQ(p[1], 0.5 + 3 * (1.0 / 3));
  auto vv = values(img->GetPointData()->GetArray("velocity"));
  EXPECT_EQ(vv.size(1), 2);
  EXPECT_TRUE(torch::equal(vv.to(torch::kFloat32).view({ny, nx, 2}).permute({2, 0, 1}), vel));
  auto kk = values(img->GetCellData()->GetArray("coefficient"));
  EXPECT_EQ(img->GetCellData()->GetArray("coefficient")->GetDataTypeSize(), 8);
  EXPECT_TRUE(torch::equal(kk.to(torch::kInt64).view({ny - 1, nx - 1}), k));
}

TEST(Vtk, ImageData3D) {
  auto dir = physml::test::scratch_dir();
  auto path = (dir / "f.vti").string();
  auto f = torch::randn({3, 4, 5});  // [nz, ny, nx]
  write_vti(path, {{3, 4, 5}}, {{"f", f}});
  vtkNew<vtkXMLImageDataReader> r;
  r->SetFileName(path.c_str());
  r->Update();
  int dims[3];
  r->GetOutput()->GetDimensions(dims);
  EXPECT_EQ(dims[0], 5);
  EXPECT_EQ(dims[1], 4);
  EXPECT_EQ(dims[2], 3);
  EXPECT_TRUE(torch::equal(values(r->GetOutput()->GetPointData()->GetArray("f")).to(torch::kFloat32).view({3, 4, 5}), f));
}

TEST(Vtk, ImageDataBadShapesAreRejected) {
  auto dir = physml::test::scratch_dir();
  auto path = (dir / "f.vti").string();
  EXPECT_THROW_MSG(write_vti(path, {{4, 6}}, {{"u", torch::zeros({4, 5})}}),
                   "array 'u' has shape [4, 5]; expected point data [4, 6], cell data [3, 5]");
  EXPECT_THROW_MSG(write_vti(path, {{4}}, {}), "must be [ny, nx] or [nz, ny, nx]");
  EXPECT_THROW_MSG(write_vti(path, {{4, 6}, {0.0}}, {}), "origin has 1 entries, expected 2");
  EXPECT_THROW_MSG(write_vti(path, {{4, 6}}, {{"c", torch::zeros({4, 6}, torch::kComplexFloat)}}), "dtype");
  EXPECT_THROW_MSG(write_vti((dir / "no" / "f.vti").string(), {{4, 6}}, {}), "does not exist");
  EXPECT_FALSE(fs::exists(path));
}

TEST(Vtk, UnstructuredTrianglesAndTetrahedra) {
  auto dir = physml::test::scratch_dir();
  // two triangles of the unit square, 2-D points
  auto pts = torch::tensor({0.0, 0.0, 1.0, 0.0, 1.0, 1.0, 0.0, 1.0}, torch::kFloat64).view({4, 2});
  auto tri = torch::tensor({0, 1, 2, 0, 2, 3}, torch::kInt64).view({2, 3});
  auto temp = torch::tensor({1.0f, 2.0f, 3.0f, 4.0f});
  auto stress = torch::tensor({1.0, 2.0, 3.0, 4.0, 5.0, 6.0}, torch::kFloat64).view({2, 3});
  auto path = (dir / "m.vtu").string();
  write_vtu(path, pts, tri, {{"temperature", temp}}, {{"stress", stress}});
  vtkNew<vtkXMLUnstructuredGridReader> r;
  r->SetFileName(path.c_str());
  r->Update();
  vtkUnstructuredGrid* g = r->GetOutput();
  ASSERT_EQ(g->GetNumberOfPoints(), 4);
  ASSERT_EQ(g->GetNumberOfCells(), 2);
  EXPECT_EQ(g->GetCellType(1), VTK_TRIANGLE);
  vtkIdType npts;
  const vtkIdType* ids;
  g->GetCellPoints(1, npts, ids);
  EXPECT_EQ(npts, 3);
  EXPECT_EQ(ids[0], 0);
  EXPECT_EQ(ids[1], 2);
  EXPECT_EQ(ids[2], 3);
  double p[3];
  g->GetPoint(2, p);
  EXPECT_EQ(p[0], 1.0);
  EXPECT_EQ(p[1], 1.0);
  EXPECT_EQ(p[2], 0.0);
  EXPECT_TRUE(torch::equal(values(g->GetPointData()->GetArray("temperature")).view({4}).to(torch::kFloat32), temp));
  EXPECT_TRUE(torch::equal(values(g->GetCellData()->GetArray("stress")), stress));

  // one tetrahedron
  auto p3 = torch::tensor({0.f, 0.f, 0.f, 1.f, 0.f, 0.f, 0.f, 1.f, 0.f, 0.f, 0.f, 1.f}).view({4, 3});
  auto tet = torch::tensor({0, 1, 2, 3}, torch::kInt64).view({1, 4});
  write_vtu((dir / "t.vtu").string(), p3, tet);
  vtkNew<vtkXMLUnstructuredGridReader> r3;
  r3->SetFileName((dir / "t.vtu").string().c_str());
  r3->Update();
  EXPECT_EQ(r3->GetOutput()->GetCellType(0), VTK_TETRA);
  r3->GetOutput()->GetPoint(3, p);
  EXPECT_EQ(p[2], 1.0);

  EXPECT_THROW_MSG(write_vtu(path, pts, tri + 2), "cells refer to point 5, expected indices in [0, 4)");
  EXPECT_THROW_MSG(write_vtu(path, pts, tri.to(torch::kInt32)), "expected int64");
  EXPECT_THROW_MSG(write_vtu(path, pts, tri.view({3, 2})), "expected [M, 3] (triangles) or [M, 4]");
  EXPECT_THROW_MSG(write_vtu(path, pts.view({2, 4}), tri), "expected [N, 2] or [N, 3]");
  EXPECT_THROW_MSG(write_vtu(path, pts, tri, {{"t", torch::zeros({3})}}), "point array 't' has shape [3], expected [4] or [4, C]");
}

TEST(Vtk, ParticlesAsPolyData) {
  auto dir = physml::test::scratch_dir();
  auto path = (dir / "p.vtp").string();
  auto x = torch::rand({50, 3}, torch::kFloat64);
  auto v = torch::randn({50, 3});
  auto mass = torch::rand({50}, torch::kFloat64);
  write_vtp(path, x, {{"velocity", v}, {"mass", mass}});
  vtkNew<vtkXMLPolyDataReader> r;
  r->SetFileName(path.c_str());
  r->Update();
  vtkPolyData* pd = r->GetOutput();
  ASSERT_EQ(pd->GetNumberOfPoints(), 50);
  EXPECT_EQ(pd->GetNumberOfVerts(), 50);
  auto xs = torch::empty({50, 3}, torch::kFloat64);
  for (int i = 0; i < 50; ++i) {
    double p[3];
    pd->GetPoint(i, p);
    for (int c = 0; c < 3; ++c) xs[i][c] = p[c];
  }
  EXPECT_TRUE(torch::equal(xs, x));
  EXPECT_TRUE(torch::equal(values(pd->GetPointData()->GetArray("velocity")).to(torch::kFloat32), v));
  EXPECT_TRUE(torch::equal(values(pd->GetPointData()->GetArray("mass")).view({50}), mass));
  EXPECT_THROW_MSG(write_vtp(path, x, {{"mass", mass.slice(0, 0, 49)}}), "particle array 'mass' has shape [49]");
}

TEST(Vtk, PvdCollectionListsTimeSteps) {
  auto dir = physml::test::scratch_dir();
  fs::create_directories(dir / "frames");
  PvdWriter pvd((dir / "series.pvd").string());
  for (int step = 0; step < 3; ++step) {
    auto file = (dir / "frames" / ("f" + std::to_string(step) + ".vti")).string();
    write_vti(file, {{2, 2}}, {{"u", torch::full({2, 2}, static_cast<double>(step))}});
    pvd.add(0.1 * step, file);
  }
  EXPECT_EQ(pvd.size(), 3u);
  vtkXMLDataElement* root = vtkXMLUtilities::ReadElementFromFile((dir / "series.pvd").string().c_str());
  ASSERT_NE(root, nullptr);
  EXPECT_STREQ(root->GetAttribute("type"), "Collection");
  vtkXMLDataElement* coll = root->FindNestedElementWithName("Collection");
  ASSERT_NE(coll, nullptr);
  ASSERT_EQ(coll->GetNumberOfNestedElements(), 3);
  for (int step = 0; step < 3; ++step) {
    vtkXMLDataElement* ds = coll->GetNestedElement(step);
    double t = 0;
    ds->GetScalarAttribute("timestep", t);
    EXPECT_EQ(t, 0.1 * step);  // %.17g round-trips exactly
    std::string file = ds->GetAttribute("file");
    EXPECT_EQ(file, "frames/f" + std::to_string(step) + ".vti");
    // the referenced file opens relative to the .pvd and holds that step's data
    vtkNew<vtkXMLImageDataReader> r;
    r->SetFileName((dir / file).string().c_str());
    r->Update();
    EXPECT_EQ(r->GetOutput()->GetPointData()->GetArray("u")->GetComponent(3, 0), static_cast<double>(step));
  }
  root->Delete();
  EXPECT_TRUE(physml::test::no_temporaries(dir));
}

TEST(Vtk, FailedWriteLeavesExistingFileIntact) {
  auto dir = physml::test::scratch_dir();
  auto path = (dir / "f.vti").string();
  write_vti(path, {{2, 3}}, {{"u", torch::ones({2, 3})}});
  auto before = file_bytes(path);
  EXPECT_THROW(write_vti(path, {{2, 3}}, {{"u", torch::ones({2, 4})}}), physml::Error);
  EXPECT_EQ(file_bytes(path), before);
}
