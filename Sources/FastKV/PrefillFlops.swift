import Checkpoints

/// Analytic prefill FLOP count (multiply-add = 2 FLOPs), used to report the share of work skipped.
/// Per layer with n entering tokens: projections 2·n·hidden·((H + 2·Hk)·d + H·d) + 6·n·hidden·ffn,
/// causal attention 2·2·H·d·n(n+1)/2, window scoring ignored (< 0.1 %); plus the LM head on one row.
public enum PrefillFlops {
    public static func estimate(config c: ModelConfig, enteringTokens: [Int]) -> Double {
        let hidden = Double(c.hiddenSize), d = Double(c.headDim), h = Double(c.headCount), hk = Double(c.kvHeadCount)
        let perTokenLinear = 2 * hidden * ((h + 2 * hk) * d + h * d) + 6 * hidden * Double(c.intermediateSize)
        var total = 0.0
        for n in enteringTokens where n > 0 {
            let nn = Double(n)
            total += nn * perTokenLinear + 2 * h * d * nn * (nn + 1)
        }
        return total + 2 * hidden * Double(c.vocabularySize)
    }
}
