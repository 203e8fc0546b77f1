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
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps: done"
