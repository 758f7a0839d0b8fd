# The Python virtual environment the end-to-end tests run in. Sourced by scripts/test-all.

# Where the venv lives and which requirements it is built from.
VENV_DIR="$REPO_ROOT/.venv"
TEST_REQUIREMENTS="$REPO_ROOT/tests/requirements.txt"

# setup_python_venv: creates .venv if it is missing or broken and installs tests/requirements.txt
# into it; skips pip when the requirements have not changed since the last successful install.
setup_python_venv() {
    if ! "$VENV_DIR/bin/python" -c 'import sys' 2>/dev/null; then
        info "creating $VENV_DIR"
        rm -rf "$VENV_DIR"
        python3 -m venv "$VENV_DIR"
    fi
    local stamp="$VENV_DIR/.requirements.sha256"
    local wanted
    wanted=$(sha256sum "$TEST_REQUIREMENTS" | cut -d' ' -f1)
    if [[ -f $stamp && $(<"$stamp") == "$wanted" ]]; then
        info "requirements already installed ($(basename "$TEST_REQUIREMENTS") unchanged)"
        return 0
    fi
    info "installing $(basename "$TEST_REQUIREMENTS") into $VENV_DIR"
    "$VENV_DIR/bin/python" -m pip install --disable-pip-version-check -q -r "$TEST_REQUIREMENTS"
    printf '%s\n' "$wanted" >"$stamp"
}
