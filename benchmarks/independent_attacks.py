"""Independent attacks on a mixture checkpoint, to measure how far `advgame eval --suite` is
from the worst case over the union (issue 17, item 2b).

The attacks here are written from the papers in plain torch and use nothing of
advgame.torch.attacks (only the checkpoint loader, the data and the exact expected
accuracy of the mixture):

* subset PGD: sign-gradient PGD on -sum_{k in S} lam_k * max(margin_k, -1), per subset S
  of the members (every subset), 200 steps, step eps/8 halved at 50% and 75%;
* multi-targeted PGD: per target class t, PGD on the expected logits' CE towards t;
* per-member PGD (CE, 200 steps) transferred to the mixture;
* a random search with squares of +-eps (Linf), 3000 queries, on the expected error
  then the expected margin.

Usage::

    python benchmarks/independent_attacks.py CHECKPOINT [--suite full] [--eval-json FILE] [--max-samples N]

Prints the suite's worst case, the independent attacks' worst case and the worst case
of the union, all exact expected accuracies; with --eval-json the suite's per-example
accuracies are read from a report written by `advgame eval` instead of re-running it.
"""

from __future__ import annotations

import argparse
import itertools
import json
import time

import torch


def expected_acc(mix, x, y):
    with torch.no_grad():
        z = mix.member_logits(x, param_grad=False)
        lam = mix.weights.double() / mix.weights.double().sum()
        return lam @ (z.argmax(-1) == y[None]).double()


