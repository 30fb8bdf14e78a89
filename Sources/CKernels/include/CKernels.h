// Hand-vectorised CPU kernels for fastkv. All pointers are borrowed; nothing here allocates
// except the thread pool. Layouts are row-major; "rows" of a weight matrix are output features.
#pragma once
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Weight storage formats understood by the matrix kernels (ggml block layouts for the quantised ones).
typedef enum {
    FKV_F32 = 0,
    FKV_F16 = 1,
    FKV_BF16 = 2,
    FKV_Q8_0 = 3,   // 32 weights / 34 bytes: f16 d, int8 q[32]; w = q*d
    FKV_Q4_0 = 4,   // 32 weights / 18 bytes: f16 d, 16 bytes; w = (nibble-8)*d
    FKV_Q4_1 = 5,   // 32 weights / 20 bytes: f16 d, f16 m, 16 bytes; w = nibble*d + m
} fkv_format;

/// Instruction-set paths of the kernels, lowest first (cpu.c is the one dispatch point).
typedef enum {
    FKV_PATH_SCALAR = 0,   // portable C: the reference the vector kernels are tested against
    FKV_PATH_AVX2 = 1,     // AVX2 + FMA + F16C
    FKV_PATH_AVX512 = 2,   // AVX-512 F/BW/VL/DQ
} fkv_path;

/// The best path this CPU (and this build) supports. Detected once.
fkv_path fkv_best_kernel_path(void);

/// The path the kernels use: the calling thread's override if any, else the process-wide one (the
/// best, lowered by FASTKV_KERNELS=scalar|avx2|avx512). A path the CPU lacks is clamped to the best
/// one, with one message on stderr (as is an unknown name).
fkv_path fkv_kernel_path(void);

/// Forces the kernels onto `path` (clamped to fkv_best_kernel_path()) and returns the path now in
/// use. For tests and benchmarks; each kernel call reads the path once, at its start.
fkv_path fkv_set_kernel_path(fkv_path path);

/// Overrides the path for kernel calls made from the calling thread (clamped like
/// fkv_set_kernel_path); a negative value removes the override. Returns the previous override
/// (negative if none), so callers can restore it. Kernels that the pool runs on other threads take
/// the path of the call that started them. For tests that run beside others in one process.
int fkv_set_thread_kernel_path(int path);

/// "scalar", "avx2" or "avx512".
const char *fkv_kernel_path_name(fkv_path path);

/// The CPU's brand string from cpuid (e.g. "AMD EPYC"), or "unknown". For benchmark headers.
const char *fkv_cpu_name(void);

/// Parses a path name as above; returns 0 (and leaves *path alone) for anything else.
int fkv_parse_kernel_path(const char *name, fkv_path *path);

/// Bytes of one row of `cols` weights in `format` (cols must be a multiple of 32 for block formats).
size_t fkv_row_bytes(fkv_format format, size_t cols);

/// Sets the number of threads used by the parallel kernels (1 ... 64). Call before first use.
void fkv_set_threads(int threads);
int fkv_get_threads(void);

/// y[m][rows] (+)= x[m][cols] · W[rows][cols]ᵀ for m input vectors, W in `format`.
/// x rows are `ldx` floats apart, y rows `ldy` floats apart. When `accumulate` is non-zero the
/// result is added to y (used for the residual stream). Parallel over rows.
void fkv_matmul(fkv_format format, const void *w, size_t rows, size_t cols,
                const float *x, size_t ldx, size_t m, float *y, size_t ldy, int accumulate);

/// Tests only: while `refuse` is non-zero every heap scratch fkv_matmul asks for is refused, as if
/// malloc had failed, so the scalar fallback runs. The count is the fallbacks taken since start.
void fkv_matmul_refuse_scratch(int refuse);
size_t fkv_matmul_scratch_fallbacks(void);

/// The kernel fkv_matmul runs for a path, a weight format, a row length and m input vectors.
typedef enum {
    FKV_MM_SCALAR,                // the reference
    FKV_MM_GENERIC,               // each block unpacked once for up to four vectors
    FKV_MM_ROWS4_M1,              // one vector, four rows at a time
    FKV_MM_ROW1_M1,               // one vector, one row at a time (long block-format rows)
    FKV_MM_Q4_ROWS4_M1,           // Q4_0/Q4_1, one vector, mask-and-convert unpacking, four rows at a time
    FKV_MM_Q4_ROW1_M1,            // the same, one row at a time
    FKV_MM_Q8_ROWS4_M1_AVX512,    // Q8_0, one vector, 16 lanes, four rows at a time
    FKV_MM_Q8_ROW1_M1_AVX512,     // the same, one row at a time
    FKV_MM_TILED,                 // a tile of rows dequantised once for all vectors
} fkv_matmul_kernel;
fkv_matmul_kernel fkv_matmul_kernel_for(fkv_path path, fkv_format format, size_t cols, size_t m);
const char *fkv_matmul_kernel_name(fkv_matmul_kernel kernel);

