#!/usr/bin/python3
"""Python reference of the issue-14 side-by-side benchmark (bench/side_by_side.py).

A benchmark fixture only, never a dependency of the library: the same architectures and
problems as the C++ drivers (bench/operators, bench/diffeq --side-by-side), written here in
plain PyTorch (Debian's python3-torch, installed by scripts/install-deps.sh):

* FNO2d as in the legacy neuraloperator `fourier_2d.py` (channels-last Linear lifting and
  projection, rfft2 + einsum spectral product on two corner blocks, 1x1 Conv2d bypass, GELU),
  modes 12, width 32, 4 layers, no domain padding (as PhysML's FNOOptions default);
* MgNO_DC as in the official MgNO `models.py` (6 levels, 24 channels, 4 layers, smoothing
  [[1,0]] x 5 + [[2,0]], zero padding), as in the official MgNO code (Liu, Xu, Zhang, ICLR 2024);
* the neural ODE toy with a plain dopri5 loop (one step size for the batch, RMS norm over the
  batch, Hairer's initial step, I controller, Shampine's dense output; torchdiffeq's
  semantics), gradients by backpropagation;
* the neural SDE with an Euler-Maruyama loop (dW = sqrt(dt) randn per step).

Prints one JSON object: {"key": value, ...} (times in ms, best of the repetitions).
Usage: /usr/bin/python3 bench/reference/reference.py [--threads 1] [--reps 5]
         [--only operators|ode|sde] [--sizes 64,128]
"""
import argparse
import json
import math
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


def count_params(m):
    # Real numbers, a complex parameter counting twice (as PhysML stores it: [..., 2] reals).
    return sum(p.numel() * (2 if p.is_complex() else 1) for p in m.parameters())


