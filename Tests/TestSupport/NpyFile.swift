import Foundation

/// Minimal `.npy` support for fixtures (numpy `lib/format.py`): read little-endian float32/int32 arrays in
/// C order from format versions 1.0, 2.0 and 3.0; write float32 as version 1.0.
/// File = "\x93NUMPY", major, minor, header length (u16 for v1, u32 for v2/3), a Python dict literal
/// `{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }` padded with spaces and a newline, then data.
public enum NpyFile {
    public struct FormatError: Error, CustomStringConvertible {
        public let file: String
        public let reason: String
        public var description: String { "\(file): \(reason)" }
    }

    public static func readFloat32(_ url: URL) throws -> (shape: [Int], values: [Float]) {
        let (shape, payload) = try read(url, descr: "<f4")
        let values = payload.withUnsafeBytes { raw in
            (0 ..< raw.count / 4).map { Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * $0, as: UInt32.self))) }
        }
        return (shape, values)
    }

    public static func readInt32(_ url: URL) throws -> (shape: [Int], values: [Int32]) {
        let (shape, payload) = try read(url, descr: "<i4")
        let values = payload.withUnsafeBytes { raw in
            (0 ..< raw.count / 4).map { Int32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * $0, as: Int32.self)) }
        }
        return (shape, values)
    }

    /// Writes `values` (row-major, `shape`) as a version 1.0 float32 file.
    public static func writeFloat32(_ values: [Float], shape: [Int], to url: URL) throws {
        precondition(shape.reduce(1, *) == values.count, "shape \(shape) does not match \(values.count) values")
        let dims = shape.count == 1 ? "\(shape[0])," : shape.map(String.init).joined(separator: ", ")
        var header = "{'descr': '<f4', 'fortran_order': False, 'shape': (\(dims)), }"
        let unpadded = 10 + header.utf8.count + 1
        header += String(repeating: " ", count: (64 - unpadded % 64) % 64) + "\n"
        var out: [UInt8] = [0x93] + Array("NUMPY".utf8) + [1, 0]
        let length = UInt16(header.utf8.count)
        out += [UInt8(length & 0xFF), UInt8(length >> 8)]
        out += Array(header.utf8)
        for v in values { withUnsafeBytes(of: v.bitPattern.littleEndian) { out.append(contentsOf: $0) } }
        try Data(out).write(to: url)
    }

    private static func read(_ url: URL, descr expected: String) throws -> (shape: [Int], payload: Data) {
        let file = url.path
        func fail(_ reason: String) -> FormatError { FormatError(file: file, reason: reason) }
        let data = try Data(contentsOf: url)
        let bytes = [UInt8](data.prefix(12))
        guard bytes.count >= 10, bytes[0] == 0x93, Array(bytes[1 ..< 6]) == Array("NUMPY".utf8) else { throw fail("not a .npy file") }
        let major = bytes[6]
        let headerLength: Int, headerStart: Int
        switch major {
        case 1:
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
            headerStart = 10
        case 2, 3:
            guard bytes.count >= 12 else { throw fail("truncated header") }
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8 | Int(bytes[10]) << 16 | Int(bytes[11]) << 24
            headerStart = 12
        default:
            throw fail("unsupported .npy version \(major)")
        }
        guard data.count >= headerStart + headerLength,
              let header = String(data: data.subdata(in: headerStart ..< headerStart + headerLength), encoding: .utf8)
        else { throw fail("truncated or non-text header") }
        guard let descr = field("descr", in: header), descr.trimmingCharacters(in: CharacterSet(charactersIn: "'\"")) == expected else {
            throw fail("dtype is \(field("descr", in: header) ?? "?"), expected \(expected)")
        }
        guard field("fortran_order", in: header) == "False" else { throw fail("Fortran order is not supported") }
        guard let shapeText = field("shape", in: header) else { throw fail("no shape in header") }
        let shape = shapeText.trimmingCharacters(in: CharacterSet(charactersIn: "()"))
            .split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            .compactMap { Int($0) }
        let count = shape.reduce(1, *)
        let payload = data.subdata(in: headerStart + headerLength ..< data.count)
        guard payload.count == count * 4 else { throw fail("\(payload.count) data bytes for shape \(shape)") }
        return (shape, payload)
    }

    /// The text of `'key': value` in the header dict (a tuple value runs to its closing parenthesis).
    private static func field(_ key: String, in header: String) -> String? {
        guard let keyRange = header.range(of: "'\(key)':") else { return nil }
        let rest = header[keyRange.upperBound...].drop { $0 == " " }
        if rest.first == "(" {
            guard let close = rest.firstIndex(of: ")") else { return nil }
            return String(rest[rest.startIndex ... close])
        }
        let end = rest.firstIndex { $0 == "," || $0 == "}" } ?? rest.endIndex
        return rest[..<end].trimmingCharacters(in: .whitespaces)
    }
}
