# Shared helpers for scripts/test-all: section headers, step bookkeeping, the final summary.
# Sourced, not executed. Every step is a shell function; run_step records its outcome.

# Names and outcomes of the steps run so far, in order.
STEP_NAMES=()
STEP_RESULTS=()
STEP_SECONDS=()
# Exit status of the last step run_step ran (read by scripts/test-all).
# shellcheck disable=SC2034
LAST_STEP_STATUS=0

# section TITLE: prints a header that stands out in CI logs.
section() {
    printf '\n==================== %s ====================\n' "$*"
}

# info MESSAGE: prints a progress line.
info() {
    printf -- '--> %s\n' "$*"
}

# die MESSAGE: prints an error and exits non-zero.
die() {
    printf 'ERROR: %s\n' "$*" >&2
    exit 1
}

# as_root CMD...: runs CMD as root (directly when already root, else via sudo).
as_root() {
    if [[ $(id -u) -eq 0 ]]; then
        "$@"
    else
        sudo "$@"
    fi
}

# run_step NAME FUNCTION [ARGS...]: runs FUNCTION under a section header and records whether it
# passed; its exit status is left in LAST_STEP_STATUS (run_step itself always succeeds). Call it as
# a plain command, never inside `if`, `||` or `&&`: bash would then ignore errexit inside the step.
run_step() {
    local name=$1
    shift
    section "$name"
    local started=$SECONDS status
    # The step runs in a subshell with errexit on, so a failing command inside it fails the step
    # without ending the whole script. (Inside `cmd || ...` bash would ignore errexit, hence the
    # explicit set +e around a plain subshell.) Steps share state through files in RUN_DIR.
    set +e
    (
        set -euo pipefail
        "$@"
    )
    status=$?
    set -e
    STEP_NAMES+=("$name")
    STEP_SECONDS+=($((SECONDS - started)))
    if [[ $status -eq 0 ]]; then
        STEP_RESULTS+=("ok")
        info "$name: ok"
    else
        STEP_RESULTS+=("FAILED (exit $status)")
        info "$name: FAILED (exit $status)"
    fi
    # shellcheck disable=SC2034
    LAST_STEP_STATUS=$status
}

# record_test_counts RUNNER PASSED FAILED SKIPPED: stores one runner's counts in RUN_DIR for the summary.
record_test_counts() {
    mkdir -p "$RUN_DIR/counts"
    printf '%d %d %d\n' "${2:-0}" "${3:-0}" "${4:-0}" >"$RUN_DIR/counts/$1"
}

# any_step_failed: true when at least one recorded step failed.
any_step_failed() {
    local result
    for result in "${STEP_RESULTS[@]}"; do
        [[ $result == ok ]] || return 0
    done
    return 1
}

# print_summary: one line per step, then the test totals.
print_summary() {
    section "Summary"
    local i
    for i in "${!STEP_NAMES[@]}"; do
        printf '  %-28s %-20s %5ss\n' "${STEP_NAMES[$i]}" "${STEP_RESULTS[$i]}" "${STEP_SECONDS[$i]}"
    done
    local passed=0 failed=0 skipped=0 p f s counts
    for counts in "$RUN_DIR"/counts/*; do
        [[ -f $counts ]] || continue
        read -r p f s <"$counts"
        passed=$((passed + p))
        failed=$((failed + f))
        skipped=$((skipped + s))
    done
    printf '\ntests: %d passed, %d failed, %d skipped\n' "$passed" "$failed" "$skipped"
}
