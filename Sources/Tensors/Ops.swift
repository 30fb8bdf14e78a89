/// Row-wise kernels of the Llama forward pass. Tensors are row-major; "rows" are tokens.
public enum Ops {
    /// out[r, :] = x[r, :] / sqrt(mean(x[r, :]²) + ε) · weight, for r in 0..<rows.
    /// x, out: [≥rows, width]; weight: [width]. `out` may be `x`.
    public static func rmsNorm(_ x: Tensor, rows: Int, weight: Tensor, epsilon: Float, into out: Tensor) {
        let width = weight.count
        precondition(x.count >= rows * width && out.count >= rows * width, "rmsNorm shape mismatch")
        x.withUnsafeMutablePointer { xp in
            out.withUnsafeMutablePointer { op in
                weight.withUnsafeMutablePointer { wp in
                    forEachRowRange(rows) { r in
                        let src = xp + r * width, dst = op + r * width
                        // HF computes the mean of squares in f32 and multiplies by rsqrt, then by weight.
                        let scale = 1 / (sumOfSquares(src, width) / Float(width) + epsilon).squareRoot()
                        var i = 0
                        let vs = SIMD16<Float>(repeating: scale)
                        while i + 16 <= width { store16(load16(wp + i) * (load16(src + i) * vs), dst + i); i += 16 }
                        while i < width { dst[i] = wp[i] * (src[i] * scale); i += 1 }
                    }
                }
            }
        }
    }

    /// Rotates `headCount` heads of width `headDim` starting at column `column` of each row, in place,
    /// with HF's rotate-half layout: (x₁, x₂) → (x₁·cos − x₂·sin, x₂·cos + x₁·sin), halves of d/2.
    /// x: [≥rows, rowStride]; positions[r] selects the angle row of `table`.
    public static func applyRoPE(_ x: Tensor, rows: Int, rowStride: Int, column: Int, headCount: Int,
                                 headDim: Int, positions: [Int32], table: RoPETable) {
        let half = headDim / 2
        precondition(half == table.halfDim && positions.count >= rows, "RoPE shape mismatch")
        x.withUnsafeMutablePointer { xp in
            table.withTables { cosp, sinp in
                forEachRowRange(rows) { r in
                    let pos = Int(positions[r])
                    precondition(pos >= 0 && pos < table.positionCount, "position \(pos) beyond RoPE table")
                    let c = cosp + pos * half, s = sinp + pos * half
                    for h in 0..<headCount {
                        let a = xp + r * rowStride + column + h * headDim, b = a + half
                        var i = 0
                        while i + 16 <= half {
                            let x1 = load16(a + i), x2 = load16(b + i), cv = load16(c + i), sv = load16(s + i)
                            store16(x1 * cv - x2 * sv, a + i)
                            store16(x2 * cv + x1 * sv, b + i)
                            i += 16
                        }
                        while i < half {
                            let x1 = a[i], x2 = b[i]
                            a[i] = x1 * c[i] - x2 * s[i]
                            b[i] = x2 * c[i] + x1 * s[i]
                            i += 1
                        }
                    }
                }
            }
        }
    }

    /// out[r, i] = silu(gateUp[r, i]) · gateUp[r, width + i] for i < width (SwiGLU).
    /// gateUp: [≥rows, 2·width] (gate | up); out: [≥rows, width].
    public static func siluMultiply(_ gateUp: Tensor, rows: Int, width: Int, into out: Tensor) {
        precondition(gateUp.count >= rows * 2 * width && out.count >= rows * width, "siluMultiply shape mismatch")
        gateUp.withUnsafeMutablePointer { gp in
            out.withUnsafeMutablePointer { op in
                forEachRowRange(rows) { r in
                    let g = gp + r * 2 * width, u = g + width, o = op + r * width
                    var i = 0
                    while i + 16 <= width {
                        let gv = load16(g + i)
                        store16(gv / (1 + simdExp(-gv)) * load16(u + i), o + i)
                        i += 16
                    }
                    while i < width {
                        let gv = g[i]
                        o[i] = gv / (1 + simdExp(SIMD16<Float>(repeating: -gv))[0]) * u[i]
                        i += 1
                    }
                }
            }
        }
    }

    /// dst[i, :] = src[rows[i], :] for rows of width `width` (gathers the residual stream after TSP).
    public static func gatherRows(_ src: Tensor, rows: [Int], width: Int, into dst: Tensor) {
        precondition(dst.count >= rows.count * width)
        src.withUnsafeMutablePointer { sp in
            dst.withUnsafeMutablePointer { dp in
                for (i, r) in rows.enumerated() {
                    precondition(r >= 0 && (r + 1) * width <= src.count)
                    (dp + i * width).update(from: sp + r * width, count: width)
                }
            }
        }
    }

    /// Copies rows [from, from+count) of width `width` from `src` into `dst` starting at row `at`.
    public static func copyRows(_ src: Tensor, from: Int, count: Int, width: Int, into dst: Tensor, at: Int) {
        precondition((from + count) * width <= src.count && (at + count) * width <= dst.count)
        src.withUnsafeMutablePointer { sp in
            dst.withUnsafeMutablePointer { dp in (dp + at * width).update(from: sp + from * width, count: count * width) }
        }
    }
}

/// Runs `body(r)` for every row r in 0..<rows: inline for a few rows (decode), else split over the
/// compute pool in contiguous ranges, so prefill's row-wise kernels are not a serial section.
@inline(__always)
func forEachRowRange(_ rows: Int, _ body: (Int) -> Void) {
    let minimumRowsPerTask = 32
    let tasks = min(ComputePool.threadCount * 2, rows / minimumRowsPerTask)
    if tasks <= 1 {
        for r in 0..<rows { body(r) }
        return
    }
    let per = (rows + tasks - 1) / tasks
    ComputePool.run(tasks: tasks) { task, _ in
        for r in (task * per)..<min(rows, (task + 1) * per) { body(r) }
    }
}
