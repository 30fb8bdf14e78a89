import Foundation
import Testing
import TestSupport

@Suite struct NpyFileTests {
    @Test func readsGoldenLogits() throws {
        let url = TestPaths.fixtures.appendingPathComponent("golden/pub_capital_logits.npy")
        let (shape, values) = try NpyFile.readFloat32(url)
        #expect(shape == [49152])
        #expect(values.count == 49152)
        #expect(values.allSatisfy { $0.isFinite })
    }

    @Test func writeThenRead() throws {
        let dir = try TemporaryDirectory()
        let values: [Float] = (0 ..< 12).map { Float($0) * 0.5 - 1 } + [.infinity, -0.0, .leastNonzeroMagnitude, 3e38]
        for shape in [[16], [4, 4], [2, 2, 4]] {
            let url = dir.file("a.npy")
            try NpyFile.writeFloat32(values, shape: shape, to: url)
            let raw = try Data(contentsOf: url)
            #expect((raw.count - values.count * 4) % 64 == 0)  // header padded to 64 like numpy
            let (s, v) = try NpyFile.readFloat32(url)
            #expect(s == shape)
            #expect(v.map(\.bitPattern) == values.map(\.bitPattern))
            #expect(throws: NpyFile.FormatError.self) { try NpyFile.readInt32(url) }
        }
    }

    /// A hand-made version 2.0 int32 file.
    @Test func readsVersion2Int32() throws {
        let dir = try TemporaryDirectory()
        var header = "{'descr': '<i4', 'fortran_order': False, 'shape': (3,), }"
        header += String(repeating: " ", count: (64 - (12 + header.utf8.count + 1) % 64) % 64) + "\n"
        var bytes: [UInt8] = [0x93] + Array("NUMPY".utf8) + [2, 0]
        withUnsafeBytes(of: UInt32(header.utf8.count).littleEndian) { bytes += $0 }
        bytes += Array(header.utf8)
        for v: Int32 in [7, -1, 1 << 30] { withUnsafeBytes(of: v.littleEndian) { bytes += $0 } }
        let url = dir.file("i.npy")
        try Data(bytes).write(to: url)
        let (shape, values) = try NpyFile.readInt32(url)
        #expect(shape == [3])
        #expect(values == [7, -1, 1 << 30])
    }
}
