#!/usr/bin/env bash
# Every ablation of searches/ablations/ on the full Fashion-MNIST (base-small.json: 14,000 images, 4,000 of them held out),
# one after another, sharing one stand-alone cache so the 20 matched-cost subnets train once.
# Finished ablations are skipped; their reports are copied to results/ablations/<name>/.
# The stand-alone trainings, search scoring and retrains go through the job queue (one worker child
# per core; scripts/lib/local-queue.sh, QUEUE= and WORKERS= as there); the supernets train here,
# data-parallel.
# Usage: bash scripts/ablations.sh [name …]   (default: all, the cheap ones first)
set -euo pipefail
cd "$(dirname "$0")/.."
CACHE=${STANDALONE_CACHE:-${RESULTS:-results}/standalone-cache}
RUNS=${RUNS:-runs}
RESULTS=${RESULTS:-results}
names=("$@")
[ ${#names[@]} -gt 0 ] || names=(private-class-token private-attention identity-search slicing recursion distillation evolution-vs-random)
. scripts/lib/local-queue.sh
start_local_queue
for n in "${names[@]}"; do
  if [ -f "$RESULTS/ablations/$n/report.md" ]; then echo "ablations: $n done ($RESULTS/ablations/$n)"; continue; fi
  node dist/src/cli/main.js ablate "searches/ablations/$n.json" --out "$RUNS/ablation-$n" --standalone-cache "$CACHE" --force ${q[@]+"${q[@]}"}
  mkdir -p "$RESULTS/ablations/$n"
  for f in report.md results.json results.csv kendall.svg; do [ -f "$RUNS/ablation-$n/$f" ] && cp "$RUNS/ablation-$n/$f" "$RESULTS/ablations/$n/"; done
done
