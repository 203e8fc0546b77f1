"""Test fixtures of the embedding layer, made by Debian's python3-torch at test time (ctest
fixture embed.fixtures): TorchScript models and the outputs Python computes for them, so the
C++ tests check that LibTorch loads the files and gives the same numbers.

    /usr/bin/python3 make_fixtures.py OUTDIR

Writes into OUTDIR:
  linear.pt      Linear(3 -> 2) with W[i, j] = 0.1 (i + 1) - 0.05 j, b[i] = 0.01 (i + 1)
                 (the C, Fortran and C++ tests recompute W x + b themselves)
  mlp.pt         3 -> 16 -> tanh -> 2, seed 0 (inference and online training)
  multi.pt       two inputs, two outputs: (fc(a) + b, tanh(a).sum(1, keepdim))
  reference.pt   a module whose buffers are the inputs and Python's outputs:
                 mlp_x [7, 3] f32, mlp_y = mlp(mlp_x), mlp_y64 = mlp.double()(mlp_x.double()),
                 multi_a [4, 3], multi_b [4, 2], multi_y0, multi_y1
  notmodel.zip   a zip archive that is not TorchScript (a file of another kind)
"""
import os
import sys
import zipfile

import torch
from typing import Tuple


class MLP(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = torch.nn.Linear(3, 16)
        self.fc2 = torch.nn.Linear(16, 2)

    def forward(self, x):
        return self.fc2(torch.tanh(self.fc1(x)))


class Multi(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(3, 2)

    def forward(self, a, b) -> Tuple[torch.Tensor, torch.Tensor]:
        return self.fc(a) + b, torch.tanh(a).sum(1, keepdim=True)


class Holder(torch.nn.Module):
    def __init__(self, tensors):
        super().__init__()
        for name, t in tensors.items():
            self.register_buffer(name, t)

    def forward(self):
        return 0


def main(out):
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(0)

    linear = torch.nn.Linear(3, 2)
    with torch.no_grad():
        for i in range(2):
            linear.bias[i] = 0.01 * (i + 1)
            for j in range(3):
                linear.weight[i, j] = 0.1 * (i + 1) - 0.05 * j
    torch.jit.script(linear).save(os.path.join(out, "linear.pt"))

    mlp = MLP()
    torch.jit.script(mlp).save(os.path.join(out, "mlp.pt"))
    multi = Multi()
    torch.jit.script(multi).save(os.path.join(out, "multi.pt"))

    with torch.no_grad():
        x = torch.randn(7, 3)
        a, b = torch.randn(4, 3), torch.randn(4, 2)
        y0, y1 = multi(a, b)
        ref = {
            "mlp_x": x,
            "mlp_y": mlp(x),
            "mlp_y64": MLP.forward(mlp.double(), x.double()),
            "multi_a": a,
            "multi_b": b,
            "multi_y0": y0,
            "multi_y1": y1,
        }
    torch.jit.script(Holder(ref)).save(os.path.join(out, "reference.pt"))

    with zipfile.ZipFile(os.path.join(out, "notmodel.zip"), "w") as z:
        z.writestr("readme.txt", "not a TorchScript model\n")
    print("embed fixtures written to", out, "with torch", torch.__version__)


if __name__ == "__main__":
    main(sys.argv[1])
