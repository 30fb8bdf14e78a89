import Foundation
import Harness
import RequestVocabulary

/// `fastkv bench`'s progress on stderr: a bar on a terminal, plain lines otherwise (logs, CI).
struct BenchProgress {
    let isTerminal = isatty(2) != 0
    let start = ContinuousClock.now

    func show(_ event: BenchSweep.Event) {
        switch event {
        case let .requestDone(mode, config, length, done, total):
            let label = "\(mode.rawValue) \(config) N=\(length)"
            let elapsed = (ContinuousClock.now - start).seconds
            if isTerminal {
                let width = 30, filled = total > 0 ? width * done / total : width
                let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
                FileHandle.standardError.write(Data(String(format: "\r\u{1B}[K[%@] %d/%d %.0fs %@", bar, done, total, elapsed, label).utf8))
            } else {
                printError(String(format: "bench: %d/%d (%.0fs) %@", done, total, elapsed, label))
            }
        case let .requestFailed(config, length, error):
            if isTerminal { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
            printError("bench: request failed (\(config), N=\(length)): \(error)")
        case .rowWritten:
            break
        case .requestsDone:
            if isTerminal { FileHandle.standardError.write(Data("\n".utf8)) }
        case let .warning(message):
            printError("bench: " + message)
        }
    }
}
