import Foundation
import RequestVocabulary

/// One `--configs` entry of `fastkv bench`: `method[:kv_rate[:tsp_rate]]` (`full`, `fastkv:0.1:0.2`,
/// `snapkv:0.1`). Knobs the entry leaves out take `CompressionConfig`'s defaults.
public struct BenchConfig: Sendable, Hashable {
    /// The entry as reported in results: the method's name, then the rates as the user wrote them.
    public let label: String
    /// The rates the entry gives (nil where it relies on the default), for results.json/csv.
    public let kvRate: Double?
    public let tspRate: Double?
    /// The engine configuration, checked at parse.
    public let compression: CompressionConfig

    public var method: CompressionMethod { compression.method }

    /// Parses one entry; errors name the entry and what was wrong with it.
    /// - Parameter knobs: the per-method knobs every entry takes from the command's flags (AdaKV's α,
    ///   HeadKV's β and temperature); its method and rates are ignored.
    public init(parsing text: String, knobs: CompressionConfig = .full) throws(HarnessError) {
        let entry = text.trimmingCharacters(in: .whitespaces)
        let parts = entry.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        guard (1...3).contains(parts.count), let method = CompressionMethod(rawValue: parts[0].lowercased()) else {
            throw .invalidConfigEntry(entry: entry, .syntax)
        }
        func rate(_ s: String, _ name: String) throws(HarnessError) -> Double {
            guard let v = Double(s) else { throw .invalidConfigEntry(entry: entry, .notANumber(rate: name, found: s)) }
            return v
        }
        kvRate = parts.count > 1 ? try rate(parts[1], "kv_rate") : nil
        tspRate = parts.count > 2 ? try rate(parts[2], "tsp_rate") : nil
        if method == .full && kvRate != nil { throw .invalidConfigEntry(entry: entry, .fullTakesNoRates) }
        if method != .fastKV && tspRate != nil { throw .invalidConfigEntry(entry: entry, .tspRateNeedsFastKV) }
        label = ([method.rawValue] + parts.dropFirst()).joined(separator: ":")
        do throws(RequestError) {
            compression = try CompressionConfig(method: method, retainRate: kvRate ?? CompressionConfig.Defaults.retainRate,
                                                tspRate: tspRate ?? CompressionConfig.Defaults.tspRate,
                                                adaAlpha: knobs.adaAlpha, headKVBeta: knobs.headKVBeta,
                                                headKVTemperature: knobs.headKVTemperature)
        } catch { throw .invalidConfigEntry(entry: entry, .knob(error)) }
    }

    /// A `--configs` value: entries separated by commas, none twice.
    public static func parseList(_ text: String, knobs: CompressionConfig = .full) throws(HarnessError) -> [BenchConfig] {
        var list: [BenchConfig] = []
        for entry in text.split(separator: ",") {
            let config = try BenchConfig(parsing: String(entry), knobs: knobs)
            guard !list.contains(where: { $0.label == config.label }) else {
                throw .invalid(.configs, "lists \(config.label) twice")
            }
            list.append(config)
        }
        guard !list.isEmpty else { throw .invalid(.configs, "is empty") }
        return list
    }

    /// The `fastkv submit` flags that ask the cluster for this entry's compression.
    public var submitArguments: [String] {
        var args = ["--method", method.rawValue]
        if method != .full { args += ["--kv-rate", String(compression.retainRate)] }
        if method == .fastKV { args += ["--tsp-rate", String(compression.tspRate)] }
        if method == .adaKV { args += ["--ada-alpha", String(compression.adaAlpha)] }
        if method == .headKV {
            args += ["--headkv-beta", String(compression.headKVBeta),
                     "--headkv-temperature", String(compression.headKVTemperature)]
        }
        return args
    }
}
