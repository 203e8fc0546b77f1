#!/usr/bin/python3
"""Baselines for the Burgers benchmark (u0 -> u(., T), periodic on [0, 1)), computed from a
PhysML Dataset file (`physml generate burgers`): what an operator has to beat.

  conserved mean  u(., T) = mean(u0)   (the mean is conserved; 1.0 when u0 has zero mean)
  heat equation   u(., T) = exp(T nu d_xx) u0, the exact solution without the nonlinearity

Usage: /usr/bin/python3 bench/reference/burgers_baselines.py FILE.h5 [-split test] [-nu 0.1] [-T 1]
Prints the mean, standard deviation and maximum over samples of the relative L2 error, the
metric of physml eval (per sample ||pred - u|| / ||u|| over the stored grid points).
"""
import argparse

import h5py
import numpy as np


def relative_l2(pred, truth):
    return np.linalg.norm(pred - truth, axis=-1) / np.linalg.norm(truth, axis=-1)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("file")
    p.add_argument("-split", default="test")
    p.add_argument("-nu", type=float, default=0.1)
    p.add_argument("-T", type=float, default=1.0)
    a = p.parse_args()
    with h5py.File(a.file, "r") as f:
        if a.split not in f:
            raise SystemExit(f"{a.file} has no split '{a.split}' (it has {', '.join(f.keys())})")
        u0 = np.asarray(f[a.split]["inputs"], dtype=np.float64).reshape(-1, f[a.split]["inputs"].shape[-1])
        u = np.asarray(f[a.split]["outputs"], dtype=np.float64).reshape(-1, f[a.split]["outputs"].shape[-1])
    n = u0.shape[-1]
    k = np.fft.rfftfreq(n, d=1.0 / n)
    heat = np.fft.irfft(np.fft.rfft(u0, axis=-1) * np.exp(-4 * np.pi**2 * a.nu * a.T * k**2), n=n, axis=-1)
    mean = np.repeat(u0.mean(axis=-1, keepdims=True), n, axis=-1)
    print(f"{a.file}, split '{a.split}': {u0.shape[0]} samples at {n} points, nu = {a.nu}, T = {a.T}")
    print(f"{'baseline':<16} {'mean':>10} {'std':>10} {'max':>10}")
    for name, pred in (("conserved mean", mean), ("heat equation", heat)):
        e = relative_l2(pred, u)
        print(f"{name:<16} {e.mean():10.4e} {e.std():10.4e} {e.max():10.4e}")


if __name__ == "__main__":
    main()
