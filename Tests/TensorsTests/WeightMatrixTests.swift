import Foundation
import Testing
import Tensors

/// Packs random weights in each format (random scales and codes, as a quantiser would emit) and
/// dequantises them independently of the C kernels.
struct PackedWeights {
    var bytes: [UInt8] = []
    var values: [Float] = []   // dequantised reference, row-major

    init(format: WeightFormat, rows: Int, columns: Int, seed: UInt64) {
        var rng = TestRandom(seed)
        func f16(_ x: Float) -> (UInt16, Float) { let h = Float16(x); return (h.bitPattern, Float(h)) }
        func put16(_ v: UInt16) { bytes.append(UInt8(v & 0xff)); bytes.append(UInt8(v >> 8)) }
        for _ in 0..<rows {
            switch format {
            case .f32:
                for _ in 0..<columns {
                    let x = rng.float(0.5)
                    withUnsafeBytes(of: x.bitPattern.littleEndian) { bytes.append(contentsOf: $0) }
                    values.append(x)
                }
            case .f16:
                for _ in 0..<columns { let (b, v) = f16(rng.float(0.5)); put16(b); values.append(v) }
            case .bf16:
                for _ in 0..<columns {
                    let b = UInt16(rng.float(0.5).bitPattern >> 16)
                    put16(b)
                    values.append(Float(bitPattern: UInt32(b) << 16))
                }
            case .q8_0:
                for _ in 0..<(columns / 32) {
                    let (db, d) = f16(abs(rng.float(0.02)) + 0.001)
                    put16(db)
                    for _ in 0..<32 { let q = Int8(bitPattern: rng.byte()); bytes.append(UInt8(bitPattern: q)); values.append(Float(q) * d) }
                }
            case .q4_0, .q4_1:
                for _ in 0..<(columns / 32) {
                    let (db, d) = f16(abs(rng.float(0.05)) + 0.001)
                    let (mb, m) = f16(rng.float(0.3))
                    put16(db)
                    if format == .q4_1 { put16(mb) }
                    let qs = (0..<16).map { _ in rng.byte() }
                    bytes.append(contentsOf: qs)
                    var block = [Float](repeating: 0, count: 32)
                    for i in 0..<16 {
                        let lo = Float(qs[i] & 0x0f), hi = Float(qs[i] >> 4)
                        if format == .q4_0 {
                            block[i] = (lo - 8) * d
                            block[i + 16] = (hi - 8) * d
                        } else {
                            block[i] = lo * d + m
                            block[i + 16] = hi * d + m
                        }
                    }
                    values.append(contentsOf: block)
                }
            }
        }
    }
}

struct WeightMatrixTests {
    static let formats: [WeightFormat] = [.f32, .f16, .bf16, .q8_0, .q4_0, .q4_1]

    @Test(arguments: formats)
    func dequantisedRowsAreExact(format: WeightFormat) {
        let rows = 5, columns = 96
        let packed = PackedWeights(format: format, rows: rows, columns: columns, seed: 7)
        let w = packed.bytes.withUnsafeBytes {
            WeightMatrix(format: format, rows: rows, columns: columns, bytes: $0, prefill: .f32)
        }
        let out = Tensor(shape: [rows, columns])
        w.gatherRows((0..<rows).map(Int32.init), into: out)
        #expect(out.toArray() == packed.values, "gatherRows must reproduce the dequantised values bit for bit")
        #expect(w.denseValues()! == packed.values, "the dense f32 copy must hold the same values")
    }

    /// Both paths (packed kernel for few rows, sgemm for many) against a Double reference.
    @Test(arguments: formats, [1, 3, 8, 9, 40, 200])
    func productMatchesReference(format: WeightFormat, m: Int) {
        let rows = 67, columns = 128
        let packed = PackedWeights(format: format, rows: rows, columns: columns, seed: 11)
        let w = packed.bytes.withUnsafeBytes {
            WeightMatrix(format: format, rows: rows, columns: columns, bytes: $0, prefill: .f32)
        }
        var rng = TestRandom(3)
        let x = Tensor(shape: [m, columns], values: rng.floats(m * columns))
        let y = Tensor(shape: [m, rows], values: rng.floats(m * rows))
        let before = y.toArray()
        w.apply(x, rows: m, into: y, accumulate: true)
        var worst: Float = 0
        for j in 0..<m {
            for r in 0..<rows {
                var dot = 0.0
                for c in 0..<columns { dot += Double(x[j * columns + c]) * Double(packed.values[r * columns + c]) }
                worst = max(worst, abs(Float(dot) + before[j * rows + r] - y[j * rows + r]))
            }
        }
        #expect(worst < 1e-4, "max |Δ| \(worst) > 1e-4 (format \(format), m \(m))")
    }

