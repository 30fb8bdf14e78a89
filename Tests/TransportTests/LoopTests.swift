import Synchronization
import Testing
import Transport
import Wire

@Suite("Polling and stopping I/O loops", .serialized)
struct LoopTests {
    let context: ZMQContext

    init() throws { context = try ZMQContext() }

    @Test("the poller reports which socket is readable, and times out when none is")
    func pollerReadiness() throws {
        let a = try context.socket(.pull), b = try context.socket(.pull)
        _ = try a.bind("tcp://127.0.0.1:*")
        let endpointB = try b.bind("tcp://127.0.0.1:*")
        let push = try context.socket(.push)
        try push.connect(endpointB)
        try push.send([.bytes([1])], timeout: .seconds(5))
        let poller = ZMQPoller([a, b])
        #expect(try poller.poll(timeout: .seconds(5)) == .ready([1]))
        #expect(try b.receiveIfAvailable()?.frames.map(\.bytes) == [[1]])
        #expect(try b.receiveIfAvailable() == nil)
        // A zero timeout still returns what is already queued, and times out at once otherwise.
        try push.send([.bytes([2])], timeout: .seconds(5))
        #expect(try poller.poll(timeout: .seconds(5)) == .ready([1]))
        #expect(try b.receive(timeout: .zero).frames.map(\.bytes) == [[2]])
        #expect(throws: TransportError.timedOut(operation: "receive", after: .zero, endpoint: b.endpointDescription)) {
            try b.receive(timeout: .zero)
        }
        let start = ContinuousClock.now
        #expect(try poller.poll(timeout: .milliseconds(100)) == .timedOut)
        #expect(elapsed(since: start) >= .milliseconds(100) && elapsed(since: start) < .milliseconds(350))
    }

    @Test("a stop signal ends a blocked receive promptly")
    func stopReceive() throws {
        let stop = StopSignal()
        let context = self.context
        let took = Mutex<Duration?>(nil)
        let outcome = Mutex<TransportError?>(nil)
        let worker = Background {
            let pull = try context.socket(.pull)
            _ = try pull.bind("tcp://127.0.0.1:*")
            let start = ContinuousClock.now
            do { _ = try pull.receive(timeout: .seconds(30), stop: stop) } catch { outcome.withLock { $0 = error as? TransportError } }
            took.withLock { $0 = elapsed(since: start) }
        }
        pause(milliseconds: 100)
        let stoppedAt = ContinuousClock.now
        stop.stop()
        try worker.join(timeout: .seconds(5))
        #expect(elapsed(since: stoppedAt) < .milliseconds(250), "stop took \(elapsed(since: stoppedAt)) to end the receive")
        #expect(outcome.withLock { $0 }.map { if case .stopped = $0 { true } else { false } } == true)
        #expect(took.withLock { $0 }! < .seconds(2))
    }

    @Test("a worker-style poll loop handles its messages and ends promptly on stop")
    func stopLoop() throws {
        let stop = StopSignal()
        let context = self.context
        let handled = Mutex(0)
        let endpoint = Mutex<String?>(nil)
        let loop = Background {
            let control = try context.socket(.router), kv = try context.socket(.pull)
            endpoint.withLock { $0 = try? kv.bind("tcp://127.0.0.1:*") }
            _ = try control.bind("tcp://127.0.0.1:*")
            let poller = ZMQPoller([control, kv])
            loop: while true {
                switch try poller.poll(timeout: .milliseconds(200), stop: stop) {
                case .stopped: break loop
                case .timedOut: continue   // a real worker sends its heartbeat here
                case .ready(let indices):
                    for i in indices {
                        while let message = try poller.sockets[i].receiveIfAvailable() {
                            _ = try Message.decode(frame: message.header)
                            handled.withLock { $0 += 1 }
                        }
                    }
                }
            }
        }
        var kvEndpoint: String?
        let start = ContinuousClock.now
        while kvEndpoint == nil && elapsed(since: start) < .seconds(5) {
            kvEndpoint = endpoint.withLock { $0 }
            pause(milliseconds: 5)
        }
        let push = try context.socket(.push)
        try push.connect(try #require(kvEndpoint))
        for id in 1...3 {
            try push.send([.bytes(try Message.cancel(Cancel(requestID: UInt64(id), reason: "")).encoded())], timeout: .seconds(5))
        }
        let waitStart = ContinuousClock.now
        while handled.withLock({ $0 }) < 3 && elapsed(since: waitStart) < .seconds(5) { pause(milliseconds: 5) }
        #expect(handled.withLock { $0 } == 3)
        let stoppedAt = ContinuousClock.now
        stop.stop()
        try loop.join(timeout: .seconds(5))
        #expect(elapsed(since: stoppedAt) < .milliseconds(250), "loop took \(elapsed(since: stoppedAt)) to stop")
    }
}
