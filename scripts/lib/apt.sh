# System packages the tests need, from Debian's archive. Sourced by scripts/test-all.

# Debian packages the test suite always needs: PostgreSQL 15 (Debian 12's) for the PostgreSQL
# variant of the end-to-end tests; Prometheus (its server and `promtool`) for the metrics and
# deploy-kit tests; baresip-core (baresip 1.0.0, a headless SIP user agent) and sip-tester (SIPp,
# /usr/bin/sipp) as the SIP peers of the SIP end-to-end tests (tests/e2e/sip_peers.py); espeak-ng,
# the default text-to-speech command of SWML's `say:` (weft-audio's tts tests and issue 13's e2e).
# python3-venv is added only when python3 cannot create a venv.
APT_PACKAGES=(postgresql prometheus baresip-core sip-tester espeak-ng)

# apt_missing PACKAGE...: prints the packages of the list that dpkg does not report as installed.
apt_missing() {
    local package
    for package in "$@"; do
        if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed'; then
            printf '%s\n' "$package"
        fi
    done
}

# install_system_packages: installs APT_PACKAGES (plus python3-venv when python3 cannot create a
# venv); does nothing, not even `apt-get update`, when all are present already.
install_system_packages() {
    local wanted=("${APT_PACKAGES[@]}")
    if ! python3 -c 'import ensurepip, venv' 2>/dev/null; then
        wanted+=(python3-venv)
    fi
    local missing
    mapfile -t missing < <(apt_missing "${wanted[@]}")
    if [[ ${#missing[@]} -eq 0 ]]; then
        info "already installed: ${wanted[*]}"
        return 0
    fi
    info "installing: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    as_root apt-get update -q
    as_root apt-get install -y -q --no-install-recommends "${missing[@]}"
}