/// Dequantises row `row` of W into dst[cols] (bit-exact with the reference dequantisers: no FMA).
void fkv_dequant_row(fkv_format format, const void *w, size_t cols, size_t row, float *dst);

/// Single-query attention over a dense cache for one KV head and its G query heads.
/// q: [G][d]; k, v: [len][d]; out: [G][d]; scratch: >= G*len floats.
/// out_g = softmax(q_g·kᵀ·scale) · v.
void fkv_attend_one(const float *q, size_t group, const float *k, const float *v, size_t len,
                    size_t d, float scale, float *out, float *scratch);

/// The same over one chunk of the keys, unnormalised: out[g] = Σ_j e^{s_j − mx[g]}·v_j with
/// mx[g] = max_j s_j and sum[g] = Σ_j e^{s_j − mx[g]} (s = q_g·kᵀ·scale). len = 0 gives mx = −∞,
/// sum = 0, out = 0. scratch: >= G*len floats.
void fkv_attend_partial(const float *q, size_t group, const float *k, const float *v, size_t len, size_t d,
                        float scale, float *out, float *mx, float *sum, float *scratch);

/// `fkv_attend_one` over an f16 cache: k, v hold IEEE binary16 bits [len][d] and are converted to
/// f32 as they are loaded (F16C on the vector paths); q, out and the arithmetic stay f32.
void fkv_attend_one_f16(const float *q, size_t group, const uint16_t *k, const uint16_t *v, size_t len,
                        size_t d, float scale, float *out, float *scratch);

/// `fkv_attend_partial` over an f16 cache (k, v as in `fkv_attend_one_f16`); the results merge
/// with `fkv_attend_merge` like the f32 ones.
void fkv_attend_partial_f16(const float *q, size_t group, const uint16_t *k, const uint16_t *v, size_t len,
                            size_t d, float scale, float *out, float *mx, float *sum, float *scratch);

/// dst[i] = src[i] as IEEE binary16, rounded to nearest even (overflow → ±inf, NaN stays NaN); the
/// same bits on every path (vcvtps2ph on AVX2/AVX-512, portable C on scalar).
void fkv_f32_to_f16(const float *src, uint16_t *dst, size_t n);

/// dst[i] = src[i] (IEEE binary16 bits) as f32, exactly; the same values on every path.
void fkv_f16_to_f32(const uint16_t *src, float *dst, size_t n);

/// Merges `chunks` partial results of the same G heads (outs: [chunks][G][d], mxs/sums:
/// [chunks][G]) into the normalised attention output out: [G][d].
void fkv_attend_merge(size_t chunks, size_t group, size_t d, const float *outs, const float *mxs,
                      const float *sums, float *out);

/// Whether fkv_gemm_packed is the fast prefill path on the current kernel path (AVX2 or AVX-512,
/// and FASTKV_GEMM is not "openblas"); otherwise use cblas_sgemm. fkv_gemm_packed itself runs on
/// every path (the scalar one is the reference).
int fkv_gemm_available(void);

/// Floats needed to pack a W of n rows (output features) × k columns for fkv_gemm_packed.
size_t fkv_gemm_packed_floats(size_t n, size_t k);

/// Packs W [n][k] row-major into panels of 16 output features, [k][16] each, zero padded.
/// `packed` must be 64-byte aligned and hold fkv_gemm_packed_floats(n, k) floats.
void fkv_gemm_pack(const float *w, size_t n, size_t k, float *packed);

/// C[m][n] (+)= A[m][k] · Wᵀ with W packed by fkv_gemm_pack; A rows lda apart, C rows ldc apart.
/// Parallel over (64 features = 4 panels, row block) tasks. Runs on every kernel path.
void fkv_gemm_packed(size_t m, size_t n, size_t k, const float *a, size_t lda, const float *packed,
                     float *c, size_t ldc, int accumulate);

/// Runs fn(ctx, task, worker) for task in [0, tasks) on the pool. The caller's thread takes part
/// as worker 0; `worker` < fkv_get_threads() indexes per-thread scratch. Tasks are handed out in
/// increasing order. A call made while another region runs executes inline as worker 0.
typedef void (*fkv_task_fn)(void *ctx, size_t task, size_t worker);
void fkv_parallel_for(size_t tasks, fkv_task_fn fn, void *ctx);

#ifdef __cplusplus
}
#endif

#ifdef __cplusplus
extern "C" {
#endif
/// A fast non-cryptographic 64-bit hash (4 independent multiply-rotate lanes), used to fingerprint
/// model weights so that prefill and decode processes can prove they run the same model.
uint64_t fkv_hash64(const void *data, size_t length, uint64_t seed);
#ifdef __cplusplus
}
#endif

