import Foundation

/// Writes NumPy .npy files (format 1.0), the interchange format of the reference fixtures.
public enum NpyWriter {
    /// Writes a float32 little-endian vector of shape [count].
    public static func writeFloat32(_ values: [Float], to path: String) throws {
        var header = "{'descr': '<f4', 'fortran_order': False, 'shape': (\(values.count),), }"
        // Magic (6) + version (2) + header length (2) + header, padded with spaces to a multiple of 64, ending in \n.
        let unpadded = 10 + header.utf8.count + 1
        header += String(repeating: " ", count: (64 - unpadded % 64) % 64) + "\n"
        var data = Data([0x93] + Array("NUMPY".utf8) + [1, 0])
        let length = UInt16(header.utf8.count)
        data.append(contentsOf: [UInt8(length & 0xff), UInt8(length >> 8)])
        data.append(contentsOf: Array(header.utf8))
        values.withUnsafeBufferPointer { data.append(UnsafeBufferPointer(start: UnsafeRawPointer($0.baseAddress!)
            .assumingMemoryBound(to: UInt8.self), count: $0.count * 4)) }
        do { try data.write(to: URL(fileURLWithPath: path)) } catch {
            throw EngineError.invalidRequest("cannot write \(path): \(error.localizedDescription)")
        }
    }
}
