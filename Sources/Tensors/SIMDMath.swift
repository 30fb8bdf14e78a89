/// Vector math helpers for the kernels. Everything works on raw pointers with explicit SIMD16
/// accumulators: Swift never vectorises strict-IEEE scalar reductions, and `[Float]` bounds checks
/// block vectorisation (swift-performance.md §5.2–5.5).
@usableFromInline typealias F16x = SIMD16<Float>

/// Cephes-style exp on 16 lanes (relative error ~2e-7 on [-87, 88]); ~7× faster than libm expf.
@inlinable @inline(__always)
func simdExp(_ input: SIMD16<Float>) -> SIMD16<Float> {
    // Clamp with compare+blend: pointwiseMin/Max go lane by lane (NaN rules) and cost ~20× more.
    let lo = SIMD16<Float>(repeating: -87.3), hi = SIMD16<Float>(repeating: 88.3)
    let x = input.replacing(with: lo, where: input .< lo).replacing(with: hi, where: input .> hi)
    let magic = SIMD16<Float>(repeating: 12582912.0)   // 1.5 · 2^23: rounds to nearest integer
    let t = x * 1.44269504088896341 + magic
    let fx = t - magic
    var r = x - fx * 0.693359375
    r = r + fx * 2.12194440e-4
    var y = SIMD16<Float>(repeating: 1.9875691500e-4)
    y = y * r + 1.3981999507e-3
    y = y * r + 8.3334519073e-3
    y = y * r + 4.1665795894e-2
    y = y * r + 1.6666665459e-1
    y = y * r + 5.0000001201e-1
    y = y * (r * r) + r + 1
    let n = unsafeBitCast(t, to: SIMD16<Int32>.self) &- 0x4B40_0000
    return y * unsafeBitCast((n &+ 127) &<< 23, to: SIMD16<Float>.self)
}

@inlinable @inline(__always)
func load16(_ p: UnsafePointer<Float>) -> SIMD16<Float> {
    UnsafeRawPointer(p).loadUnaligned(as: SIMD16<Float>.self)
}

@inlinable @inline(__always)
func store16(_ v: SIMD16<Float>, _ p: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD16<Float>.self)
}

/// Σ x[i]² over n floats.
@inlinable
func sumOfSquares(_ x: UnsafePointer<Float>, _ n: Int) -> Float {
    var acc = SIMD16<Float>.zero
    var i = 0
    while i + 16 <= n { let v = load16(x + i); acc.addProduct(v, v); i += 16 }
    var s = acc.sum()
    while i < n { s += x[i] * x[i]; i += 1 }
    return s
}

/// In-place softmax of x[0..<n]; entries x[n..<total] are set to zero.
@inlinable
func softmaxInPlace(_ x: UnsafeMutablePointer<Float>, _ n: Int, total: Int) {
    var i = 0
    var vmax = SIMD16<Float>(repeating: -.infinity)
    while i + 16 <= n { let v = load16(x + i); vmax = vmax.replacing(with: v, where: v .> vmax); i += 16 }
    var mx = vmax.max()
    while i < n { mx = max(mx, x[i]); i += 1 }
    let vm = SIMD16<Float>(repeating: mx)
    var vsum = SIMD16<Float>.zero
    i = 0
    while i + 16 <= n {
        let e = simdExp(load16(x + i) - vm)
        store16(e, x + i)
        vsum += e
        i += 16
    }
    var sum = vsum.sum()
    while i < n {
        let e = simdExp(SIMD16<Float>(repeating: x[i] - mx))[0]
        x[i] = e
        sum += e
        i += 1
    }
    let inv = 1 / sum
    let vinv = SIMD16<Float>(repeating: inv)
    i = 0
    while i + 16 <= n { store16(load16(x + i) * vinv, x + i); i += 16 }
    while i < n { x[i] *= inv; i += 1 }
    if total > n { (x + n).update(repeating: 0, count: total - n) }
}
