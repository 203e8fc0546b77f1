#!/usr/bin/python3
"""NCLaw's rollout metric between two Trajectory files (docs/nclaw.md, generalization tables).

    /usr/bin/python3 bench/nclaw/rollout_mse.py TRUTH.h5 ROLLOUT.h5 [--frames T] [--every 5]

The mean over frames every, 2 every, ... <= T of the position MSE (mean over particles and
coordinates) of ROLLOUT against TRUTH, both written by `physml simulate -store kinematics` (or
state) of the same scene; T defaults to the frames both files have. The same metric as
train::NCLawTask::rollout_mse (frames 1..T of a free rollout, every `every`-th). A file that stopped
early (e.g. `FILE.partial` of a rollout that blew up) is scored over the frames it has and says
so. A benchmark helper (h5py), not a dependency of the library.
"""
import argparse
import sys

import h5py
import numpy as np


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("truth")
    p.add_argument("rollout")
    p.add_argument("--frames", type=int, default=0, help="last frame scored (0: all frames both files have)")
    p.add_argument("--every", type=int, default=5, help="score every this-many-th frame (NCLaw: 5)")
    a = p.parse_args()
    if a.every < 1:
        print("rollout_mse: --every must be >= 1", file=sys.stderr)
        return 2
    try:
        xa = h5py.File(a.truth, "r")["frames/positions"]
        xb = h5py.File(a.rollout, "r")["frames/positions"]
    except (OSError, KeyError) as e:
        print(f"rollout_mse: cannot read /frames/positions: {e}", file=sys.stderr)
        return 1
    if xa.shape[1:] != xb.shape[1:]:
        print(f"rollout_mse: particle shapes differ: {xa.shape[1:]} vs {xb.shape[1:]}", file=sys.stderr)
        return 1
    def written(f, x):  # frames 0..n-1 written (a .partial file has /frames/done)
        done = f.get("frames/done")
        if done is None:
            return x.shape[0]
        d = np.asarray(done[:]) != 0
        return int(np.argmin(d)) if not d.all() else d.size

    na, nb = written(xa.file, xa), written(xb.file, xb)
    for name, n, x in ((a.truth, na, xa), (a.rollout, nb, xb)):
        if n < x.shape[0]:
            print(f"rollout_mse: '{name}' is incomplete: frames 0..{n - 1} of {x.shape[0]} written", file=sys.stderr)
    have = min(na, nb) - 1
    T = have if a.frames <= 0 else a.frames
    if T > have:
        print(f"rollout_mse: --frames {T} but the files have frames 0..{have} in common", file=sys.stderr)
        return 1
    frames = range(a.every, T + 1, a.every)
    if len(frames) == 0:
        print(f"rollout_mse: no frame to score (T = {T}, every = {a.every})", file=sys.stderr)
        return 1
    d = [np.mean((xa[k].astype(np.float64) - xb[k].astype(np.float64)) ** 2) for k in frames]
    if not np.all(np.isfinite(d)):
        print("rollout_mse: non-finite positions in the rollout", file=sys.stderr)
        return 1
    print(f"rollout MSE {np.mean(d):.4e} over frames {a.every}..{frames[-1]} every {a.every} ({len(d)} frames)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
