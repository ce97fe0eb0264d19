"""AT on digits at a large budget: does it collapse, and does an eps warm-up prevent it?

The sweep behind docs/studies.md's choice of ``eps_warmup = 5`` for the digits study: AT
(``small-mlp``, 20 epochs, batch 64, the training PGD step eps / 4), five seeds, each run
ending with its most robust validation epoch; it prints, per setting, each seed's
(natural, robust) validation accuracies (PGD-20 on the held-out 10 %).

    python docs/scripts/warmup_sweep.py 0.3 0.1,0.05,0.02            # learning rates, no warm-up
    python docs/scripts/warmup_sweep.py 0.3 0.1 '{"eps_warmup": 5}'  # a warm-up of 5 epochs
"""

import json
import sys

import torch

from advgame.torch.data import load_dataset
from advgame.torch.training import Trainer, TrainConfig


def main(argv):
    if len(argv) not in (2, 3):
        raise SystemExit(__doc__)
    torch.set_num_threads(1)
    eps = float(argv[0])
    rates = [float(v) for v in argv[1].split(",")]
    extra = json.loads(argv[2]) if len(argv) > 2 else {}
    for lr in rates:
        rows = []
        for seed in range(5):
            data = load_dataset("digits", seed=seed)
            cfg = TrainConfig(algo="at", models=1, dataset="digits", epochs=20, batch_size=64, eps=eps,
                              step=eps / 4, lr=lr, seed=seed, **extra)
            trainer = Trainer(cfg, data)
            trainer.fit()
            summary = trainer.finish()
            rows.append((round(summary["natural"], 3), round(summary["robust"], 3)))
        print(f"eps {eps:g}, lr {lr:g}, {extra or 'no warm-up'}: (natural, robust) per seed {rows}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
