#!/usr/bin/env bash
# The CPU experiment of docs/training.md: scikit-learn's digits (8x8, in [0, 1]),
# Linf eps = 0.2 (step 0.05), small MLPs, 20 epochs per member, seed 0:
#   AT (L=1) | MNE21 Alg. 2 (L=2, 3) | RM20 BAT (L=2) | BAT with the exact LP weights,
# each evaluated on the test split by the full worst-case evaluation
# (adaptive PGD on logits and loss 100 x 3, APGD-CE/DLR 100 x 5, ARC).
# Usage: docs/scripts/digits_experiment.sh [RUN_DIR]   (about 6 minutes on one core)
# Writes the runs under RUN_DIR, the table to RUN_DIR/table.md and the figure to
# docs/figures/training/digits_accuracy.{png,pdf}.
set -euo pipefail
OUT=${1:-runs/digits}
FIG=$(cd "$(dirname "$0")/.." && pwd)/figures/training
PY=${PYTHON:-python}
CMD="$PY -m advgame.torch.commands"
COMMON="--dataset digits --epochs 20 --eps 0.2 --step 0.05 --batch-size 64 --seed 0 --no-progress --threads 1"
mkdir -p "$OUT"
rm -rf "$OUT"/at "$OUT"/alg2-L2 "$OUT"/alg2-L3 "$OUT"/bat-L2
$CMD train --algo at $COMMON --out "$OUT/at"
$CMD train --algo mixture --models 2 $COMMON --out "$OUT/alg2-L2"
$CMD train --algo mixture --models 3 $COMMON --out "$OUT/alg2-L3"
$CMD train --algo bat --models 2 --weights lp $COMMON --out "$OUT/bat-L2"
for run in at alg2-L2 alg2-L3 bat-L2; do
  $CMD eval "$OUT/$run/checkpoint.pt" --threads 1 --out "$OUT/$run/eval.json"
done
$CMD eval "$OUT/bat-L2/checkpoint.pt" --weights lp --threads 1 --out "$OUT/bat-L2/eval_lp.json"

# the table of docs/training.md and the MNE21 Fig. 3 style figure
$PY - "$OUT" "$FIG" <<'PYEOF' | tee "$OUT/table.md"
import json, sys
from pathlib import Path
from advgame.torch.training import read_log, write_figure
out, fig = Path(sys.argv[1]), Path(sys.argv[2])
rows = [("AT (L=1)", "at/eval.json"), ("Alg. 2, L=2", "alg2-L2/eval.json"), ("Alg. 2, L=3", "alg2-L3/eval.json"),
        ("BAT, L=2 (0.8, 0.2)", "bat-L2/eval.json"), ("BAT, L=2, LP weights", "bat-L2/eval_lp.json")]
names = ["natural", "pgd-logits", "pgd-loss", "apgd-ce", "apgd-dlr", "arc", "worst"]
print("| defense | weights | " + " | ".join(names) + " |")
print("|---|---|" + "---|" * len(names))
for label, f in rows:
    r = json.loads((out / f).read_text())
    w = ", ".join(f"{v:.2f}" for v in r["weights"])
    print(f"| {label} | ({w}) | " + " | ".join(f"{r['accuracy'][n]:.3f}" for n in names) + " |")
runs = {"AT (L=1)": read_log(out / "at"), "Alg. 2, L=2": read_log(out / "alg2-L2"),
        "Alg. 2, L=3": read_log(out / "alg2-L3"), "BAT, L=2": read_log(out / "bat-L2")}
write_figure(fig, runs, stem="digits_accuracy")
PYEOF
