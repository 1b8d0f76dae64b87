"""curvegan's Hydra launcher `hydra/launcher=packed`: a sweep's jobs that differ only in member-wise keys train
as one ensemble (curvegan.packed)."""
