import ArgumentParser
import Dispatch
import Foundation
import Transport

/// SIGTERM and SIGINT for the long-running roles: the first one calls `onFirst` (a worker starts
/// draining, the coordinator stops), a second one exits at once with 128 + the signal (an operator
/// who presses Ctrl-C twice means it). Handled on a dispatch queue, not in a signal handler, so the
/// callback may do anything.
enum TerminationSignals {
    nonisolated(unsafe) private static var sources: [any DispatchSourceSignal] = []

    static func install(_ onFirst: @escaping @Sendable (Int32) -> Void) {
        let seen = StopSignal()
        for sig in [SIGTERM, SIGINT] {
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler {
                if seen.isStopped {
                    FileHandle.standardError.write(Data("fastkv: second termination signal: exiting now\n".utf8))
                    exit(128 + sig)
                }
                seen.stop()
                onFirst(sig)
            }
            source.resume()
            sources.append(source)
        }
    }
}

/// Options shared by the worker roles for leaving gracefully.
struct DrainOptions: ParsableArguments {
    @Option(help: ArgumentHelp(
        "On SIGTERM or SIGINT, how long (seconds) to finish in-flight work before leaving anyway.",
        discussion: "The worker stops taking new work at once (it reports itself draining), finishes what it holds, deregisters and exits. Work still held when the grace period ends is handed back: the coordinator re-places it. A second signal exits at once."))
    var drainTimeout: Double = 30

    func validate() throws {
        guard drainTimeout >= 0, drainTimeout.isFinite else { throw ValidationError("--drain-timeout must be ≥ 0 seconds") }
    }

    var duration: Duration { .milliseconds(Int64(drainTimeout * 1000)) }
}
