#!/usr/bin/env bash
# Re-run every reference script of the last commit (HEAD) in a clean copy and compare what it
# writes with the file committed beside it, byte for byte. For reviewers: the values the tests
# compare against are what these scripts write today, not numbers edited or collected by hand.
#
#   bash tests/reference/check_references.sh            # every script (about 20 min on 2 cores)
#   bash tests/reference/check_references.sh --quick    # without bayes_bruteforce.py (~5 min)
#   bash tests/reference/check_references.sh bayes_jags.R   # only the scripts named
#
# Needs Debian's r-cran-metafor, r-cran-lme4 and r-cran-jsonlite for the metafor scripts, jags and
# r-cran-rjags for bayes_jags.R; a script whose tools are missing is reported as skipped. Exit
# status 1 if any file differs or a script fails, else 0. Nothing in this checkout is written.
set -euo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
quick=0
if [[ ${1:-} == "--quick" ]]; then
  quick=1
  shift
fi
only=("$@")

work=$(mktemp -d /tmp/stsmeta-references.XXXXXX)
trap 'rm -rf "$work"' EXIT
git -C "$repo" archive HEAD | tar -x -C "$work"
# The committed files, before any script overwrites its own.
cp -r "$work/tests/reference" "$work/committed"

has_r_package() { Rscript -e "quit(status = !requireNamespace('$1', quietly = TRUE))" >/dev/null 2>&1; }

# script, the file it writes, what it needs (an R package name, or "python")
checks=(
  "make_reference.R metafor_reference.json metafor"
  "make_reference_issue12.R metafor_reference_issue12.json metafor"
  "make_reference_issue12_regression.R metafor_reference_issue12_regression.json metafor"
  "make_reference_glmm_restart.R metafor_reference_glmm_restart.json metafor"
  "make_reference_glmm_ascent.R metafor_reference_glmm_ascent.json metafor"
  "make_reference_glmm_reg_ascent.R metafor_reference_glmm_reg_ascent.json metafor"
  "bayes_jags.R bayes_jags.json rjags"
  "bayes_bruteforce.py bayes_bruteforce.json python"
)
scripts=" ${checks[*]%% *} "
for name in ${only[@]+"${only[@]}"}; do
  if [[ $scripts != *" $name "* ]]; then
    echo "unknown script: $name (one of:${scripts% })" >&2
    exit 2
  fi
done

failed=0
for check in "${checks[@]}"; do
  read -r script output needs <<<"$check"
  if [[ ${#only[@]} -gt 0 && " ${only[*]} " != *" $script "* ]]; then
    continue
  fi
  if [[ $quick == 1 && $script == bayes_bruteforce.py ]]; then
    echo "skipped  $script (--quick)"
    continue
  fi
  if [[ $needs != python ]] && { ! command -v Rscript >/dev/null || ! has_r_package "$needs"; }; then
    echo "skipped  $script (needs R with $needs)"
    continue
  fi
  start=$SECONDS
  if [[ $needs == python ]]; then
    run=(python "tests/reference/$script")
  else
    run=(Rscript "tests/reference/$script")
  fi
  if ! (cd "$work" && "${run[@]}" >"$work/$script.log" 2>&1); then
    echo "FAILED   $script ($((SECONDS - start)) s); its last lines:"
    tail -n 20 "$work/$script.log"
    failed=1
  elif cmp -s "$work/committed/$output" "$work/tests/reference/$output"; then
    echo "same     $output ($script, $((SECONDS - start)) s)"
  else
    echo "DIFFERS  $output ($script, $((SECONDS - start)) s): the committed file is not what the"
    echo "         committed script writes; regenerate it and review the change"
    failed=1
  fi
done
exit $failed
