# Fuzzing the parsers of network input (the targets in fuzz/, cargo-fuzz with libFuzzer) for a
# fixed number of executions each. Sourced by scripts/test-all.
#
# cargo-fuzz passes nightly-only flags to rustc (-Zsanitizer, -Cpasses=sancov-module with LLVM
# options); the machine has the stable toolchain only, whose rustc accepts them under
# RUSTC_BOOTSTRAP=1. The targets are built without a sanitizer by default: the code they reach
# is safe Rust, whose panics (overflow checks included: cargo-fuzz turns debug assertions on)
# libFuzzer catches by itself, and AddressSanitizer makes them about seven times slower.
#
# Each run starts from the committed seeds (fuzz/seeds/<target>) and reproducers
# (fuzz/regressions/<target>) in a fresh corpus, with a fixed libFuzzer seed, so a run is
# repeatable; a panic, a timeout or running out of memory fails the step, and libFuzzer's
# reproducer is left in fuzz/artifacts/<target>/.
#
# Settings (environment):
#   WEFT_FUZZ_RUNS        executions for every target (default: FUZZ_RUNS below)
#   WEFT_FUZZ_SEED        libFuzzer's random seed (default 1)
#   WEFT_FUZZ_SANITIZER   cargo-fuzz's --sanitizer (default none; address works too)
#   WEFT_FUZZ_TARGET_DIR  cargo-fuzz's build directory: outside the clone by default, so a CI run
#                         in a fresh clone reuses the instrumented dependencies of the last run
#                         on this machine (a cold build takes about 4 minutes on 2 idle cores,
#                         a warm one under half a minute)

# The cargo-fuzz release installed (pinned: its flags and libFuzzer version shape the runs).
CARGO_FUZZ_VERSION=0.13.2

# Executions per target (and for targets not listed), chosen so that the step takes about two
# and a half minutes on 2 idle cores with the build warm, about four when other work shares
# them (fuzz/README.md has the rates measured).
FUZZ_RUNS_DEFAULT=500000
declare -A FUZZ_RUNS=(
    [sip_message]=800000
    [sdp]=1000000
    [digest]=1000000
    [swml]=1000000
)

# install_cargo_fuzz: installs cargo-fuzz $CARGO_FUZZ_VERSION unless that release is installed.
install_cargo_fuzz() {
    if [[ $(cargo fuzz --version 2>/dev/null) == "cargo-fuzz $CARGO_FUZZ_VERSION" ]]; then
        return 0
    fi
    info "installing cargo-fuzz $CARGO_FUZZ_VERSION"
    cargo install cargo-fuzz --version "=$CARGO_FUZZ_VERSION" --locked
}

