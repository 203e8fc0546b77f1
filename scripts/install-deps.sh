#!/usr/bin/env bash
# Installs the Debian packages PhysML needs. Idempotent: when every package is
# already installed it returns in well under a second without touching apt.
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build pkg-config ccache git
  libtorch-dev                       # LibTorch 1.13 (CPU)
  petsc-dev                          # PETSc 3.18 + Open MPI + hypre + MUMPS
  openmpi-bin libopenmpi-dev
  libhdf5-openmpi-dev                # the HDF5 flavour PETSc links
  libeigen3-dev libfftw3-dev
  nlohmann-json3-dev                 # JSON metadata (header-only)
  libvtk9-dev                        # VTK 9 (we use the XML I/O modules only)
  libplplot-dev plplot-driver-cairo  # PNG line plots and colour-mapped fields
  libgtest-dev libgmock-dev libbenchmark-dev
  libopenblas0-openmp                # the libblas.so.3 / liblapack.so.3 LibTorch calls (see below)
  python3-torch                      # Python torch 1.13: benchmark references (bench/reference) and TorchScript test fixtures only; never linked
  python3-h5py                       # reads Dataset files in bench/reference scripts (baselines); never linked
  gfortran                           # the Fortran module of the C API (optional: skipped without it)
  clang libclang-rt-14-dev           # libFuzzer + ASan/UBSan runtimes: the fuzz build (scripts/fuzz.sh, fuzz/README.md)
)

# LibTorch on Debian calls whatever libblas.so.3 / liblapack.so.3 the alternatives system
# selects. Without this the reference BLAS runs (~4 GFLOP/s for a float32 GEMM against
# ~150 with OpenBLAS here, docs/results-speed.md). The OpenMP build of OpenBLAS shares
# LibTorch's OpenMP pool (the pthread build would add its own threads on top of it), so it
# is selected explicitly even when another BLAS has a higher priority.
select_blas() {
  local multiarch dir name
  multiarch="$(gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)"
  dir="/usr/lib/$multiarch/openblas-openmp"
  for name in libblas.so.3 liblapack.so.3; do
    [ -e "$dir/$name" ] || continue
    if [ "$(readlink -f "/usr/lib/$multiarch/$name")" != "$dir/$name" ]; then
      echo "install-deps: selecting $dir/$name"
      $SUDO update-alternatives --set "$name-$multiarch" "$dir/$name" >/dev/null
    fi
  done
}

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
if [ ${#missing[@]} -eq 0 ]; then
  select_blas
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
select_blas
echo "install-deps: done"
