/// The public keys a CURVE server admits, each with a name for logs.
///
/// File format (one key per line; a line whose first non-blank character is `#` is a comment —
/// only whole lines, because `#` is a Z85 character; blank lines are ignored):
/// ```
/// # fastkv authorized keys
/// prefill-0  Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID
/// decode-0   D:)Q[IlAW!ahhC2ac:9*A}h:p?([4%wOTJ%JR%cs
/// ```
/// That is: a name (no whitespace), whitespace, and the 40-character Z85 public key. A line that
/// does not parse is an error naming its line number, never skipped: a typo must not silently
/// lock a worker out (or let the wrong one in).
public struct AuthorizedKeys: Sendable, Hashable {
    public struct Entry: Sendable, Hashable {
        public let name: String
        public let key: CurveKey

        public init(name: String, key: CurveKey) {
            self.name = name
            self.key = key
        }
    }

    public let entries: [Entry]

    public init(_ entries: [Entry]) { self.entries = entries }

    /// Parses the file's text; `source` (e.g. the path) goes into error messages.
    public init(parsing text: String, source: String = "authorized keys") throws(TransportError) {
        var entries: [Entry] = []
        for (i, raw) in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated() {
            let fields = raw.split(whereSeparator: \.isWhitespace)
            if fields.isEmpty || fields[0].hasPrefix("#") { continue }
            guard fields.count == 2 else {
                throw .badKey("\(source) line \(i + 1): expected 'NAME Z85-PUBLIC-KEY', got \(fields.count) fields")
            }
            let key: CurveKey
            do { key = try CurveKey(z85: fields[1]) } catch {
                guard case .badKey(let why) = error else { throw error }
                throw .badKey("\(source) line \(i + 1) (\(fields[0])): \(why)")
            }
            entries.append(Entry(name: String(fields[0]), key: key))
        }
        self.entries = entries
    }

    /// The name of `key`, nil when it is not admitted.
    public func name(of key: CurveKey) -> String? { entries.first { $0.key == key }?.name }

    /// The file's text (what `parsing` reads back).
    public var text: String {
        "# fastkv authorized keys: NAME Z85-PUBLIC-KEY, one per line\n"
            + entries.map { "\($0.name) \($0.key.z85)\n" }.joined()
    }
}
