import Foundation

/// One JSON encoder configuration for every body the gateway writes.
enum OpenAIJSON {
    static func encode<T: Encodable>(_ value: T) throws -> [UInt8] {
        let e = JSONEncoder()
        e.outputFormatting = [.withoutEscapingSlashes]
        return Array(try e.encode(value))
    }
}
