#!/usr/bin/env bash
# Checks the AVX-512 prefill attention tiles on a CPU without AVX-512: rewrites a copy of
# Sources/CKernels/prefill_attention.c and vec_math.h so that every _mm512_* intrinsic is SIMDe's
# portable one (apt libsimde-dev), forces the path from the harness, and compares all three paths
# with a Double reference (scripts/emulation/prefill_attention_check.c). Needs gcc; builds in a
# temporary folder, changes nothing in the tree. Exit status 1 on a mismatch.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
S=$root/Sources/CKernels
[ -f /usr/include/simde/x86/avx512.h ] || apt-get install -y -q libsimde-dev >/dev/null
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
conv='s/\b_mm512_/simde_mm512_/g; s/\b__m512i\b/simde__m512i/g; s/\b__m512\b/simde__m512/g; s/\b__mmask16\b/simde__mmask16/g'
# SIMDe 0.7.4 lacks four of the intrinsics used; lane-by-lane stand-ins.
cat > "$tmp/shim.h" <<'SHIM'
#include <simde/x86/avx512.h>
static inline float simde_mm512_reduce_max_ps(simde__m512 v) { float a[16]; simde_mm512_storeu_ps(a, v); float m = a[0]; for (int i = 1; i < 16; i++) m = a[i] > m ? a[i] : m; return m; }
static inline float simde_mm512_reduce_add_ps(simde__m512 v) { float a[16]; simde_mm512_storeu_ps(a, v); float s = 0; for (int i = 0; i < 16; i++) s += a[i]; return s; }
static inline simde__m512 simde_mm512_maskz_loadu_ps(simde__mmask16 k, const float *p) { float a[16]; for (int i = 0; i < 16; i++) a[i] = (k >> i) & 1 ? p[i] : 0.f; return simde_mm512_loadu_ps(a); }
static inline void simde_mm512_mask_storeu_ps(float *p, simde__mmask16 k, simde__m512 v) { float a[16]; simde_mm512_storeu_ps(a, v); for (int i = 0; i < 16; i++) if ((k >> i) & 1) p[i] = a[i]; }
SHIM
sed -e "$conv" -e 's|^#define FKV_AVX512 .*|#define FKV_AVX512\n#include "shim.h"|' "$S/vec_math.h" > "$tmp/vec_math.h"
sed -e "$conv" -e 's/switch (fkv_kernel_path())/switch (emulated_path)/' \
    -e 's/^#include "vec_math.h"/#include "vec_math.h"\nint emulated_path = 0;/' "$S/prefill_attention.c" > "$tmp/prefill_attention.c"
grep -q 'switch (emulated_path)' "$tmp/prefill_attention.c" || { echo "check-avx512-emulated: the path switch moved; update this script" >&2; exit 2; }
gcc -O2 -march=x86-64-v3 -ffp-contract=off -Wno-psabi -I "$S/include" -I "$tmp" "$root/scripts/emulation/prefill_attention_check.c" \
    "$tmp/prefill_attention.c" "$S/cpu.c" "$S/pool.c" -lm -lpthread -o "$tmp/check"
"$tmp/check"