def pgd(x, y, eps, loss_fn, steps, gen):
    lo, hi = 0.0, 1.0
    d = (torch.rand(x.shape, generator=gen) * 2 - 1) * eps
    xa = (x + d).clamp(lo, hi)
    best, best_val = xa.clone(), None
    alpha = eps / 8
    for t in range(steps):
        if t in (steps // 2, 3 * steps // 4):
            alpha /= 2
        xa = xa.detach().requires_grad_(True)
        val, score = loss_fn(xa)
        (g,) = torch.autograd.grad(val.sum(), xa)
        with torch.no_grad():
            if best_val is None:
                best_val = score.clone()
            upd = score > best_val
            best[upd] = xa.detach()[upd]
            best_val = torch.maximum(best_val, score)
            xa = torch.min(torch.max(xa + alpha * g.sign(), x - eps), x + eps).clamp(lo, hi)
    return best


def independent_worst(mix, x, y, eps, seed=0):
    gen = torch.Generator().manual_seed(seed)
    lam = mix.weights.detach()
    L = len(lam)
    pos = [k for k in range(L) if lam[k] > 0]

    def err(xa):
        return 1 - expected_acc(mix, xa, y)

    worst = expected_acc(mix, x, y)
    found = {}

    def keep(name, xa):
        nonlocal worst
        a = expected_acc(mix, xa, y)
        found[name] = torch.minimum(found.get(name, a), a)
        worst = torch.minimum(worst, a)

    def member_margins(xa):
        z = mix.member_logits(xa, param_grad=False)
        zy = z.gather(-1, y[None, :, None].expand(z.shape[0], -1, 1)).squeeze(-1)
        other = z.scatter(-1, y[None, :, None].expand(z.shape[0], -1, 1), -1e9).amax(-1)
        return z, zy - other

    # subset PGD
    for r in range(1, len(pos) + 1):
        for S in itertools.combinations(pos, r):
            w = torch.zeros_like(lam)
            w[list(S)] = lam[list(S)]

            def f(xa, w=w):
                z, m = member_margins(xa)
                obj = -(w[:, None] * m.clamp(min=-1.0)).sum(0)
                return obj, err(xa.detach()).float() * 1e3 + obj.detach()

            keep("subset-pgd", pgd(x, y, eps, f, 200, gen))
    # multi-targeted PGD on the expected logits
    C = mix.member_logits(x[:1], param_grad=False).shape[-1]
    for t in range(C):
        tt = torch.full_like(y, t)

        def f(xa, tt=tt):
            z = mix.member_logits(xa, param_grad=False)
            ez = torch.einsum("l,lbc->bc", lam, z)
            obj = -torch.nn.functional.cross_entropy(ez, tt, reduction="none")
            return obj, err(xa.detach()).float() * 1e3 + obj.detach()

        keep("multi-targeted-pgd", pgd(x, y, eps, f, 200, gen))
    # per-member PGD transferred
    for k in pos:
        def f(xa, k=k):
            z = mix.members[k](xa)
            obj = torch.nn.functional.cross_entropy(z, y, reduction="none")
            return obj, obj.detach()

        keep("transfer-pgd", pgd(x, y, eps, f, 200, gen))
    # random search with squares (Linf)
    xb = (x + eps * (torch.randint(0, 2, x.shape[:2] + (1, x.shape[-1]), generator=gen) * 2 - 1)).clamp(0, 1)

    def score(xa):
        _, m = member_margins(xa)
        return err(xa).float() * 1e3 - (lam[:, None] * m.clamp(min=0)).sum(0)

    with torch.no_grad():
        sb = score(xb)
        h, w = x.shape[-2:]
        for i in range(3000):
            s = max(1, int(round((0.5 * (1 - i / 3000) + 0.02) ** 0.5 * h)))
            i0 = int(torch.randint(0, h - s + 1, (1,), generator=gen))
            j0 = int(torch.randint(0, w - s + 1, (1,), generator=gen))
            xn = xb.clone()
            sign = torch.randint(0, 2, (x.shape[0], x.shape[1], 1, 1), generator=gen) * 2 - 1
            xn[..., i0 : i0 + s, j0 : j0 + s] = (x[..., i0 : i0 + s, j0 : j0 + s] + eps * sign).clamp(0, 1)
            sn = score(xn)
            up = sn >= sb
            xb[up], sb[up] = xn[up], sn[up]
    keep("random-search", xb)
    return worst, found


def main():
    p = argparse.ArgumentParser()
    p.add_argument("checkpoint")
    p.add_argument("--suite", default="full")
    p.add_argument("--eval-json", default=None)
    p.add_argument("--max-samples", type=int, default=None)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    torch.set_num_threads(1)
    from advgame.torch.data import load_dataset
    from advgame.torch.training import mixture_from_checkpoint

    mix, cfg, _ = mixture_from_checkpoint(args.checkpoint)
    data = load_dataset(cfg.dataset, val_size=cfg.val_size, augment=False, seed=cfg.seed)
    n = len(data.test) if args.max_samples is None else min(args.max_samples, len(data.test))
    xs, ys = zip(*(data.test[i] for i in range(n)))
    x, y = torch.stack(xs), torch.as_tensor(ys, dtype=torch.int64)
    if args.eval_json:
        rep = json.load(open(args.eval_json))
        suite_worst = torch.tensor(rep["per_example"]["accuracy"]["worst"], dtype=torch.float64)[:n]
    else:
        from advgame.torch import evaluate

        suite_worst = evaluate(mix, x, y, cfg.eps, suite=args.suite, checks=False).per_example["worst"]
    t = time.time()
    ind, found = independent_worst(mix, x, y, cfg.eps, args.seed)
    union = torch.minimum(suite_worst, ind)
    print(f"{args.checkpoint}: n={n}, eps={cfg.eps}, weights {[round(float(w), 3) for w in mix.weights]}")
    for k, v in found.items():
        print(f"  independent {k:20s} {float(v.mean()):.4f}")
    print(f"  suite ({args.suite}) worst {float(suite_worst.mean()):.4f}; independent worst {float(ind.mean()):.4f}; "
          f"union {float(union.mean()):.4f}; suite overstates by {100 * float(suite_worst.mean() - union.mean()):.2f} "
          f"points ({int((union < suite_worst - 1e-12).sum())} examples); independent attacks took "
          f"{time.time() - t:.0f} s")


if __name__ == "__main__":
    main()