# run_fuzz_targets: builds every fuzz target, checks that the seeds still reach what they are
# for, runs each target for its number of executions and prints its rate. Records the seed
# checks (runner fuzz-seeds) and one passed or failed test per target (runner fuzz).
run_fuzz_targets() {
    install_cargo_fuzz
    local fuzz_dir="$REPO_ROOT/fuzz" sanitizer=${WEFT_FUZZ_SANITIZER:-none}
    local target_dir=${WEFT_FUZZ_TARGET_DIR:-$HOME/.cache/weft/fuzz-target}
    local build_args=(--fuzz-dir "$fuzz_dir" --sanitizer "$sanitizer" --target-dir "$target_dir")
    export RUSTC_BOOTSTRAP=1
    cd "$REPO_ROOT" || return
    info "building the fuzz targets"
    cargo fuzz build "${build_args[@]}"
    local status=0
    run_fuzz_seed_tests "$sanitizer" "$target_dir" || status=$?
    local targets target passed=0 failed=0
    mapfile -t targets < <(cargo fuzz list --fuzz-dir "$fuzz_dir")
    [[ ${#targets[@]} -gt 0 ]] || die "no fuzz targets in $fuzz_dir"
    for target in "${targets[@]}"; do
        if run_fuzz_target "$target" "${build_args[@]}"; then
            passed=$((passed + 1))
        else
            failed=$((failed + 1))
            status=1
        fi
    done
    record_test_counts fuzz "$passed" "$failed" 0
    return "$status"
}

# fuzz_rustflags SANITIZER: the RUSTFLAGS cargo-fuzz $CARGO_FUZZ_VERSION builds with (release
# profile with debug assertions, on Linux), so that a test build reuses its instrumented
# dependencies. A mismatch only costs a rebuild of them.
fuzz_rustflags() {
    local flags=" -Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4"
    flags+=" -Cllvm-args=-sanitizer-coverage-inline-8bit-counters"
    flags+=" -Cllvm-args=-sanitizer-coverage-pc-table"
    flags+=" -Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing"
    flags+=" -Cllvm-args=-simplifycfg-branch-fold-threshold=0"
    [[ $1 == none ]] || flags+=" -Zsanitizer=$1"
    flags+=" -Cllvm-args=-sanitizer-coverage-stack-depth -Cdebug-assertions -Ccodegen-units=1"
    printf '%s' "$flags"
}

# run_fuzz_seed_tests SANITIZER TARGET_DIR: runs the fuzz crate's tests (the seeds reach
# registrations, calls and dialogs through the targets' steps) in the targets' build.
run_fuzz_seed_tests() {
    local log="$RUN_DIR/fuzz-seeds.log" host status=0
    host=$(rustc -vV | sed -n 's/^host: //p')
    info "checking that the seeds reach what they are for"
    RUSTFLAGS=$(fuzz_rustflags "$1") cargo test --manifest-path "$REPO_ROOT/fuzz/Cargo.toml" \
        --target "$host" --release --config 'profile.release.debug="line-tables-only"' \
        --target-dir "$2" --lib 2>&1 | tee "$log" || status=$?
    local result passed failed
    result=$(grep -E '^test result:' "$log" | tail -n 1 || true)
    passed=$(grep -oE '[0-9]+ passed' <<<"$result" | grep -oE '[0-9]+' || echo 0)
    failed=$(grep -oE '[0-9]+ failed' <<<"$result" | grep -oE '[0-9]+' || echo 0)
    record_test_counts fuzz-seeds "${passed:-0}" "${failed:-0}" 0
    return "$status"
}

# run_fuzz_target TARGET BUILD_ARGS...: runs one target from its seeds and reproducers; prints
# libFuzzer's closing stats, or its report from the panic (or error) on when it failed.
run_fuzz_target() {
    local target=$1
    shift
    local runs=${WEFT_FUZZ_RUNS:-${FUZZ_RUNS[$target]:-$FUZZ_RUNS_DEFAULT}}
    local corpus="$RUN_DIR/fuzz-corpus/$target" log="$RUN_DIR/fuzz-$target.log"
    local inputs=("$corpus") dir
    mkdir -p "$corpus"
    for dir in "$REPO_ROOT/fuzz/seeds/$target" "$REPO_ROOT/fuzz/regressions/$target"; do
        if [[ -d $dir ]]; then
            inputs+=("$dir")
        fi
    done
    info "fuzzing $target for $runs executions"
    local started=$SECONDS status=0
    cargo fuzz run "$@" "$target" "${inputs[@]}" -- \
        -runs="$runs" -seed="${WEFT_FUZZ_SEED:-1}" -timeout=10 -print_final_stats=1 \
        >"$log" 2>&1 || status=$?
    local seconds=$((SECONDS - started))
    if [[ $status -ne 0 ]]; then
        awk '/panicked at|ERROR: libFuzzer|==ERROR/ { found = 1 } found' "$log" | head -n 200
        grep -qE 'panicked at|ERROR: libFuzzer|==ERROR' "$log" || tail -n 80 "$log"
        info "$target: FAILED (exit $status) after ${seconds}s; reproducer in fuzz/artifacts/$target/"
        return "$status"
    fi
    local done_line
    done_line=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -n 1 || true)
    info "$target: ${done_line:-no DONE line}"
    info "$target: $runs executions in ${seconds}s ($((runs / (seconds > 0 ? seconds : 1))) exec/s with start-up)"
}
