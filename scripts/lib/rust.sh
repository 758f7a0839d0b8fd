# Building the workspace and running its Rust tests. Sourced by scripts/test-all.

# build_workspace: builds every target of the workspace once, in the release profile, so the
# Rust tests and the end-to-end tests share the same artifacts (target/release/weft among them).
build_workspace() {
    cd "$REPO_ROOT" || return
    cargo build --release --workspace --all-targets
}

# run_rust_tests: runs the workspace's Rust tests with cargo-nextest (release profile, reusing the
# build above) and records nextest's pass/fail/skip counts.
run_rust_tests() {
    cd "$REPO_ROOT" || return
    local log="$RUN_DIR/nextest.log" status=0
    cargo nextest run --release --workspace --no-tests=warn --no-fail-fast 2>&1 | tee "$log" || status=$?
    local passed failed skipped
    read -r passed failed skipped < <(nextest_counts "$log")
    record_test_counts nextest "$passed" "$failed" "$skipped"
    return "$status"
}

# nextest_counts LOG: prints "PASSED FAILED SKIPPED" from nextest's closing Summary line.
nextest_counts() {
    local summary passed failed skipped
    summary=$(grep -E '^ *Summary \[' "$1" | tail -n 1 || true)
    passed=$(grep -oE '[0-9]+ passed' <<<"$summary" | grep -oE '[0-9]+' || echo 0)
    failed=$(grep -oE '[0-9]+ failed' <<<"$summary" | grep -oE '[0-9]+' || echo 0)
    skipped=$(grep -oE '[0-9]+ skipped' <<<"$summary" | grep -oE '[0-9]+' || echo 0)
    echo "${passed:-0} ${failed:-0} ${skipped:-0}"
}
