"""The generic GAN metrics every family gets: sample-based, computed against a fixed reference set of real samples
of the same family, as image GANs are judged (on a network's features; here the samples themselves, already
low-dimensional, are the features). Per member, on the first `reference_samples` of its generated samples.

- frechet: the Fréchet distance between Gaussians fitted to real and generated samples, FID's formula
  ‖μ_r − μ_g‖² + Tr(Σ_r + Σ_g − 2 (Σ_r Σ_g)^½) as pytorch-fid computes it (src/pytorch_fid/fid_score.py,
  `calculate_frechet_distance`; covariances with N − 1, as numpy.cov). The trace of the square root is the sum of
  the square roots of the eigenvalues of Σ_r^½ Σ_g Σ_r^½, which has the eigenvalues of Σ_r Σ_g.
- precision, recall, density, coverage with k nearest neighbours (Kynkäänniemi et al., 2019; Naeem et al., 2020),
  as Naeem et al.'s own code computes them (clovaai/generative-evaluation-prdc, prdc/prdc.py, `compute_prdc`):
  each sample's radius is the distance to its k-th nearest neighbour in its own set;
  precision: the share of generated samples inside some real sample's ball;
  recall: the share of real samples inside some generated sample's ball;
  density: the mean over generated samples of how many real balls hold each, over k (1 for real samples);
  coverage: the share of real samples whose nearest generated sample is inside its ball.
Everything in float64, batched over members with the member axis first.
"""

from __future__ import annotations

import torch
from torch import Tensor

from curvegan.metrics import declare

FRECHET = declare(
    "frechet",
    "lower",
    "Fréchet distance of Gaussians fitted to real and generated samples (FID's formula)",
    log_scale=True,
    section="generic",
)
PRECISION = declare(
    "precision", "higher", "share of generated samples inside a real sample's k-NN ball (fidelity)", section="generic"
)
RECALL = declare(
    "recall", "higher", "share of real samples inside a generated sample's k-NN ball (diversity)", section="generic"
)
DENSITY = declare(
    "density", "", "real k-NN balls holding each generated sample, over k (real samples: about 1)", section="generic"
)
COVERAGE = declare(
    "coverage", "higher", "share of real samples whose nearest generated sample is inside its ball", section="generic"
)
METRICS = (FRECHET, PRECISION, RECALL, DENSITY, COVERAGE)


def kth_neighbour_distance(points: Tensor, k: int) -> Tensor:
    """[..., n] the distance of each point of [..., n, d] to its k-th nearest neighbour among the others."""
    # the nearest is the point itself; topk is several times faster than kthvalue here
    return torch.cdist(points, points).topk(k + 1, dim=-1, largest=False).values[..., k]


class Reference:
    """The real samples the generic metrics compare with, and what is computed of them once."""

    def __init__(self, real: Tensor, k: int = 5):
        self.real, self.k = real.double(), k
        self.radii = kth_neighbour_distance(self.real, k)  # [n]
        self.mean = self.real.mean(dim=0)
        self.cov = torch.cov(self.real.T)
        values, vectors = torch.linalg.eigh(self.cov)
        self.cov_root = vectors @ torch.diag(values.clamp(min=0).sqrt()) @ vectors.T  # Σ_r^½

    @classmethod
    def of(cls, family, n: int, seed: int, k: int, device) -> Reference:
        """n real samples of the family from `seed` (drawn as training draws them), on `device`."""
        drawn = family.draw((n,), torch.Generator().manual_seed(seed))
        return cls(family.samples(drawn.to(device)), k)

    def quality(self, samples: Tensor) -> dict[str, Tensor]:
        """The generic metrics of generated samples [members, n, dim] (the first as many as the reference has)."""
        fake = samples.detach()[:, : len(self.real)].double()
        return {"frechet": self.frechet(fake), **self.prdc(fake)}

    def frechet(self, fake: Tensor) -> Tensor:
        mean = fake.mean(dim=1)  # [m, d]
        centred = fake - mean.unsqueeze(1)
        cov = centred.transpose(1, 2) @ centred / (fake.shape[1] - 1)  # [m, d, d]
        inner = self.cov_root @ cov @ self.cov_root
        root_trace = torch.linalg.eigvalsh((inner + inner.transpose(1, 2)) / 2).clamp(min=0).sqrt().sum(dim=-1)
        gap = (mean - self.mean).pow(2).sum(dim=-1)
        return gap + self.cov.trace() + cov.diagonal(dim1=1, dim2=2).sum(dim=-1) - 2 * root_trace

    def prdc(self, fake: Tensor) -> dict[str, Tensor]:
        """Member by member: a member's distances to every real sample take n_real × n_fake numbers."""
        rows = []
        for member in fake:
            distance = torch.cdist(self.real, member)  # [real, fake]
            inside_real = distance < self.radii.unsqueeze(1)
            inside_fake = distance < kth_neighbour_distance(member, self.k).unsqueeze(0)
            rows.append(
                torch.stack(
                    [
                        inside_real.any(dim=0).double().mean(),
                        inside_fake.any(dim=1).double().mean(),
                        inside_real.sum(dim=0).double().mean() / self.k,
                        (distance.min(dim=1).values < self.radii).double().mean(),
                    ]
                )
            )
        precision, recall, density, coverage = torch.stack(rows).T
        return {"precision": precision, "recall": recall, "density": density, "coverage": coverage}
