"""curvegan: a classic GAN that learns to draw quadratic curves (PyTorch Lightning + Hydra)."""
