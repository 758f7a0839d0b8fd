# The browser tests: tests/browser (node's test runner; playwright-core drives Debian's headless
# Chromium against a real weft). Sourced by scripts/test-all.

BROWSER_DIR="$REPO_ROOT/tests/browser"
CHROMIUM_BIN=/usr/bin/chromium

# install_browser_tools: Debian's chromium (and Node.js/npm) when missing, then the npm packages of
# tests/browser from its committed package-lock.json (`npm ci`), only when the lockfile changed.
install_browser_tools() {
    local missing=()
    command -v node >/dev/null || missing+=(nodejs)
    command -v npm >/dev/null || missing+=(npm)
    [[ -x $CHROMIUM_BIN ]] || missing+=(chromium)
    if [[ ${#missing[@]} -gt 0 ]]; then
        info "installing: ${missing[*]}"
        export DEBIAN_FRONTEND=noninteractive
        as_root apt-get update -q
        as_root apt-get install -y -q --no-install-recommends "${missing[@]}"
    fi
    local stamp="$BROWSER_DIR/node_modules/.weft-package-lock.sha256" wanted
    wanted=$(sha256sum "$BROWSER_DIR/package-lock.json" | cut -d' ' -f1)
    if [[ -f $stamp && $(<"$stamp") == "$wanted" ]]; then
        info "npm packages of tests/browser are up to date"
        return 0
    fi
    info "installing the npm packages of tests/browser (npm ci)"
    (cd "$BROWSER_DIR" && npm ci --no-audit --no-fund)
    printf '%s\n' "$wanted" >"$stamp"
}

# run_browser_tests: installs what the browser tests need, runs them against the release build
# and records their counts. Saves screenshots under tests/artifacts/.
run_browser_tests() {
    install_browser_tools
    export WEFT_BIN="$REPO_ROOT/target/release/weft" CHROMIUM_BIN
    [[ -x $WEFT_BIN ]] || die "$WEFT_BIN was not built"
    local tap="$RUN_DIR/browser.tap" status=0
    (cd "$BROWSER_DIR" && node --test --test-concurrency=1 --test-timeout=300000 \
        --test-reporter=spec --test-reporter-destination=stdout \
        --test-reporter=tap --test-reporter-destination="$tap" ./*.test.js </dev/null) || status=$?
    local passed failed skipped
    passed=$(tap_count pass "$tap")
    failed=$(tap_count fail "$tap")
    skipped=$(tap_count skipped "$tap")
    record_test_counts browser "$passed" "$failed" "$skipped"
    return "$status"
}

# tap_count NAME TAP: the "# NAME N" total of a node --test TAP report (0 when absent).
tap_count() {
    local n
    n=$(grep -E "^# $1 [0-9]+$" "$2" 2>/dev/null | tail -1 | awk '{print $3}')
    printf '%d\n' "${n:-0}"
}
