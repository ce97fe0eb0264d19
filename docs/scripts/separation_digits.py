"""Are the digits classes separated at a budget? (docs/bounds.md, "Can randomization help at
this eps?"). Run: python docs/scripts/separation_digits.py  (needs the torch extra)."""

import numpy as np

from advgame.bounds import class_separation
from advgame.torch.data import load_dataset


def as_arrays(split):
    X = np.stack([split[i][0].numpy().reshape(-1) for i in range(len(split))]).astype(np.float64)
    y = np.array([int(split[i][1]) for i in range(len(split))])
    return X, y


data = load_dataset("digits", seed=0)  # the split advgame train uses by default
Xtr, ytr = as_arrays(data.train)
Xte, yte = as_arrays(data.test)
print("| eps (linf) | train: share within 2 eps | test vs train: share | smallest inter-class distance (train) | "
      "test: optimal-risk lower bound |")
print("|---|---|---|---|---|")
for eps in (0.1, 0.2, 0.25, 0.3, 0.4):
    s = class_separation(Xtr, ytr, eps, "linf")
    t = class_separation(Xte, yte, eps, "linf", reference=(Xtr, ytr))
    b = class_separation(Xte, yte, eps, "linf", pairwise_bounds=True)
    print(f"| {eps:g} | {100 * s.share_conflicting:.1f} % | {100 * t.share_conflicting:.1f} % | "
          f"{s.min_distance:.4g} | {b.risk_lower_bound:.4f} |")
