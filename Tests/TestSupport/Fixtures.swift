import Foundation

/// Reads the committed HF-transformers reference fixtures (Tests/Fixtures/smollm2).
public enum Fixtures {
    public enum FixtureError: Error, CustomStringConvertible {
        case unreadable(String)
        public var description: String {
            switch self { case let .unreadable(path): return "cannot read fixture \(path)" }
        }
    }

    /// A JSON fixture as a dictionary.
    public static func json(_ relativePath: String) throws -> [String: Any] {
        let url = TestPaths.fixtures.appendingPathComponent(relativePath)
        guard let data = FileManager.default.contents(atPath: url.path),
              let object = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw FixtureError.unreadable(url.path)
        }
        return object
    }

    /// A float32 .npy vector.
    public static func npyFloats(_ relativePath: String) throws -> [Float] {
        let url = TestPaths.fixtures.appendingPathComponent(relativePath)
        guard let data = FileManager.default.contents(atPath: url.path), data.count > 10,
              data.prefix(6) == Data([0x93] + Array("NUMPY".utf8)) else { throw FixtureError.unreadable(url.path) }
        let major = data[6]
        let headerLength = major == 1 ? Int(data[8]) | Int(data[9]) << 8
            : Int(data[8]) | Int(data[9]) << 8 | Int(data[10]) << 16 | Int(data[11]) << 24
        let start = (major == 1 ? 10 : 12) + headerLength
        let header = String(decoding: data[(major == 1 ? 10 : 12)..<start], as: UTF8.self)
        guard header.contains("'<f4'") else { throw FixtureError.unreadable(url.path + " (not <f4)") }
        let payload = data[start...]
        return payload.withUnsafeBytes { raw in
            (0..<(payload.count / 4)).map { raw.loadUnaligned(fromByteOffset: $0 * 4, as: Float.self) }
        }
    }

    /// Path of the default GGUF, or a clear failure message when it has not been fetched.
    public static func requireModel(_ url: URL = TestPaths.smolLMGGUF) throws -> URL {
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw FixtureError.unreadable("\(url.path) is missing: run scripts/fetch-model.sh --hf (CI does)")
        }
        return url
    }
}

extension Array where Element == Any {
    public var ints: [Int] { compactMap { ($0 as? NSNumber)?.intValue } }
    public var int32s: [Int32] { compactMap { ($0 as? NSNumber)?.int32Value } }
    public var floats: [Float] { compactMap { ($0 as? NSNumber)?.floatValue } }
}
