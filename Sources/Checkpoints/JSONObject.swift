import Foundation

/// A JSON object from `JSONSerialization` with typed, error-reporting accessors. Absent keys and JSON `null`
/// both read as nil; a present value of the wrong type throws `invalidKey` naming the dotted key path.
struct JSONObject {
    let values: [String: Any]
    let file: String
    /// Dotted path of this object inside the document ("" at the top, "rope_scaling." inside that key).
    let path: String

    /// Parses the file at `url` as a JSON object. Missing file → `fileNotFound`; bad JSON → `invalidJSON`.
    init(contentsOf url: URL) throws {
        let file = url.path
        guard FileManager.default.fileExists(atPath: file) else { throw CheckpointError.fileNotFound(file: file) }
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw CheckpointError.ioError(file: file, operation: "read", errno: EIO)
        }
        let parsed: Any
        do {
            parsed = try JSONSerialization.jsonObject(with: data)
        } catch {
            throw CheckpointError.invalidJSON(file: file, reason: error.localizedDescription)
        }
        guard let object = parsed as? [String: Any] else {
            throw CheckpointError.invalidJSON(file: file, reason: "the top level is not an object")
        }
        self.init(values: object, file: file, path: "")
    }

    init(values: [String: Any], file: String, path: String) {
        self.values = values
        self.file = file
        self.path = path
    }

    /// The raw value, with JSON null mapped to nil.
    func raw(_ key: String) -> Any? {
        guard let v = values[key], !(v is NSNull) else { return nil }
        return v
    }

    private func invalid(_ key: String, _ expected: String) -> CheckpointError {
        .invalidKey(file: file, key: path + key, expected: expected, found: "\(values[key].map { "\($0)" } ?? "nothing")")
    }

    func missing(_ key: String) -> CheckpointError { .missingKey(file: file, key: path + key) }

    func int(_ key: String) throws -> Int? {
        guard let v = raw(key) else { return nil }
        guard let i = Self.integer(v) else { throw invalid(key, "an integer") }
        return i
    }

    /// An integer whether the JSON layer produced `Int`, `NSNumber` or an integral `Double`. (Foundation's
    /// NSNumber bridging cannot tell `true` from `1`, so neither do we.)
    static func integer(_ v: Any) -> Int? {
        if let i = v as? Int { return i }
        if let d = v as? Double, d.rounded() == d, abs(d) < 0x1p62 { return Int(d) }
        return nil
    }

    /// A number whether the JSON layer produced `Double`, `Int` or `NSNumber`.
    static func number(_ v: Any) -> Double? {
        if let d = v as? Double { return d }
        if let i = v as? Int { return Double(i) }
        return nil
    }

    func requiredInt(_ key: String) throws -> Int {
        guard let i = try int(key) else { throw missing(key) }
        return i
    }

    func double(_ key: String) throws -> Double? {
        guard let v = raw(key) else { return nil }
        guard let d = Self.number(v) else { throw invalid(key, "a number") }
        return d
    }

    func requiredDouble(_ key: String) throws -> Double {
        guard let d = try double(key) else { throw missing(key) }
        return d
    }

    func string(_ key: String) throws -> String? {
        guard let v = raw(key) else { return nil }
        guard let s = v as? String else { throw invalid(key, "a string") }
        return s
    }

    func bool(_ key: String) throws -> Bool? {
        guard let v = raw(key) else { return nil }
        guard let b = v as? Bool else { throw invalid(key, "a bool") }
        return b
    }

    func strings(_ key: String) throws -> [String]? {
        guard let v = raw(key) else { return nil }
        guard let a = v as? [String] else { throw invalid(key, "an array of strings") }
        return a
    }

    /// An integer or an array of integers (HF `eos_token_id` is either).
    func intOrInts(_ key: String) throws -> [Int]? {
        guard let v = raw(key) else { return nil }
        if let i = Self.integer(v) { return [i] }
        guard let a = v as? [Any] else { throw invalid(key, "an integer or an array of integers") }
        var out: [Int] = []
        for item in a {
            guard let i = Self.integer(item) else { throw invalid(key, "an integer or an array of integers") }
            out.append(i)
        }
        return out
    }

    func object(_ key: String) throws -> JSONObject? {
        guard let v = raw(key) else { return nil }
        guard let o = v as? [String: Any] else { throw invalid(key, "an object") }
        return JSONObject(values: o, file: file, path: path + key + ".")
    }
}
