#!/usr/bin/env bash
# CI for issue 6: run the `coverage` target through a real single-node Slurm with the unchanged
# workflow profile profiles/slurm, run it again locally, and check that every result file is
# byte-identical. Self-contained and idempotent: installs what is missing, starts Slurm if it is not
# running, works in temporary copies of the repository (removed at the end). Needs root.
#
# The study is shrunk (COVERAGE_REPLICATES, COVERAGE_SHARDS) in the copies' config.yaml so that CI
# takes a few minutes; the rules, profile and commands are those users run. Replicates are fitted
# in blocks of 100 (stsmeta.coverage.FIT_BLOCK) and shards hold whole blocks: 200 replicates in 2
# shards give each shard one block, so both shard jobs compute.
set -euo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
replicates=${COVERAGE_REPLICATES:-200}
shards=${COVERAGE_SHARDS:-2}
log() { echo "ci/slurm: $*" >&2; }

bash "$repo/ci/slurm/start_slurm.sh"

if ! python -c "import snakemake_executor_plugin_slurm" 2>/dev/null; then
  log "installing the SLURM executor plugin"
  pip install -q -e "$repo[slurm]"
fi

work=$(mktemp -d /tmp/stsmeta-slurm-ci.XXXXXX)
trap 'rm -rf "$work"' EXIT

copy() {  # a clean copy of the working tree: no results, caches or git metadata
  mkdir -p "$1"
  tar -C "$repo" --exclude=./.git --exclude=./results --exclude=./.snakemake \
    --exclude=./build --exclude='*.egg-info' --exclude='__pycache__' \
    --exclude=./.pytest_cache --exclude=./.hypothesis --exclude=./.ruff_cache -cf - . |
    tar -C "$1" -xf -
  python - "$1/config.yaml" "$replicates" "$shards" <<'PY'
import sys

import yaml

path, replicates, shards = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
with open(path, encoding="utf-8") as fh:
    config = yaml.safe_load(fh)
config["coverage"]["replicates"] = replicates
config["coverage"]["shards"] = shards
with open(path, "w", encoding="utf-8") as fh:
    yaml.safe_dump(config, fh, sort_keys=False)
PY
}

copy "$work/local"
copy "$work/slurm"

log "local run: snakemake --cores 2 coverage ($replicates replicates per cell, $shards shards)"
start=$SECONDS
if ! (cd "$work/local" && snakemake --cores 2 coverage >"$work/local.log" 2>&1); then
  tail -n 40 "$work/local.log" >&2
  log "FAILED: the local run"
  exit 1
fi
log "local run done in $((SECONDS - start)) s"

# No accounting database on this single node: job states come from squeue (MinJobAge=300 in
# slurm.conf keeps finished jobs listed) and jobs are submitted without an account.
log "SLURM run: snakemake --workflow-profile profiles/slurm coverage"
start=$SECONDS
if ! (cd "$work/slurm" && snakemake --workflow-profile profiles/slurm \
  --slurm-status-command squeue --slurm-no-account \
  --slurm-init-seconds-before-status-checks 5 --jobs 4 \
  coverage >"$work/slurm.log" 2>&1); then
  tail -n 60 "$work/slurm.log" >&2
  find "$work/slurm/.snakemake/slurm_logs" -name '*.log' -exec tail -n 20 {} + >&2 2>/dev/null || true
  log "FAILED: the SLURM run"
  exit 1
fi
log "SLURM run done in $((SECONDS - start)) s"

submitted=$(grep -c "submitted with SLURM jobid" "$work/slurm.log" || true)
shard_jobs=$(grep -c "submitted with SLURM jobid.*rule_coverage_shard" "$work/slurm.log" || true)
log "$submitted jobs went through Slurm, $shard_jobs of them coverage shards"
if [[ $shard_jobs -lt 1 ]]; then
  log "FAILED: no coverage shard was submitted to Slurm"
  exit 1
fi

fail=0
compared=0
# Every shard job must have fitted replicates (a shard file with only its header did nothing).
while IFS= read -r f; do
  if [[ $(wc -l <"$f") -lt 2 ]]; then
    log "EMPTY shard: ${f#"$work/slurm/"} (raise COVERAGE_REPLICATES to 100 per shard)"
    fail=1
  fi
done < <(find "$work/slurm/results/coverage/shards" -name '*.csv' | sort)
while IFS= read -r f; do
  compared=$((compared + 1))
  if ! cmp -s "$work/local/$f" "$work/slurm/$f"; then
    log "DIFFERS: $f"
    fail=1
  fi
done < <(cd "$work/local" && find results/coverage -type f | sort)
# The `coverage` target is the study alone; its heat map comes with the default target's figures.
for f in results/coverage/summary.csv results/coverage/summary.json; do
  [[ -f "$work/slurm/$f" ]] || { log "MISSING from the SLURM run: $f"; fail=1; }
done
if ((fail)); then
  log "FAILED: the SLURM run's results differ from the local run's"
  exit 1
fi
log "OK: $compared result files of the SLURM run equal the local run's byte for byte"
log "recommended: $(python -c 'import json,sys; r=json.load(open(sys.argv[1]))["recommendation"]; print(r["method"], "-", r["reason"])' "$work/slurm/results/coverage/summary.json")"
