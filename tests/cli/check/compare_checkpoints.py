#!/usr/bin/python3
"""Compare the parameters of two PhysML checkpoints (HDF5 group "parameters", h5py).

compare_checkpoints.py A.h5 B.h5 --same RTOL    exit 0 if every tensor has ||a - b|| / ||b|| <= RTOL
compare_checkpoints.py A.h5 B.h5 --differ MIN   exit 0 if some tensor has ||a - b|| / ||b|| >= MIN
Prints the largest relative difference; exit 1 when the check fails, 2 on bad input.
"""
import sys

import h5py
import numpy as np

from compare_h5 import largest_difference


def parameters(path):
    with h5py.File(path, "r") as f:
        if "parameters" not in f:
            sys.exit(f"{path}: no 'parameters' group (not a PhysML checkpoint?)")
        return {k: np.asarray(v, dtype=np.float64) for k, v in f["parameters"].items()}


def main(argv):
    if len(argv) != 5 or argv[3] not in ("--same", "--differ"):
        print(__doc__, file=sys.stderr)
        return 2
    a, b = parameters(argv[1]), parameters(argv[2])
    result = largest_difference(a, b, "parameter names")
    if result is None:
        return 1
    worst, name = result
    limit = float(argv[4])
    print(f"max relative difference {worst:.3e} ({name}, {len(a)} tensors)")
    ok = worst <= limit if argv[3] == "--same" else worst >= limit
    if not ok:
        print(f"expected {'at most' if argv[3] == '--same' else 'at least'} {limit:g}", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
