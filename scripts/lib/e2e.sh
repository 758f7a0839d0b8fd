# The end-to-end tests (pytest over tests/e2e/ against the real weft binary). Sourced by scripts/test-all.

# run_e2e_tests: runs pytest with WEFT_BIN and WEFT_TEST_POSTGRES_URL exported and records its
# counts. Fails when the PostgreSQL step did not leave a URL, so the PostgreSQL variants can never
# be skipped silently.
run_e2e_tests() {
    cd "$REPO_ROOT" || return
    [[ -s $RUN_DIR/postgres.url ]] || die "no PostgreSQL URL: the PostgreSQL step failed"
    export WEFT_BIN="$REPO_ROOT/target/release/weft"
    export WEFT_TEST_POSTGRES_URL
    WEFT_TEST_POSTGRES_URL=$(<"$RUN_DIR/postgres.url")
    [[ -x $WEFT_BIN ]] || die "$WEFT_BIN was not built"
    local report="$RUN_DIR/e2e-junit.xml" status=0
    "$VENV_DIR/bin/python" -m pytest "$REPO_ROOT/tests/e2e" -p no:cacheprovider \
        --junitxml="$report" </dev/null || status=$?
    local passed failed skipped
    read -r passed failed skipped < <(junit_counts "$report")
    record_test_counts e2e "$passed" "$failed" "$skipped"
    return "$status"
}

# junit_counts REPORT: prints "PASSED FAILED SKIPPED" from a JUnit XML report.
junit_counts() {
    [[ -f $1 ]] || { echo "0 0 0"; return 0; }
    "$VENV_DIR/bin/python" - "$1" <<'PY'
import sys
import xml.etree.ElementTree as ET

root = ET.parse(sys.argv[1]).getroot()
suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
total = sum(int(s.get("tests", 0)) for s in suites)
failed = sum(int(s.get("failures", 0)) + int(s.get("errors", 0)) for s in suites)
skipped = sum(int(s.get("skipped", 0)) for s in suites)
print(total - failed - skipped, failed, skipped)
PY
}
