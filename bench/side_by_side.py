#!/usr/bin/python3
"""Side-by-side benchmark of issue 14: PhysML against the Python reference of this repository
(bench/reference/reference.py, Debian's python3-torch), in one run, printing the ratios.

    PHYSML_JOBS=1 ./scripts/build.sh --target bench_blas bench_operators bench_diffeq
    /usr/bin/python3 bench/side_by_side.py [--build build] [--threads 1] [--rounds 2] [--quick]

Each round runs the C++ driver and then the Python reference for one group (operators,
ODE, SDE); the best time over rounds (and over the repetitions inside each driver) is kept.
The C++ drivers are the existing benchmarks: bench_operators (Google Benchmark, JSON output;
train step = forward + backward + Adam step, batch 8) and bench_diffeq --side-by-side. The
GEMM rate of the same machine and threads comes from bench_blas, so MgNO's GFLOP/s is read
against it in the same run. Ratio = Python time / PhysML time (> 1: PhysML faster).
"""
import argparse
import json
import os
import re
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def run(cmd, env=None):
    e = dict(os.environ)
    if env:
        e.update(env)
    p = subprocess.run(cmd, env=e, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if p.returncode != 0:
        sys.exit(f"side_by_side: {' '.join(cmd)} failed ({p.returncode}):\n{p.stderr[-2000:]}")
    return p.stdout


def best(d, key, value):
    d[key] = min(d.get(key, float("inf")), value)


def machine():
    model = "?"
    for line in run(["lscpu"]).splitlines():
        if line.startswith("Model name"):
            model = line.split(":", 1)[1].strip()
    return model, run(["uptime"]).strip()


def cpp_operators(build, threads, reps, sizes, out):
    exe = os.path.join(build, "bench", "operators", "bench_operators")
    js = json.loads(run([exe, "--benchmark_format=json", f"--benchmark_repetitions={reps}",
                         "--benchmark_filter=/(" + "|".join(sizes) + ")$"],
                        env={"PHYSML_THREADS": str(threads)}))
    for b in js["benchmarks"]:
        if b.get("run_type") != "iteration":
            continue
        m = re.match(r"(MgNO|FNO)_(TrainStep|Inference)/(\d+)", b["name"])
        if not m:
            continue
        net, kind, n = m.group(1).lower(), "train" if m.group(2) == "TrainStep" else "infer", m.group(3)
        assert b["time_unit"] == "ms"
        best(out, f"{net}_{kind}_{n}_ms", b["real_time"])
        out[f"{net}_params"] = int(b["params"])
        out[f"{net}_{kind}_{n}_gflops"] = max(out.get(f"{net}_{kind}_{n}_gflops", 0), b["GFLOP/s"])


def cpp_diffeq(build, threads, reps, out):
    exe = os.path.join(build, "bench", "diffeq", "bench_diffeq")
    for line in run([exe, "--side-by-side", str(reps), "-threads", str(threads)]).splitlines():
        if line.startswith("SBS "):
            _, k, v = line.split()
            if k.endswith("_ms"):
                best(out, k, float(v))
            else:
                out[k] = int(float(v))


def python_ref(group, threads, reps, sizes, out):
    js = json.loads(run(["/usr/bin/python3", os.path.join(HERE, "reference", "reference.py"), "--only", group,
                         "--threads", str(threads), "--reps", str(reps), "--sizes", ",".join(sizes)]))
    for k, v in js.items():
        if k.endswith("_ms"):
            best(out, k, v)
        elif isinstance(v, (int, float)):
            out[k] = v


def gemm(build, threads):
    txt = run([os.path.join(build, "bench", "blas", "bench_blas"), "-bench_dtypes", "float32"])
    for line in txt.splitlines():
        if line.startswith("| float32"):
            cells = [c.strip() for c in line.strip("|").split("|")]
            return float(cells[1]), float(cells[2])
    return float("nan"), float("nan")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--reps", type=int, default=5, help="repetitions inside each ODE/SDE driver")
    ap.add_argument("--op-reps", type=int, default=3, help="repetitions of each operator row")
    ap.add_argument("--quick", action="store_true", help="64^2 only, 1 round")
    ap.add_argument("--skip", default="", help="comma list of groups to skip: operators,ode,sde")
    a = ap.parse_args()
    sizes = ["64"] if a.quick else ["64", "128"]
    rounds = 1 if a.quick else a.rounds
    skip = set(filter(None, a.skip.split(",")))
    model, load0 = machine()
    t0 = time.time()
    cpp, py = {}, {}
    g1, g2 = gemm(a.build, a.threads)
    for r in range(rounds):
        if "operators" not in skip:
            cpp_operators(a.build, a.threads, a.op_reps, sizes, cpp)
            python_ref("operators", a.threads, a.op_reps, sizes, py)
        if "ode" not in skip:
            cpp_diffeq(a.build, a.threads, a.reps, cpp)
            python_ref("ode", a.threads, a.reps, sizes, py)
        if "sde" not in skip and "ode" in skip:  # bench_diffeq --side-by-side runs the SDE too
            cpp_diffeq(a.build, a.threads, a.reps, cpp)
        if "sde" not in skip:
            python_ref("sde", a.threads, a.reps, sizes, py)
    load1 = run(["uptime"]).strip()

    print(f"# Side-by-side benchmark (issue 14): PhysML vs the Python reference in bench/reference\n")
    print(f"CPU: {model}; threads: {a.threads}; rounds: {rounds}; {time.time() - t0:.0f} s")
    print(f"load before: {load0}\nload after:  {load1}")
    print(f"GEMM 2048^2 float32 (bench_blas): {g1:.1f} GFLOP/s at 1 thread, {g2:.1f} at 2 threads\n")
    print("| hot path | Python reference | PhysML | Python / PhysML |")
    print("|---|---|---|---|")

    def row(name, key, pykey=None, note_cpp="", note_py=""):
        pykey = pykey or key
        if key not in cpp or pykey not in py:
            return
        print(f"| {name} | {py[pykey]:.1f} ms{note_py} | {cpp[key]:.1f} ms{note_cpp} | {py[pykey] / cpp[key]:.2f}x |")

    for net, label in (("fno", "FNO2d"), ("mgno", "MgNO")):
        if f"{net}_params" in cpp:
            print(f"| {label} params | {py.get(net + '_params', 0):,} | {cpp[net + '_params']:,} | |")
        for kind in ("train", "infer"):
            for n in sizes:
                k = f"{net}_{kind}_{n}_ms"
                gf = cpp.get(f"{net}_{kind}_{n}_gflops")
                row(f"{label} {'train step' if kind == 'train' else 'inference'}, batch 8, {n}^2", k,
                    note_cpp=f" ({gf:.1f} GFLOP/s)" if gf else "")
    if "ode_params" in cpp:
        print(f"| ODE toy params | {py.get('ode_params', 0)} | {cpp['ode_params']} | |")
    for tag in ("1e-3", "1e-6"):
        pk = f"ode_{tag}_ms"
        if pk not in py:
            continue
        nfe = f" ({py[f'ode_{tag}_nfe']} NFE)"
        for g in ("backprop", "adjoint", "checkpoint"):
            for sc in ("per_element", "shared"):
                k = f"ode_{g}_{sc}_{tag}"
                if k + "_ms" not in cpp:
                    continue
                extra = f" ({cpp[k + '_nfe']}" + (f" + {cpp[k + '_bnfe']} bwd" if g != "backprop" else "") + " NFE)"
                row(f"ODE toy dopri5 fwd+bwd, rtol {tag}, PhysML {g}, {sc} steps (Python: backprop, shared)",
                    k + "_ms", pk, note_cpp=extra, note_py=nfe)
    for tag in ("1e-3", "1e-6"):
        row(f"ODE toy floor: the same NFE of bare MLP evaluations + one backward, rtol {tag}", f"ode_floor_{tag}_ms")
    if "sde_params" in cpp:
        print(f"| SDE params | {py.get('sde_params', 0)} | {cpp['sde_params']} | |")
    row("neural SDE Euler, 100 steps, fwd+bwd", "sde_euler_ms")
    if "mgno_train_64_gflops" in cpp:
        print(f"\nMgNO GFLOP/s against the GEMM rate at {a.threads} thread(s): " + ", ".join(
            f"{k.replace('_gflops', '')} {v / (g1 if a.threads == 1 else g2):.0%}"
            for k, v in sorted(cpp.items()) if k.startswith("mgno") and k.endswith("gflops")))
    print("\nraw: " + json.dumps({"physml": cpp, "python": py}))


if __name__ == "__main__":
    main()
