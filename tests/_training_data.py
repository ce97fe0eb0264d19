"""Tiny data sets and settings shared by the training tests (seconds on a CPU)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest


def tiny_data(n_train=96, n_val=32, n_test=32, seed=0):
    """Seeded class-prototype images (1 x 6 x 6, 3 classes) as train / val / test splits."""
    from torch.utils.data import TensorDataset

    from advgame.torch.models import synthetic_images

    n = n_train + n_val + n_test
    x, y = synthetic_images(n, shape=(1, 6, 6), n_classes=3, noise=0.25, seed=seed)
    cut = [0, n_train, n_train + n_val, n]
    parts = [TensorDataset(x[a:b], y[a:b]) for a, b in zip(cut, cut[1:])]
    return SimpleNamespace(train=parts[0], val=parts[1], test=parts[2], num_classes=3, input_shape=(1, 6, 6),
                           name="synthetic")


def tiny_config(**overrides):
    """A TrainConfig of a few seconds: small MLPs, 2-step attacks."""
    from advgame.torch.training import TrainConfig

    opts = dict(algo="mixture", dataset="digits", models=2, epochs=1, arch="small-mlp", batch_size=16, lr=0.05,
                eps=0.1, step=0.03, attack_steps=2, eval_steps=2, t_lambda=2, seed=3)
    opts.update(overrides)
    return TrainConfig(**opts)


def _solve_takes_init():
    import inspect

    from advgame.solvers.oracle import solve_oracle

    params = inspect.signature(solve_oracle).parameters
    return "init" in params and "max_iter" in params


#: Alg. 2's weight step goes through MixtureSolver, which warm-starts every solve
#: (``init=``, ``max_iter=``): skip the tests that take weight steps until solve has them
needs_warm_start = pytest.mark.skipif(not _solve_takes_init(),
                                      reason="advgame.solve has no init=/max_iter= yet (MixtureSolver needs them)")
