import Foundation
import Testing
import Tensors

struct OpsTests {
    @Test func rmsNormMatchesReference() {
        var rng = TestRandom(1)
        let rows = 3, width = 70
        let x = Tensor(shape: [rows, width], values: rng.floats(rows * width, 3))
        let w = Tensor(shape: [width], values: rng.floats(width))
        let out = Tensor(shape: [rows, width])
        Ops.rmsNorm(x, rows: rows, weight: w, epsilon: 1e-5, into: out)
        for r in 0..<rows {
            let ref = Reference.rmsNorm(x.row(r), weight: w.toArray(), epsilon: 1e-5)
            let diff = Reference.maxAbsDiff(ref, out.row(r))
            #expect(diff < 1e-5, "row \(r): max |Δ| \(diff)")
        }
    }

    @Test func ropeRotatesHalvesByPositionAngle() {
        var rng = TestRandom(2)
        let d = 48, heads = 3, rows = 4, stride = heads * d + 5
        let x = Tensor(shape: [rows, stride], values: rng.floats(rows * stride))
        let original = x.toArray()
        let table = RoPETable(headDim: d, theta: 10000, positionCount: 100)
        let positions: [Int32] = [0, 7, 31, 99]
        Ops.applyRoPE(x, rows: rows, rowStride: stride, column: 2, headCount: heads, headDim: d,
                      positions: positions, table: table)
        var worst: Float = 0
        for r in 0..<rows {
            for h in 0..<heads {
                for i in 0..<(d / 2) {
                    let angle = Double(positions[r]) * pow(10000.0, -Double(2 * i) / Double(d))
                    let a = Double(original[r * stride + 2 + h * d + i]), b = Double(original[r * stride + 2 + h * d + i + d / 2])
                    worst = max(worst, abs(Float(a * cos(angle) - b * sin(angle)) - x[r * stride + 2 + h * d + i]))
                    worst = max(worst, abs(Float(b * cos(angle) + a * sin(angle)) - x[r * stride + 2 + h * d + i + d / 2]))
                }
            }
            // Columns outside the rotated heads are untouched.
            #expect(x[r * stride] == original[r * stride] && x[r * stride + stride - 1] == original[r * stride + stride - 1])
        }
        #expect(worst < 1e-4, "max |Δ| \(worst)")
    }

    @Test func siluMultiplyMatchesReference() {
        var rng = TestRandom(3)
        let rows = 2, width = 37
        let gu = Tensor(shape: [rows, 2 * width], values: rng.floats(rows * 2 * width, 8))
        let out = Tensor(shape: [rows, width])
        Ops.siluMultiply(gu, rows: rows, width: width, into: out)
        var worst: Float = 0
        for r in 0..<rows {
            for i in 0..<width {
                let g = Double(gu[r * 2 * width + i]), u = Double(gu[r * 2 * width + width + i])
                worst = max(worst, abs(Float(g / (1 + exp(-g)) * u) - out[r * width + i]))
            }
        }
        #expect(worst < 1e-5, "max |Δ| \(worst)")
    }

    @Test func softmaxMasksTail() {
        var rng = TestRandom(4)
        let values = rng.floats(40, 20)
        let t = Tensor(shape: [40], values: values)
        t.withUnsafeMutablePointer { Gemm.softmax($0, valid: 33, count: 40) }
        let ref = Reference.softmax(Array(values[0..<33]))
        #expect(Reference.maxAbsDiff(ref, Array(t.toArray()[0..<33])) < 1e-6)
        #expect(t.toArray()[33...].allSatisfy { $0 == 0 })
    }

    @Test func poolRunsEveryTaskOnce() {
        let counts = Tensor(shape: [1000], zeroed: true)
        counts.withUnsafeMutablePointer { p in
            ComputePool.run(tasks: 1000) { task, worker in
                precondition(worker < ComputePool.threadCount)
                p[task] += 1
            }
        }
        #expect(counts.toArray().allSatisfy { $0 == 1 })
    }
}

struct RoPETableTests {
    /// llama.cpp's rope_freqs divisors: factor 2 everywhere makes position 2p rotate like position p.
    @Test func frequencyFactorsDivideTheFrequencies() {
        let plain = RoPETable(headDim: 8, theta: 10000, positionCount: 20)
        let scaled = RoPETable(headDim: 8, theta: 10000, positionCount: 20, frequencyFactors: [2, 2, 2, 2])
        let x = Tensor(shape: [2, 8], values: (0..<16).map { Float($0) / 7 })
        let y = Tensor(shape: [2, 8], values: (0..<16).map { Float($0) / 7 })
        Ops.applyRoPE(x, rows: 2, rowStride: 8, column: 0, headCount: 1, headDim: 8, positions: [3, 5], table: plain)
        Ops.applyRoPE(y, rows: 2, rowStride: 8, column: 0, headCount: 1, headDim: 8, positions: [6, 10], table: scaled)
        #expect(Reference.maxAbsDiff(x.toArray(), y.toArray()) < 1e-5)
    }
}
