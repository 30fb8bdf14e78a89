import Foundation
import RequestVocabulary

/// Comma-separated setting values (`--lengths 1000,2000`, `--methods full,fastkv`). Blanks around
/// an item are ignored, and so are empty items (`1000,,2000`).
public enum ListArgument {
    /// Positive integers, in the order given.
    public static func positiveIntegers(_ text: String, for setting: HarnessError.Setting) throws(HarnessError) -> [Int] {
        let values = text.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !values.isEmpty, values.allSatisfy({ ($0 ?? 0) > 0 }) else {
            throw .invalid(setting, "takes a comma-separated list of positive integers, got '\(text)'")
        }
        return values.map { $0! }
    }

    /// `positiveIntegers`, except that an empty (or blank) text is the empty list: for settings
    /// where "none" is a choice (e.g. `bench-engine --decode-contexts ""`).
    public static func positiveIntegersOrNone(_ text: String, for setting: HarnessError.Setting) throws(HarnessError) -> [Int] {
        text.trimmingCharacters(in: .whitespaces).isEmpty ? [] : try positiveIntegers(text, for: setting)
    }

    /// Compression methods by their names, case-insensitive, in the order given, each at most once.
    public static func methods(_ text: String, for setting: HarnessError.Setting = .methods) throws(HarnessError)
        -> [CompressionMethod]
    {
        var methods: [CompressionMethod] = []
        for name in text.split(separator: ",") {
            let trimmed = name.trimmingCharacters(in: .whitespaces)
            guard let method = CompressionMethod(rawValue: trimmed.lowercased()) else {
                throw .invalid(setting, "names an unknown method '\(trimmed)' (use \(CompressionMethod.choices))")
            }
            guard !methods.contains(method) else { throw .invalid(setting, "lists \(method.rawValue) twice") }
            methods.append(method)
        }
        guard !methods.isEmpty else { throw .invalid(setting, "is empty (use \(CompressionMethod.choices))") }
        return methods
    }
}
