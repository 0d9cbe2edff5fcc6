#!/usr/bin/env python3
"""ncps's "first steps" task with ncps itself, for comparison with `cargo run --example sine`.

    python tools/ncps_sine.py [--seeds 0 1 2 ...] [--steps 400]

LTC on AutoNCP(16, 1), inputs [sin t, cos t], target sin 2t over 48 points of [0, 3π];
Adam(lr 0.01), MSE, gradient norm clipped at 1 (PyTorch Lightning's gradient_clip_val=1,
as in ncps's quickstart), one optimiser step per epoch. Prints the final MSE per seed.
"""
import argparse

import numpy as np
import torch
from ncps.torch import LTC
from ncps.wirings import AutoNCP


def load_init(model, path):
    """Parameters from `cargo run -p ltc-bench --example sine_check` (ncps names, wiring)."""
    import json

    d = json.load(open(path))
    with torch.no_grad():
        for name, p in model.named_parameters():
            p.copy_(torch.tensor(d["params"][name], dtype=torch.float32).reshape(p.shape))
    return d


def run(seed, steps, init=None, every=0):
    torch.manual_seed(seed)
    n = 48
    t = np.linspace(0, 3 * np.pi, n)
    x = torch.tensor(np.stack([np.sin(t), np.cos(t)], 1)[None], dtype=torch.float32)
    y = torch.tensor(np.sin(2 * t).reshape(1, n, 1), dtype=torch.float32)
    model = LTC(2, AutoNCP(16, 1), batch_first=True)
    if init:
        load_init(model, init)
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    for step in range(steps):
        opt.zero_grad()
        loss = torch.nn.functional.mse_loss(model(x)[0], y)
        if every and step % every == 0:
            print(f"step {step}: loss {loss.item():.4e}", flush=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
    with torch.no_grad():
        return torch.nn.functional.mse_loss(model(x)[0], y).item()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, nargs="+", default=list(range(10)))
    ap.add_argument("--steps", type=int, default=400)
    ap.add_argument("--init", help="JSON of initial parameters (sine_check example)")
    ap.add_argument("--every", type=int, default=0, help="print the loss every N steps")
    args = ap.parse_args()
    torch.set_num_threads(1)
    results = []
    for seed in args.seeds:
        mse = run(seed, args.steps, args.init, args.every)
        results.append(mse)
        print(f"seed {seed}: final MSE {mse:.3e}", flush=True)
    print(f"median {np.median(results):.3e}, min {min(results):.3e}, max {max(results):.3e}, "
          f"≤ 4e-4 in {sum(r <= 4e-4 for r in results)}/{len(results)}")


if __name__ == "__main__":
    main()
