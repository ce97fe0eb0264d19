#!/usr/bin/env bash
# The measurements of docs/evaluation.md: the digits defenses of docs/training.md
# (trained by docs/scripts/digits_experiment.sh when RUN_DIR lacks them), each evaluated
# with `advgame eval --suite full` (sanity checks on), compared with independent attacks
# (benchmarks/independent_attacks.py), the robust-accuracy-vs-eps figure of Alg. 2 (L=2)
# and the suites' time as ratios to one PGD-100 run (benchmarks/bench_eval_suites.py).
# Usage: docs/scripts/digits_evaluation.sh [RUN_DIR]   (about 25 minutes on one core)
set -euo pipefail
OUT=${1:-runs/digits}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
FIG=$ROOT/docs/figures/evaluation
PY=${PYTHON:-python}
CMD="$PY -m advgame.torch.commands"
COMMON="--dataset digits --epochs 20 --eps 0.2 --step 0.05 --batch-size 64 --no-progress --threads 1"
mkdir -p "$OUT" "$FIG"
for run in at alg2-L2 alg2-L3 bat-L2; do
  [ -f "$OUT/$run/checkpoint.pt" ] || { PYTHON=$PY bash "$HERE/digits_experiment.sh" "$OUT"; break; }
done
for s in 1 2; do  # two more seeds of Alg. 2, L = 2
  [ -f "$OUT/alg2-L2-s$s/checkpoint.pt" ] || $CMD train --algo mixture --models 2 $COMMON --seed $s --out "$OUT/alg2-L2-s$s"
done
for run in at alg2-L2 alg2-L2-s1 alg2-L2-s2 alg2-L3 bat-L2; do
  $CMD eval "$OUT/$run/checkpoint.pt" --suite full --threads 1 --out "$OUT/$run/eval_full.json"
done
$CMD eval "$OUT/bat-L2/checkpoint.pt" --weights lp --suite full --threads 1 --out "$OUT/bat-L2/eval_full_lp.json"
for run in at alg2-L2 alg2-L2-s1 alg2-L2-s2 alg2-L3 bat-L2; do
  $PY "$ROOT/benchmarks/independent_attacks.py" "$OUT/$run/checkpoint.pt" --eval-json "$OUT/$run/eval_full.json"
done | tee "$OUT/independent.txt"
$PY - "$OUT" "$FIG" <<'PYEOF' | tee "$OUT/table_full.md"
import json, sys
from pathlib import Path
import torch
from advgame.torch.curves import robust_accuracy_curve, write_curve_figure
from advgame.torch.data import load_dataset
from advgame.torch.training import mixture_from_checkpoint
out, fig = Path(sys.argv[1]), Path(sys.argv[2])
rows = [("AT (L=1)", "at/eval_full.json"), ("Alg. 2, L=2", "alg2-L2/eval_full.json"),
        ("Alg. 2, L=3", "alg2-L3/eval_full.json"), ("BAT, L=2 (0.8, 0.2)", "bat-L2/eval_full.json"),
        ("BAT, L=2, LP weights", "bat-L2/eval_full_lp.json")]
names = ["natural", "pgd-logits", "pgd-loss", "apgd-ce", "apgd-dlr", "apgd-t", "square", "arc", "margin-subsets",
         "multi-targeted", "transfer", "worst"]
print("| defense | " + " | ".join(names) + " | flags |")
print("|---|" + "---|" * (len(names) + 1))
for label, f in rows:
    r = json.loads((out / f).read_text())
    cells = [f"{r['accuracy'][n]:.3f}" if n in r["accuracy"] else "-" for n in names]
    print(f"| {label} | " + " | ".join(cells) + f" | {', '.join(r['flags']) or 'none'} |")
torch.set_num_threads(1)
mix, cfg, _ = mixture_from_checkpoint(out / "alg2-L2" / "checkpoint.pt")
data = load_dataset("digits", val_size=cfg.val_size, seed=cfg.seed)
x = torch.stack([data.test[i][0] for i in range(len(data.test))])
y = torch.as_tensor([data.test[i][1] for i in range(len(data.test))])
curve = robust_accuracy_curve(mix, x, y, [0.0, 0.05, 0.1, 0.2, 0.3, 0.4], suite="quick")
write_curve_figure(curve, fig / "digits_eps_curve")
print("eps curve (quick suite, Alg. 2 L=2):", {k: [round(v, 3) for v in vs] for k, vs in curve["accuracy"].items()})
PYEOF
for run in alg2-L2 alg2-L3; do
  $PY "$ROOT/benchmarks/bench_eval_suites.py" "$OUT/$run/checkpoint.pt"
done | tee "$OUT/bench_suites.txt"
