import Foundation
import Llama

/// Every choice a prefill made, in the `--selection-out` JSON shape:
/// {"n_layers","prompt_tokens","tsp_layer","tsp_positions","layers":[{"layer","entering_tokens","kept":[[…]…]}]}.
public struct SelectionRecord: Sendable, Codable, Equatable {
    public struct Layer: Sendable, Codable, Equatable {
        public var layer: Int
        public var entering_tokens: Int
        /// Sorted original positions kept, per KV head.
        public var kept: [[Int]]
    }
    public var n_layers: Int
    public var prompt_tokens: Int
    public var tsp_layer: Int?
    public var tsp_positions: [Int]?
    public var layers: [Layer]

    public init(cache: KVCache, promptLength: Int, enteringTokens: [Int], tspLayer: Int?, tspPositions: [Int32]?) {
        n_layers = cache.layers.count
        prompt_tokens = promptLength
        tsp_layer = tspLayer
        tsp_positions = tspPositions.map { $0.map(Int.init) }
        layers = cache.layers.enumerated().map { l, layer in
            Layer(layer: l, entering_tokens: enteringTokens[l],
                  kept: (0..<layer.kvHeadCount).map { layer.positions(head: $0).map(Int.init).sorted() })
        }
    }

    /// Maps recorded cache positions (e.g. GemFilter's renumbered ones) back to original positions.
    mutating func mapPositions(_ original: (Int32) -> Int) {
        for l in layers.indices { layers[l].kept = layers[l].kept.map { $0.map { original(Int32($0)) } } }
    }

    /// Kept KV entries summed over layers and KV heads.
    public var keptEntries: Int { layers.reduce(0) { $0 + $1.kept.reduce(0) { $0 + $1.count } } }

    public func jsonData() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return try encoder.encode(self)
    }
}
