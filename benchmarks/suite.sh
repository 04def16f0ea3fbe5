#!/usr/bin/env bash
# Every CPU figure of docs/performance.md afresh, one benchmark after the other, in one go:
#
#     AEREC_DATA_DIR=DIR benchmarks/suite.sh OUT [STEP ...]
#
# Each step writes OUT/<step>.log: a first line with the UTC time, the commit, the CPU model
# and the load average, then the benchmark's own output and `/usr/bin/time -v`'s counts
# (wall, user and system CPU, peak resident memory, page faults), then the load average
# after it. Steps (all by default, in this order; about 40 minutes on our idle 2-core machine,
# most of it the ML-25M and Netflix shapes):
#
#   digests     benchmarks/weights_digest.py with 1 and with 2 threads: the weights' digests
#   run         benchmarks/run.py: U-AutoRec, I-AutoRec and Deep AE against the dense
#               reference (per epoch and to the target; memory floor; faults)
#   cells       benchmarks/cells_per_pass.py: the sparse kernels, several cells per pass
#               against one (same bits checked)
#   denormals   U-AutoRec 60 epochs, denormals kept then flushed, twice, alternated
#   notebook-500
#               benchmarks/notebook_500.py: the notebook's U-AutoRec, 500 epochs, denormals
#               kept and flushed, and with the code of a42fa2a (before issue 12)
#   to-rmse     benchmarks/time_to_rmse.py --same-recipe: U-AutoRec to the notebook's RMSE
#   adam        benchmarks/adam_faults.py: page faults per Adam step by parameter layout
#   ml25m-item  benchmarks/epoch_rusage.py: 2 epochs of item-based AutoRec, synthetic-ml-25m
#   ranking     benchmarks/ranking_time.py at the ML-25M shape, random scores
#   netflix-user, netflix-item
#               one epoch of user- and item-based AutoRec on synthetic-netflix
#   etl         benchmarks/etl_scale.py --shape netflix: a 100M-row CSV parsed and reloaded
#
# Nothing here is a test: the figures are what this machine did in this run; ratios between
# two figures of one step hold best. Run it on an otherwise idle machine and keep the logs.
set -euo pipefail

out=${1:?usage: AEREC_DATA_DIR=DIR benchmarks/suite.sh OUT [STEP ...]}
shift
steps=("$@")
if [ ${#steps[@]} -eq 0 ]; then
    steps=(digests run cells denormals notebook-500 to-rmse adam ml25m-item ranking netflix-user netflix-item etl)
fi
known=" digests run cells denormals notebook-500 to-rmse adam ml25m-item ranking netflix-user netflix-item etl "
for name in "${steps[@]}"; do
    case $known in *" $name "*) ;; *) echo "unknown step $name; the steps:$known" >&2; exit 2 ;; esac
done
here=$(cd "$(dirname "$0")" && pwd)
python=${PYTHON:-python}
mkdir -p "$out"
work=$(mktemp -d "${TMPDIR:-/tmp}/aerec-suite.XXXXXX")
trap 'rm -rf "$work"' EXIT

cpu=$(grep -m1 "model name" /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//' || uname -m)
commit=$(git -C "$here" describe --always --dirty --abbrev=7 2>/dev/null || echo unknown)

step() {  # step NAME COMMAND...: run COMMAND, its output and counts into OUT/NAME.log
    local name=$1 log="$out/$1.log"
    shift
    echo "== $name: $*"
    {
        echo "# $(date -u +%FT%TZ) commit $commit, $cpu, $(nproc) cores," \
            "load average $(cut -d' ' -f1-3 /proc/loadavg)"
        echo "# $*"
        /usr/bin/time -v "$@" 2>&1
        echo "# load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
    } > "$log.tmp" 2>&1 || { mv "$log.tmp" "$log"; echo "$name failed: see $log" >&2; exit 1; }
    mv "$log.tmp" "$log"
}

train_epochs() {  # train_epochs NAME DATASET BASED EPOCHS
    step "$1" "$python" "$here/epoch_rusage.py" train --dataset "$2" --model autorec \
        --based "$3" --epochs "$4" --ranking-k '' --no-progress --out "$work/$1"
    rm -rf "${work:?}/$1"
}

for name in "${steps[@]}"; do
    case $name in
        digests)
            step digests-1 "$python" "$here/weights_digest.py" --threads 1
            step digests-2 "$python" "$here/weights_digest.py" --threads 2
            ;;
        run) step run "$python" "$here/run.py" --json "$out/run.json" ;;
        cells) step cells "$python" "$here/cells_per_pass.py" ;;
        denormals)
            for k in 1 2; do
                step "denormals-kept-$k" "$python" "$here/run.py" --models U-AutoRec \
                    --epochs 60 --max-epochs 60 --keep-denormals --json "$out/denormals-kept-$k.json"
                step "denormals-flushed-$k" "$python" "$here/run.py" --models U-AutoRec \
                    --epochs 60 --max-epochs 60 --json "$out/denormals-flushed-$k.json"
            done
            ;;
        notebook-500)
            step notebook-500 "$python" "$here/notebook_500.py" --before a42fa2a \
                --json "$out/notebook-500.json"
            ;;
        to-rmse)
            step to-rmse "$python" "$here/time_to_rmse.py" --same-recipe --models U-AutoRec \
                --json "$out/to-rmse.json"
            ;;
        adam) step adam "$python" "$here/adam_faults.py" ;;
        ml25m-item) train_epochs ml25m-item synthetic-ml-25m item 2 ;;
        ranking)
            step ranking "$python" "$here/ranking_time.py" --dataset synthetic-ml-25m \
                --scorer random
            ;;
        netflix-user) train_epochs netflix-user synthetic-netflix user 1 ;;
        netflix-item) train_epochs netflix-item synthetic-netflix item 1 ;;
        etl) step etl "$python" "$here/etl_scale.py" --shape netflix ;;
    esac
done
echo "logs in $out"
