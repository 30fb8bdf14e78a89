import ArgumentParser
import FastKV
import Foundation
import RequestVocabulary

/// One `--configs` entry: `method[:kv_rate[:tsp_rate]]` (e.g. `full`, `fastkv:0.1:0.2`, `snapkv:0.1`).
struct BenchConfig: Sendable, Equatable {
    var label: String
    var method: CompressionMethod
    var kvRate: Double?
    var tspRate: Double?
    /// The engine configuration (defaults for every knob the entry leaves out), checked at parse.
    let compression: CompressionConfig


    /// Parses one entry; messages name the entry and what was wrong with it.
    init(parsing text: String) throws {
        let entry = text.trimmingCharacters(in: .whitespaces)
        let parts = entry.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        let methods = CompressionMethod.choices
        guard (1...3).contains(parts.count), let m = CompressionMethod(rawValue: parts[0].lowercased()) else {
            throw ValidationError("--configs entry '\(entry)': expected method[:kv_rate[:tsp_rate]] with method one of \(methods)")
        }
        func rate(_ s: String, _ name: String) throws -> Double {
            guard let v = Double(s) else {
                throw ValidationError("--configs entry '\(entry)': \(name) must be a number, got '\(s)'")
            }
            return v
        }
        method = m
        kvRate = parts.count > 1 ? try rate(parts[1], "kv_rate") : nil
        tspRate = parts.count > 2 ? try rate(parts[2], "tsp_rate") : nil
        if m == .full && kvRate != nil {
            throw ValidationError("--configs entry '\(entry)': full keeps every KV entry and takes no rates")
        }
        if m != .fastKV && tspRate != nil {
            throw ValidationError("--configs entry '\(entry)': tsp_rate applies to fastkv only")
        }
        label = ([m.rawValue] + parts.dropFirst()).joined(separator: ":")
        do {
            compression = try CompressionConfig(method: m, retainRate: kvRate ?? CompressionConfig.Defaults.retainRate,
                                                tspRate: tspRate ?? CompressionConfig.Defaults.tspRate)
        } catch { throw ValidationError("--configs entry '\(entry)': \(error)") }
    }

    static func parseList(_ text: String) throws -> [BenchConfig] {
        let list = try text.split(separator: ",").map { try BenchConfig(parsing: String($0)) }
        guard !list.isEmpty else { throw ValidationError("--configs is empty") }
        guard Set(list.map(\.label)).count == list.count else { throw ValidationError("--configs lists an entry twice") }
        return list
    }

    /// The `fastkv submit` flags for this entry.
    var submitArguments: [String] {
        var args = ["--method", method.rawValue]
        if method != .full { args += ["--kv-rate", String(compression.retainRate)] }
        if method == .fastKV { args += ["--tsp-rate", String(compression.tspRate)] }
        return args
    }
}
