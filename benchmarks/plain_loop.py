"""The floor: the seed's GAN as a plain PyTorch loop, no Lightning, no logging (one whole process).

python benchmarks/plain_loop.py --updates 6000 --accelerator cpu [--lean]

--lean is the second floor: the same loop with the fused Adam (one kernel per step), as curvegan's. Both score
the D step's fakes again, through the updated D, for the G step.
"""

from __future__ import annotations

import argparse
import json
import time

import torch
from torch import nn


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--updates", type=int, default=6000)
    parser.add_argument("--accelerator", choices=["cpu", "gpu"], default="cpu")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=0, help="torch intra-op threads; 0: torch's default")
    parser.add_argument("--lean", action="store_true", help="Adam's fused kernel, as curvegan's")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device("cuda" if args.accelerator == "gpu" else "cpu")
    torch.manual_seed(args.seed)

    latent, points, batch = 10, 16, 32
    x = torch.linspace(-1, 1, points, device=device)
    G = nn.Sequential(nn.Linear(latent, 32), nn.ReLU(), nn.Linear(32, points)).to(device)
    D = nn.Sequential(nn.Linear(points, 32), nn.ReLU(), nn.Linear(32, 1)).to(device)
    g_opt = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999), fused=args.lean or None)
    d_opt = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999), fused=args.lean or None)
    bce = nn.BCEWithLogitsLoss()
    ones, zeros = torch.ones(batch, 1, device=device), torch.zeros(batch, 1, device=device)

    start = time.perf_counter()
    for _ in range(args.updates):
        a = torch.rand(batch, 1, device=device) + 1
        real = a * x**2 + (a - 1)
        fake = G(torch.randn(batch, latent, device=device))
        d_loss = bce(D(real), ones) + bce(D(fake.detach()), zeros)
        d_opt.zero_grad()
        d_loss.backward()
        d_opt.step()
        g_loss = bce(D(fake), ones)
        g_opt.zero_grad()
        g_loss.backward()
        g_opt.step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    print(json.dumps({"updates": args.updates, "seconds": seconds, "updates_per_s": args.updates / seconds}))


if __name__ == "__main__":
    main()
