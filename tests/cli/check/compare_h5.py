#!/usr/bin/python3
"""Compare every numeric dataset of two HDF5 files (h5py).

compare_h5.py A.h5 B.h5 --same RTOL   exit 0 if both hold the same dataset names and shapes and
                                      every dataset has ||a - b|| / ||b|| <= RTOL (attributes,
                                      e.g. timestamps, are not compared)
Prints the largest relative difference; exit 1 when the check fails, 2 on bad input.
"""
import sys

import h5py
import numpy as np


def datasets(path):
    out = {}
    with h5py.File(path, "r") as f:
        def visit(name, obj):
            if isinstance(obj, h5py.Dataset) and obj.dtype.kind in "fiub":
                out[name] = np.asarray(obj, dtype=np.float64)
        f.visititems(visit)
    return out


def largest_difference(a, b, what="datasets"):
    """max over the tensors of ||a - b|| / ||b|| as (value, name); None (reason on stderr) when
    the two dicts of arrays have other names or shapes."""
    if sorted(a) != sorted(b):
        print(f"different {what}: {sorted(set(a) ^ set(b))}", file=sys.stderr)
        return None
    worst, name = -1.0, ""
    for k in a:
        if a[k].shape != b[k].shape:
            print(f"{k}: shape {a[k].shape} against {b[k].shape}", file=sys.stderr)
            return None
        d = np.linalg.norm(a[k] - b[k]) / max(np.linalg.norm(b[k]), 1e-30)
        if d > worst:
            worst, name = d, k
    return worst, name


def main(argv):
    if len(argv) != 5 or argv[3] != "--same":
        print(__doc__, file=sys.stderr)
        return 2
    a, b = datasets(argv[1]), datasets(argv[2])
    if not a:
        print("no numeric datasets", file=sys.stderr)
        return 1
    result = largest_difference(a, b)
    if result is None:
        return 1
    worst, name = result
    print(f"max relative difference {worst:.3e} ({name}, {len(a)} datasets)")
    return 0 if worst <= float(argv[4]) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
