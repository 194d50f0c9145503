#!/bin/bash
# The runs behind results/landscape/RESULTS.md, in the order they were made (each step resumable:
# a finished step is skipped). Run from the repository root with the venv active:
#   nice -n 10 bash results/landscape/run_all.sh
# Sizes were cut to what the shared 2-core machine allowed (see RESULTS.md for the wall times).
set -e
S="python examples/landscape_study.py"
# item 3: reference landscape at V = 8 with an unbiased check on data set 0
[ -f results/landscape/landscape/landscape_V8_alpha27_seed0.json ] && grep -q '"direct_chains": 32' results/landscape/landscape/landscape_V8_alpha27_seed0.json || \
  copyhead landscape --V 8 --alpha 27 --data-seeds 0,1,2,3 --replicas 4 --iters 2000 --warmup 500 \
    --direct-chains 32 --direct-iters 15000 --outdir results/landscape/landscape
# item 4: alpha_c(V) (the alphas are realised exactly: P = alpha kappa V^2 / T is an integer)
$S alpha-c --V 8 --alphas 26.875,27.125,27.375 --data-seeds 0,1,2,3 --replicas 2 --iters 1000 --warmup 400
$S alpha-c --V 16 --alphas 24.96875,25.09375,25.1875 --data-seeds 0,1,2,3 --replicas 2 --iters 800 --warmup 300
# item 5: linear attention, <|m|> vs alpha
$S linear --V 8,16,24
$S alpha-c --V 12 --alphas 25.5,25.6667,25.8333 --data-seeds 0,1,2,3 --replicas 2 --iters 800 --warmup 300
$S alpha-c --V 24 --alphas 24.5,24.6528 --data-seeds 0,1,2 --replicas 2 --iters 600 --warmup 300
$S linear --V 32 --iters 2000
$S alpha-c --V 32 --alphas 24.296875,24.40625 --data-seeds 0,1,2 --replicas 2 --iters 600 --warmup 300
# convergence check of the short alpha_c runs (start dependence seen at V = 12): same data, 4x longer, 4 runs
[ -f results/landscape/landscape/landscape_V12_alpha25.6667_seed0.json ] || \
  copyhead landscape --V 12 --alpha 25.6667 --data-seeds 0,1,2,3 --replicas 4 --iters 3000 --warmup 1000 \
    --outdir results/landscape/landscape
[ -f results/landscape/landscape/landscape_V16_alpha25.0938_seed0.json ] || \
  copyhead landscape --V 16 --alpha 25.09375 --data-seeds 0,1,2,3 --replicas 4 --iters 3000 --warmup 1000 \
    --outdir results/landscape/landscape
$S report