# ----------------------------------------------------------------------------- FNO2d (legacy)
class SpectralConv2d(nn.Module):
    def __init__(self, cin, cout, m1, m2):
        super().__init__()
        self.m1, self.m2, self.cout = m1, m2, cout
        scale = 1.0 / (cin * cout)
        self.w1 = nn.Parameter(scale * torch.rand(cin, cout, m1, m2, dtype=torch.cfloat))
        self.w2 = nn.Parameter(scale * torch.rand(cin, cout, m1, m2, dtype=torch.cfloat))

    def forward(self, x):
        b, _, h, w = x.shape
        x_ft = torch.fft.rfft2(x)
        out = torch.zeros(b, self.cout, h, w // 2 + 1, dtype=torch.cfloat)
        m1, m2 = self.m1, self.m2
        out[:, :, :m1, :m2] = torch.einsum("bixy,ioxy->boxy", x_ft[:, :, :m1, :m2], self.w1)
        out[:, :, -m1:, :m2] = torch.einsum("bixy,ioxy->boxy", x_ft[:, :, -m1:, :m2], self.w2)
        return torch.fft.irfft2(out, s=(h, w))


class FNO2d(nn.Module):
    def __init__(self, modes=12, width=32, layers=4, proj=128):
        super().__init__()
        self.fc0 = nn.Linear(3, width)  # (a, x, y)
        self.convs = nn.ModuleList([SpectralConv2d(width, width, modes, modes) for _ in range(layers)])
        self.ws = nn.ModuleList([nn.Conv2d(width, width, 1) for _ in range(layers)])
        self.fc1 = nn.Linear(width, proj)
        self.fc2 = nn.Linear(proj, 1)

    def forward(self, a):  # a: [b, 1, h, w] (PhysML's layout); the legacy model works channels-last
        b, _, h, w = a.shape
        gx = torch.linspace(0, 1, h).view(1, h, 1, 1).expand(b, h, w, 1)
        gy = torch.linspace(0, 1, w).view(1, 1, w, 1).expand(b, h, w, 1)
        x = torch.cat((a.permute(0, 2, 3, 1), gx, gy), dim=-1)
        x = self.fc0(x).permute(0, 3, 1, 2)
        for k, (c, wk) in enumerate(zip(self.convs, self.ws)):
            x = c(x) + wk(x)
            if k + 1 < len(self.convs):
                x = F.gelu(x)
        x = x.permute(0, 2, 3, 1)
        return self.fc2(F.gelu(self.fc1(x))).permute(0, 3, 1, 2)


# ----------------------------------------------------------------------------- MgNO_DC (official layout)
class VCycle(nn.Module):
    """One multi-channel V-cycle (MgConv_DC): f [b, cf, h, w] -> u [b, cu, h, w]."""

    def __init__(self, cu, cf, smoothing):
        super().__init__()
        self.smoothing = smoothing
        conv = lambda i, o: nn.Conv2d(i, o, 3, 1, 1, bias=False)
        L = len(smoothing)
        self.A = nn.ModuleList()  # per level, per pre-smoothing step (level 0: first step has no A)
        self.S = nn.ModuleList()
        for l, (pre, _) in enumerate(smoothing):
            self.A.append(nn.ModuleList([conv(cu, cf) for s in range(pre) if not (l == 0 and s == 0)]))
            self.S.append(nn.ModuleList([conv(cf, cu) for _ in range(pre)]))
        self.R = nn.ModuleList([nn.Conv2d(cf, cf, 3, 2, 1, bias=False) for _ in range(L - 1)])
        self.Pi = nn.ModuleList([nn.Conv2d(cu, cu, 3, 2, 1, bias=False) for _ in range(L - 1)])
        self.RT = nn.ModuleList([nn.ConvTranspose2d(cu, cu, 4, 2, 1, bias=False) for _ in range(L - 1)])

    def forward(self, f):
        L = len(self.smoothing)
        fs, us = [f], [self.S[0][0](f)]
        for s in range(1, self.smoothing[0][0]):
            us[0] = us[0] + self.S[0][s](f - self.A[0][s - 1](us[0]))
        for l in range(1, L):
            fl, ul = self.R[l - 1](fs[-1]), self.Pi[l - 1](us[-1])
            for s in range(self.smoothing[l][0]):
                ul = ul + self.S[l][s](fl - self.A[l][s](ul))
            fs.append(fl)
            us.append(ul)
        for j in range(L - 2, -1, -1):  # no post-smoothing in the shipped configuration
            us[j] = us[j] + self.RT[j](us[j + 1])
        return us[0]


class MgNO(nn.Module):
    def __init__(self, layers=4, cu=24, cf=1, levels=6):
        super().__init__()
        smoothing = [[1, 0]] * (levels - 1) + [[2, 0]]
        self.cycles = nn.ModuleList([VCycle(cu, cf if k == 0 else cu, smoothing) for k in range(layers)])
        self.skips = nn.ModuleList([nn.Conv2d(cf if k == 0 else cu, cu, 1) for k in range(layers)])
        self.head = nn.Conv2d(cu, 1, 1, bias=False)

    def forward(self, u):
        for c, s in zip(self.cycles, self.skips):
            u = F.gelu(c(u) + s(u))
        return self.head(u)


def bench_operator(name, net, n, reps, out):
    torch.manual_seed(0)
    x, y = torch.randn(8, 1, n, n), torch.randn(8, 1, n, n)
    opt = torch.optim.Adam(net.parameters(), lr=1e-4)

    def train():
        opt.zero_grad()
        loss = (net(x) - y).pow(2).mean()
        loss.backward()
        opt.step()

    def infer():
        with torch.no_grad():
            net(x)

    for kind, fn in (("train", train), ("infer", infer)):
        fn()  # warm-up
        best = math.inf
        for _ in range(reps):
            t0 = time.perf_counter()
            fn()
            best = min(best, time.perf_counter() - t0)
        out[f"{name}_{kind}_{n}_ms"] = 1e3 * best
    out[f"{name}_params"] = count_params(net)


# ----------------------------------------------------------------------------- neural ODE, plain dopri5
C = [0.0, 1 / 5, 3 / 10, 4 / 5, 8 / 9, 1.0, 1.0]
A = [[], [1 / 5], [3 / 40, 9 / 40], [44 / 45, -56 / 15, 32 / 9],
     [19372 / 6561, -25360 / 2187, 64448 / 6561, -212 / 729],
     [9017 / 3168, -355 / 33, 46732 / 5247, 49 / 176, -5103 / 18656],
     [35 / 384, 0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84]]
BHAT = [5179 / 57600, 0, 7571 / 16695, 393 / 640, -92097 / 339200, 187 / 2100, 1 / 40]
E = [b - bh for b, bh in zip(A[6] + [0.0], BHAT)]
D = [-12715105075 / 11282082432, 0, 87487479700 / 32700410799, -10690763975 / 1880347072,
     701980252875 / 199316789632, -1453857185 / 822651844, 69997945 / 29380423]


def rms(x):
    return x.pow(2).mean().sqrt()


def dopri5(f, y0, ts, rtol, atol, stats):
    """y at the times ts (Python floats) of dy/dt = f(y); one step size for the whole batch."""
    t, y, k1 = ts[0], y0, f(y0)
    nfe = 1
    with torch.no_grad():  # Hairer's initial step, norms over the batch
        scale = atol + rtol * y.abs()
        d0, d1 = rms(y / scale).item(), rms(k1 / scale).item()
        h0 = 1e-6 if d0 < 1e-5 or d1 < 1e-5 else 0.01 * d0 / d1
        f1 = f(y + h0 * k1)
        nfe += 1
        d2 = rms((f1 - k1) / scale).item() / h0
        dm = max(d1, d2)
        h1 = max(1e-6, h0 * 1e-3) if dm <= 1e-15 else (0.01 / dm) ** (1 / 6)
        h = min(100 * h0, h1)
    out = [y0]
    i = 1
    t_end = ts[-1]
    steps = 0
    while i < len(ts):
        last = t + h >= t_end
        hh = t_end - t if last else h
        k = [k1]
        for s in range(1, 7):
            acc = y
            for j, a in enumerate(A[s]):
                if a != 0.0:
                    acc = acc + (hh * a) * k[j]
            if s == 6:
                y_new = acc
            k.append(f(acc))
            nfe += 1
        steps += 1
        with torch.no_grad():
            err = sum((hh * e) * kk for e, kk in zip(E, k) if e != 0.0)
            ratio = rms(err / (atol + rtol * torch.maximum(y.abs(), y_new.abs()))).item()
        t_new = t_end if last else t + hh
        if ratio <= 1.0:
            corr = None
            while i < len(ts) and ts[i] <= t_new:  # dense output: Hermite + quartic correction
                if corr is None:
                    corr = sum((hh * d) * kk for d, kk in zip(D, k) if d != 0.0)
                th = (ts[i] - t) / hh
                th2, th3 = th * th, th * th * th
                out.append((2 * th3 - 3 * th2 + 1) * y + ((th3 - 2 * th2 + th) * hh) * k1 +
                           (-2 * th3 + 3 * th2) * y_new + ((th3 - th2) * hh) * k[6] +
                           (th2 * (1 - th) ** 2) * corr)
                i += 1
            t, y, k1 = t_new, y_new, k[6]
        fac = 0.9 * max(ratio, 1e-10) ** (-1 / 5)
        h = hh * (min(10.0, max(0.2, fac)) if ratio <= 1.0 else min(0.9, max(0.2, fac)))
    stats["nfe"], stats["steps"] = nfe, steps
    return torch.stack(out)


def bench_ode(reps, out):
    torch.manual_seed(0)
    l1, l2 = nn.Linear(2, 50), nn.Linear(50, 2)
    f = lambda y: l2(torch.tanh(l1(y.pow(3))))
    y0 = torch.randn(256, 2) * 0.5 + torch.tensor([2.0, 0.0])
    ts = torch.linspace(0, 10, 20, dtype=torch.float64).tolist()
    out["ode_params"] = count_params(l1) + count_params(l2)
    for rtol, tag in ((1e-3, "1e-3"), (1e-6, "1e-6")):
        best, best_fwd, st = math.inf, math.inf, {}
        for _ in range(reps + 1):  # first run = warm-up
            for p in list(l1.parameters()) + list(l2.parameters()):
                p.grad = None
            t0 = time.perf_counter()
            ys = dopri5(f, y0, ts, rtol, rtol * 1e-2, st)
            loss = ys[-1].pow(2).mean()
            best_fwd = min(best_fwd, time.perf_counter() - t0)  # forward with the graph recorded
            loss.backward()
            best = min(best, time.perf_counter() - t0)
        floor = math.inf  # the same number of bare field evaluations + one backward, no solver
        for _ in range(reps):
            for p in list(l1.parameters()) + list(l2.parameters()):
                p.grad = None
            t0 = time.perf_counter()
            acc = None
            for e in range(st["nfe"]):
                fe = f(y0 + 1e-3 * e)
                acc = fe if acc is None else acc + fe
            acc.pow(2).mean().backward()
            floor = min(floor, time.perf_counter() - t0)
        out[f"ode_floor_{tag}_ms"] = 1e3 * floor
        out[f"ode_{tag}_ms"], out[f"ode_{tag}_fwd_ms"] = 1e3 * best, 1e3 * best_fwd
        out[f"ode_{tag}_nfe"], out[f"ode_{tag}_steps"] = st["nfe"], st["steps"]


# ----------------------------------------------------------------------------- neural SDE, Euler
def bench_sde(reps, out):
    torch.manual_seed(0)
    d1, d2 = nn.Linear(4, 64), nn.Linear(64, 4)
    g1, g2 = nn.Linear(4, 64), nn.Linear(64, 4)
    drift = lambda y: d2(torch.tanh(d1(y)))
    diffusion = lambda y: 0.3 * torch.sigmoid(g2(torch.tanh(g1(y))))
    x0 = torch.randn(256, 4)
    out["sde_params"] = sum(count_params(m) for m in (d1, d2, g1, g2))
    dt, best = 0.01, math.inf
    for _ in range(reps + 1):
        for m in (d1, d2, g1, g2):
            for p in m.parameters():
                p.grad = None
        t0 = time.perf_counter()
        y, ys = x0, [x0]
        for k in range(100):
            dw = torch.randn(256, 4) * math.sqrt(dt)
            y = y + drift(y) * dt + diffusion(y) * dw
            if (k + 1) % 10 == 0:
                ys.append(y)
        torch.stack(ys)[-1].pow(2).mean().backward()
        best = min(best, time.perf_counter() - t0)
    out["sde_euler_ms"] = 1e3 * best


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--op-reps", type=int, default=3)
    ap.add_argument("--only", choices=["operators", "ode", "sde"], default=None)
    ap.add_argument("--sizes", default="64,128")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    out = {"threads": torch.get_num_threads(), "torch": torch.__version__}
    if a.only in (None, "operators"):
        for n in [int(s) for s in a.sizes.split(",")]:
            torch.manual_seed(0)
            bench_operator("fno", FNO2d(), n, a.op_reps, out)
            torch.manual_seed(0)
            bench_operator("mgno", MgNO(), n, a.op_reps, out)
    if a.only in (None, "ode"):
        bench_ode(a.reps, out)
    if a.only in (None, "sde"):
        bench_sde(a.reps, out)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