    /// The prefill GEMM across its blocking edges: k beyond one 512-wide block, a ragged last panel,
    /// row tails of every size, strided input and output, overwrite and accumulate.
    @Test(arguments: [(13, 1100, 130), (7, 64, 513), (101, 576, 65)])
    func prefillProductAcrossBlockEdges(m: Int, columns: Int, rows: Int) {
        var rng = TestRandom(UInt64(m * 31 + rows))
        let values = rng.floats(rows * columns)
        let bytes = values.withUnsafeBytes { Array($0) }
        let w = bytes.withUnsafeBytes { WeightMatrix(format: .f32, rows: rows, columns: columns, bytes: $0, prefill: .f32) }
        #expect(w.denseValues()! == values)
        let ldx = columns + 3, ldy = rows + 5
        let x = Tensor(shape: [m, ldx], values: rng.floats(m * ldx))
        for accumulate in [false, true] {
            let y = Tensor(shape: [m, ldy], values: rng.floats(m * ldy))
            let before = y.toArray()
            w.apply(x, rows: m, ldx: ldx, into: y, ldy: ldy, accumulate: accumulate)
            var worst: Float = 0
            for j in 0..<m {
                for r in 0..<ldy {
                    var expected = Double(before[j * ldy + r])
                    if r < rows {
                        var dot = 0.0
                        for c in 0..<columns { dot += Double(x[j * ldx + c]) * Double(values[r * columns + c]) }
                        expected = dot + (accumulate ? expected : 0)
                    }
                    worst = max(worst, abs(Float(expected) - y[j * ldy + r]))
                }
            }
            #expect(worst < 1e-3, "max |Δ| \(worst) (m \(m), k \(columns), n \(rows), accumulate \(accumulate))")
        }
    }

    @Test func stackingConcatenatesRows() {
        let a = PackedWeights(format: .q4_1, rows: 3, columns: 64, seed: 1)
        let b = PackedWeights(format: .q4_1, rows: 2, columns: 64, seed: 2)
        let wa = a.bytes.withUnsafeBytes { WeightMatrix(format: .q4_1, rows: 3, columns: 64, bytes: $0, prefill: nil) }
        let wb = b.bytes.withUnsafeBytes { WeightMatrix(format: .q4_1, rows: 2, columns: 64, bytes: $0, prefill: nil) }
        let s = WeightMatrix.stacking([wa, wb], prefill: .f32)
        #expect(s.rows == 5)
        #expect(s.denseValues()! == a.values + b.values)
    }

    /// Compact panels hold the stored values: the prefill product (m > packedRowLimit) through them
    /// equals the one through f32 panels bit for bit (same values, same summation order) on every
    /// kernel path, and the panels take the bytes the memory plan counts.
    @Test(arguments: formats, KernelPath.supported)
    func compactPanelsGiveTheF32PanelsOutput(format: WeightFormat, path: KernelPath) {
        let rows = 70, columns = 576, m = 29
        let packed = PackedWeights(format: format, rows: rows, columns: columns, seed: 5)
        let compactForm = PanelFormat.compact(for: format)
        let (full, compact) = packed.bytes.withUnsafeBytes { b in
            (WeightMatrix(format: format, rows: rows, columns: columns, bytes: b, prefill: .f32),
             WeightMatrix(format: format, rows: rows, columns: columns, bytes: b, prefill: compactForm))
        }
        let mapping = StableBytes(packed.bytes)   // stands in for a file mapping the matrix borrows
        let borrowed = WeightMatrix(format: format, rows: rows, columns: columns,
                                    bytes: UnsafeRawBufferPointer(mapping.buffer), owner: mapping, prefill: compactForm)
        var rng = TestRandom(9)
        let x = Tensor(shape: [m, columns], values: rng.floats(m * columns))
        let start = rng.floats(m * rows)
        var outputs: [[Float]] = []
        for w in [full, compact, borrowed] {
            let y = Tensor(shape: [m, rows], values: start)
            KernelPath.withPath(path) { w.apply(x, rows: m, into: y, accumulate: true) }
            outputs.append(y.toArray())
        }
        if KernelPath.best > .scalar && path > .scalar {   // f32 stays row-major for sgemm on scalar
            #expect(outputs[1] == outputs[0], "\(format) as \(compactForm) panels differs from f32 panels on \(path)")
        }
        let worst = zip(outputs[1], outputs[0]).map { abs($0 - $1) }.max() ?? 0
        #expect(worst < 1e-3, "\(format) as \(compactForm): max |Δ| \(worst) against the f32 copy on \(path)")
        #expect(outputs[2] == outputs[1], "a borrowed (mapped) matrix must give the copied one's output")
        let held = WeightMatrix.heldBytes(format: format, rows: rows, columns: columns, prefill: compactForm)
        #expect(compact.memoryBytes >= held.stored + held.panels && borrowed.memoryBytes == held.panels,
                "memoryBytes \(compact.memoryBytes)/\(borrowed.memoryBytes) against planned \(held)")
        if format != .f32 {
            #expect(held.panels * 2 <= rows.roundedUp(to: 16) * columns * 4,
                    "\(compactForm) panels take \(held.panels) B, not at most half of f32's")
        }
    }

    @Test func prefillWeightsChoosesExactForms() {
        #expect(PrefillWeights.auto.panelFormat(for: .f16) == .f16)
        #expect(PrefillWeights.auto.panelFormat(for: .bf16) == .bf16)
        #expect(PrefillWeights.auto.panelFormat(for: .q8_0) == .q8_0)
        #expect(PrefillWeights.auto.panelFormat(for: .q4_1) == .f32)
        #expect(PrefillWeights.compact.panelFormat(for: .q4_1) == .q8_1)
        #expect(PrefillWeights.compact.panelFormat(for: .q4_0) == .q8_0)
        #expect(PrefillWeights.f32.panelFormat(for: .q8_0) == .f32)
    }
}

/// Bytes at a fixed address for as long as the object lives.
private final class StableBytes {
    let buffer: UnsafeMutableRawBufferPointer
    init(_ bytes: [UInt8]) {
        buffer = .allocate(byteCount: max(bytes.count, 1), alignment: 64)
        buffer.copyBytes(from: bytes)
    }
    deinit { buffer.deallocate() }
}

private extension Int {
    func roundedUp(to n: Int) -> Int { (self + n - 1) / n * n }
}