// ---------------------------------------------------------------------------------------------
// Compact prefill panels (gemm.c, gemm_pack.c): the prefill GEMM reads weights in a compact panel
// form and converts them to f32 inside the micro-kernel, so no f32 copy of the weights is needed.
#ifdef __cplusplus
extern "C" {
#endif
/// Element forms of the GEMM's 16-feature panels. The compact ones hold a stored format's own
/// values: f16 ← F16, bf16 ← BF16, q8_0 ← Q8_0 or Q4_0, q8_1 ← Q4_1 (w = q·d + m); f32 ← any.
typedef enum {
    FKV_PANEL_F32 = 0,
    FKV_PANEL_F16 = 1,
    FKV_PANEL_BF16 = 2,
    FKV_PANEL_Q8_0 = 3,   // per (32 k, feature): f32 scale; int8 q
    FKV_PANEL_Q8_1 = 4,   // the same plus an f32 min
} fkv_panel;

/// Whether weights stored as `format` can be packed into `panel` without rounding.
int fkv_gemm_panel_accepts(fkv_panel panel, fkv_format format);

/// Bytes of one 16-feature panel over k steps (k a multiple of 32 for the q8 forms).
size_t fkv_gemm_panel_stride(fkv_panel panel, size_t k);

/// Bytes needed to pack W [n][k] into `panel` form (0 when k does not suit the form).
size_t fkv_gemm_panel_bytes(fkv_panel panel, size_t n, size_t k);

/// Packs W [n][k] stored as `format` (rows fkv_row_bytes apart) into panels; `scratch` holds k
/// floats (used by the f32 form), `packed` is 64-byte aligned and fkv_gemm_panel_bytes long.
/// Returns 0 (and writes nothing) when the pair is not accepted.
int fkv_gemm_pack_weights(fkv_panel panel, fkv_format format, const void *w, size_t n, size_t k, float *scratch,
                          void *packed);

/// C[m][n] (+)= A[m][k] · Wᵀ with W packed by fkv_gemm_pack_weights in `panel` form (fkv_gemm_packed
/// is the f32 case). Runs on every kernel path; the scalar one is the reference.
void fkv_gemm_compact(fkv_panel panel, size_t m, size_t n, size_t k, const float *a, size_t lda,
                      const void *packed, float *c, size_t ldc, int accumulate);

/// Most input rows fkv_gemv_panels runs its own kernels for; more go to fkv_gemm_compact.
#define FKV_GEMV_MAX_ROWS 8

/// The product of fkv_gemm_compact for small m (decode: m = 1, or the rows of a small batch): each
/// 16-feature panel is streamed once with one accumulator per input row, parallel over panels, so
/// a matrix held only as panels decodes at memory speed. Same arguments and result as
/// fkv_gemm_compact up to float reassociation (one FMA chain over k instead of k blocks); m above
/// FKV_GEMV_MAX_ROWS and the scalar path run fkv_gemm_compact itself.
void fkv_gemv_panels(fkv_panel panel, size_t m, size_t n, size_t k, const float *a, size_t lda,
                     const void *packed, float *c, size_t ldc, int accumulate);

// ---------------------------------------------------------------------------------------------
// Flash-style prefill attention (prefill_attention.c).
/// Tokens per query block and per key block of fkv_prefill_attention.
#define FKV_PREFILL_BLOCK 64

/// Floats of scratch one worker of fkv_prefill_attention needs for G = `group` query heads per KV
/// head and head size d (independent of the token count: a few blocks).
size_t fkv_prefill_attention_scratch_floats(size_t group, size_t d);

/// Causal grouped-query attention over n tokens (prefill), flash-style: query blocks against key
/// blocks with an online softmax, blocks above the diagonal skipped, parallel over (KV head, query
/// block) tasks. Token i attends to tokens 0 … i (row order is position order).
/// q: rows ldq floats apart, query head h of token i at q[i·ldq + h·d]; k, v likewise with KV head
/// kh at k[i·ldk + kh·d], v[i·ldv + kh·d]; out[i·ldo + h·d …] = softmax(q_h·Kᵀ·scale)·V of KV head
/// h / (heads / kv_heads). heads must be a multiple of kv_heads. scratch: 64-byte aligned,
/// fkv_get_threads() × fkv_prefill_attention_scratch_floats(heads / kv_heads, d) floats.
void fkv_prefill_attention(size_t n, size_t heads, size_t kv_heads, size_t d, const float *q, size_t ldq,
                           const float *k, size_t ldk, const float *v, size_t ldv, float scale, float *out,
                           size_t ldo, float *scratch);
#ifdef __cplusplus
}
#endif
