/// Tokens streamed back to a `ClusterClient` caller while its request decodes (a wire `TokenChunk`
/// without the routing).
public struct StreamedTokens: Sendable, Hashable {
    /// Index of `tokenIDs[0]` among the generated tokens.
    public var index: Int
    public var tokenIDs: [Int32]
    /// UTF-8 text completed by these tokens (may be empty mid-character).
    public var text: String
}
