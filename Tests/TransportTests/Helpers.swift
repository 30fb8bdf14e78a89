import Dispatch
import Foundation
import Transport
import Wire

/// Runs `body` on its own thread (sockets belong to one thread, so a peer needs its own) and
/// reports its outcome on `join`, which waits at most `timeout`.
final class Background: @unchecked Sendable {
    private let done = DispatchSemaphore(value: 0)
    private var failure: (any Error)?

    init(_ body: @escaping @Sendable () throws -> Void) {
        let thread = Thread { [self] in
            do { try body() } catch { failure = error }
            done.signal()
        }
        thread.start()
    }

    struct JoinTimeout: Error {}

    func join(timeout: Duration = .seconds(60)) throws {
        let seconds = Double(timeout.components.seconds) + Double(timeout.components.attoseconds) * 1e-18
        guard done.wait(timeout: .now() + seconds) == .success else { throw JoinTimeout() }
        if let failure { throw failure }
    }
}

/// A cheap, order-sensitive checksum over 8-byte words (debug builds run it unoptimized).
func checksum(_ raw: UnsafeRawBufferPointer) -> UInt64 {
    var h: UInt64 = 0xCBF2_9CE4_8422_2325
    let words = raw.count / 8
    for i in 0..<words { h = (h ^ raw.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self)) &* 0x100_0000_01B3 }
    for i in (words * 8)..<raw.count { h = (h ^ UInt64(raw[i])) &* 0x100_0000_01B3 }
    return h
}

/// A payload whose bytes depend on their offset, so reordered or shifted frames are caught.
func patternBuffer(byteCount: Int, seed: UInt64) -> PayloadBuffer {
    PayloadBuffer(byteCount: byteCount) { out in
        let words = byteCount / 8
        for i in 0..<words { out.storeBytes(of: UInt64(i) &* 0x9E37_79B9_7F4A_7C15 &+ seed, toByteOffset: 8 * i, as: UInt64.self) }
        for i in (words * 8)..<byteCount { out[i] = UInt8(truncatingIfNeeded: i) }
    }
}

func elapsed(since start: ContinuousClock.Instant) -> Duration { ContinuousClock.now - start }

/// Blocks the calling thread (tests drive sockets synchronously; sockets are not Sendable).
func pause(milliseconds: Int) { Thread.sleep(forTimeInterval: Double(milliseconds) / 1000) }
