"""torchdiffeq's side of `cargo xtask bench`'s Neural ODE row (ltc-bench/src/ode.rs is ours).

Dopri5 on an MLP vector field on y³ (torchdiffeq's ode_demo architecture, 2 → 50 → tanh → 2),
with weights and a batch of 16 starting points given by formulas both sides share, integrated
over t = linspace(0, 5, 50) at rtol 1e-5 / atol 1e-7, in float32 on both sides. (torchdiffeq's
defaults, 1e-7 / 1e-9, sit at float32's rounding: there its error estimate is rounding noise and
the step count depends on summation order — 92 evaluations in float32 against 68 in float64 on
this problem.) Reports the
forward NFE and time (no grad), the time of forward + backward through the solver (odeint), and
the adjoint's (odeint_adjoint with the seminorm, as ours) backward NFE and time. One thread.

Usage: python bench_torchdiffeq.py [--iters N]   → one line `RESULT {json}`.
"""
import argparse
import json
import math
import time

import torch
from torchdiffeq import odeint, odeint_adjoint

torch.set_num_threads(1)
BATCH, HIDDEN, POINTS, T_END = 16, 50, 50, 5.0


def weights():
    w1 = [[0.5 * math.sin(1 + 3 * i + 7 * j) for j in range(HIDDEN)] for i in range(2)]
    b1 = [0.1 * math.cos(j) for j in range(HIDDEN)]
    w2 = [[0.1 * math.cos(2 + 5 * j + 11 * k) for k in range(2)] for j in range(HIDDEN)]
    return w1, b1, w2


def starts():
    out = []
    for b in range(BATCH):
        r = 0.5 + b / 32
        a = 2 * math.pi * b / BATCH
        out.append([2 * r * math.cos(a), 2 * r * math.sin(a)])
    return out


class Field(torch.nn.Module):
    def __init__(self):
        super().__init__()
        w1, b1, w2 = weights()
        self.w1 = torch.nn.Parameter(torch.tensor(w1))  # [2, hidden]
        self.b1 = torch.nn.Parameter(torch.tensor(b1))
        self.w2 = torch.nn.Parameter(torch.tensor(w2))  # [hidden, 2]
        self.nfe = 0

    def forward(self, t, y):
        self.nfe += 1
        return torch.tanh((y ** 3) @ self.w1 + self.b1) @ self.w2


def median(xs):
    xs = sorted(xs)
    return xs[len(xs) // 2]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--iters", type=int, default=5)
    args = p.parse_args()
    f = Field()
    y0 = torch.tensor(starts())
    t = torch.linspace(0, T_END, POINTS)
    opts = dict(rtol=1e-5, atol=1e-7, method="dopri5")

    fwd, nfe_fwd = [], 0
    for _ in range(args.iters + 1):
        f.nfe = 0
        s = time.perf_counter()
        with torch.no_grad():
            odeint(f, y0, t, **opts)
        fwd.append(time.perf_counter() - s)
        nfe_fwd = f.nfe
    train = []
    for _ in range(args.iters + 1):
        s = time.perf_counter()
        y = odeint(f, y0, t, **opts)
        (y ** 2).sum().backward()
        train.append(time.perf_counter() - s)
        f.zero_grad()
    adj, nfe_adj_bwd = [], 0
    for _ in range(args.iters + 1):
        s = time.perf_counter()
        f.nfe = 0
        y = odeint_adjoint(f, y0, t, adjoint_params=tuple(f.parameters()),
                           adjoint_options=dict(norm="seminorm"), **opts)
        forward_nfe = f.nfe
        (y ** 2).sum().backward()
        adj.append(time.perf_counter() - s)
        nfe_adj_bwd = f.nfe - forward_nfe
        f.zero_grad()
    print("RESULT " + json.dumps({
        "nfe_forward": nfe_fwd,
        "fwd_ms": 1e3 * median(fwd[1:]),
        "backprop_ms": 1e3 * median(train[1:]),
        "adjoint_ms": 1e3 * median(adj[1:]),
        "nfe_adjoint_backward": nfe_adj_bwd,
        "torch": torch.__version__,
    }))


if __name__ == "__main__":
    main()
