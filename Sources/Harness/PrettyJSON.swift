import Foundation

/// The JSON the harness writes (results.json, `--json` files): pretty-printed, keys sorted, so runs
/// diff cleanly.
public enum PrettyJSON {
    public static func data<T: Encodable>(_ value: T) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return try encoder.encode(value)
    }
}
