import Testing
import Transport
import Wire

@Suite("CURVE keys, the ZAP handler and authenticated links", .serialized)
struct CurveTests {
    let context: ZMQContext

    init() throws { context = try ZMQContext() }

    @Test("libzmq has CURVE; keys round-trip through Z85; a pair's public key is derived from its secret")
    func keys() throws {
        #expect(Curve.isAvailable)
        let pair = try CurveKeyPair.generate()
        #expect(pair.publicKey.z85.count == 40 && pair.secretKey.z85.count == 40)
        #expect(try CurveKey(z85: pair.publicKey.z85) == pair.publicKey)
        #expect(try CurveKeyPair(secretKey: pair.secretKey).publicKey == pair.publicKey)
        #expect(try CurveKeyPair.generate().publicKey != pair.publicKey)
        #expect(throws: TransportError.self) { try CurveKey(z85: String(pair.publicKey.z85.dropLast())) }
        #expect(throws: TransportError.self) { try CurveKey(z85: "~" + String(pair.publicKey.z85.dropFirst())) }
        #expect(throws: TransportError.self) { try CurveKey(bytes: [1, 2, 3]) }
    }

    @Test("authorized keys: names, comments and blank lines; a bad line is an error naming its number")
    func authorizedKeysFile() throws {
        let a = try CurveKeyPair.generate().publicKey, b = try CurveKeyPair.generate().publicKey
        let keys = try AuthorizedKeys(parsing: "# cluster keys\n\n  # indented comment\nprefill-0 \(a.z85)  \r\n\tdecode-0\t\(b.z85)\n")
        #expect(keys.entries.map(\.name) == ["prefill-0", "decode-0"])
        #expect(keys.name(of: b) == "decode-0")
        #expect(try AuthorizedKeys(parsing: keys.text) == keys)
        do {
            _ = try AuthorizedKeys(parsing: "ok \(a.z85)\nbroken\n", source: "keys.txt")
            Issue.record("a one-field line was accepted")
        } catch {
            #expect("\(error)".contains("keys.txt line 2"))
        }
        #expect(throws: TransportError.self) { try AuthorizedKeys(parsing: "x \(a.z85.dropLast())\n") }
        // '#' is a Z85 character: a key containing it is not cut short as a comment.
        var hashKey = a
        for _ in 0..<200 where !hashKey.z85.contains("#") { hashKey = try CurveKeyPair.generate().publicKey }
        #expect(hashKey.z85.contains("#"))
        #expect(try AuthorizedKeys(parsing: "h \(hashKey.z85)\n").name(of: hashKey) == "h")
    }

    /// A CURVE ROUTER admitting `admitted`, with its ZAP handler.
    func server(admitting admitted: [CurveKey]) throws -> (ZAPAuthenticator, ZMQSocket, String, CurveKeyPair) {
        let pair = try CurveKeyPair.generate()
        let auth = try ZAPAuthenticator(
            context: context,
            authorizedKeys: AuthorizedKeys(admitted.enumerated().map { .init(name: "k\($0.offset)", key: $0.element) }))
        var options = SocketOptions()
        options.curve = .server(pair)
        let router = try context.socket(.router, options: options)
        let endpoint = try router.bind("tcp://127.0.0.1:*")
        return (auth, router, endpoint, pair)
    }

    func client(_ security: CurveSecurity?, to endpoint: String) throws -> ZMQSocket {
        var options = SocketOptions()
        options.curve = security
        let dealer = try context.socket(.dealer, options: options)
        try dealer.connect(endpoint)
        return dealer
    }

    @Test("an admitted key gets through and its messages carry its identity (User-Id)")
    func admitted() throws {
        let clientPair = try CurveKeyPair.generate()
        let (auth, router, endpoint, serverPair) = try server(admitting: [clientPair.publicKey])
        defer { auth.stop() }
        let dealer = try client(.client(clientPair, serverKey: serverPair.publicKey), to: endpoint)
        try dealer.send([.bytes([1, 2, 3])], timeout: .seconds(5))
        let m = try router.receive(timeout: .seconds(5))
        #expect(m.frames.map(\.bytes) == [[1, 2, 3]])
        #expect(m.peerIdentity == PeerIdentity(publicKey: clientPair.publicKey.z85))
        try router.send([.bytes([4])], to: m.peer, timeout: .seconds(5))
        #expect(try dealer.receive(timeout: .seconds(5)).frames.map(\.bytes) == [[4]])
        #expect(auth.admittedCount == 1 && auth.refusedCount == 0)
    }

    @Test("ZAP refuses an unknown key: nothing gets through, in either direction")
    func unknownKeyRefused() throws {
        let known = try CurveKeyPair.generate(), stranger = try CurveKeyPair.generate()
        let (auth, router, endpoint, serverPair) = try server(admitting: [known.publicKey])
        defer { auth.stop() }
        let dealer = try client(.client(stranger, serverKey: serverPair.publicKey), to: endpoint)
        #expect(throws: TransportError.self) { try dealer.send([.bytes([9])], timeout: .seconds(1)) }
        #expect(throws: TransportError.self) { try router.receive(timeout: .milliseconds(500)) }
        #expect(auth.refusedCount >= 1)
        #expect(auth.admittedCount == 0)
    }

    @Test("a client without keys cannot talk to a CURVE server")
    func keylessClientRefused() throws {
        let (auth, router, endpoint, _) = try server(admitting: [try CurveKeyPair.generate().publicKey])
        defer { auth.stop() }
        let dealer = try client(nil, to: endpoint)
        #expect(throws: TransportError.self) { try dealer.send([.bytes([9])], timeout: .seconds(1)) }
        #expect(throws: TransportError.self) { try router.receive(timeout: .milliseconds(500)) }
    }

    @Test("a client expecting another server key never connects (no man in the middle)")
    func wrongServerKey() throws {
        let clientPair = try CurveKeyPair.generate()
        let (auth, router, endpoint, _) = try server(admitting: [clientPair.publicKey])
        defer { auth.stop() }
        let dealer = try client(.client(clientPair, serverKey: try CurveKeyPair.generate().publicKey), to: endpoint)
        #expect(throws: TransportError.self) { try dealer.send([.bytes([9])], timeout: .seconds(1)) }
        #expect(throws: TransportError.self) { try router.receive(timeout: .milliseconds(500)) }
    }

    @Test("a CURVE server socket cannot exist without a running ZAP handler (libzmq would admit every key)")
    func serverNeedsZAP() throws {
        let fresh = try ZMQContext()
        var options = SocketOptions()
        options.curve = .server(try CurveKeyPair.generate())
        #expect(throws: TransportError.self) { try fresh.socket(.router, options: options) }
        let auth = try ZAPAuthenticator(context: fresh, authorizedKeys: AuthorizedKeys([]))
        _ = try fresh.socket(.router, options: options)
        auth.stop()
        #expect(throws: TransportError.self) { try fresh.socket(.router, options: options) }
    }

    @Test("the ZAP handler answers malformed and non-CURVE requests with 400")
    func malformedZAPRequests() throws {
        let auth = try ZAPAuthenticator(context: context, authorizedKeys: AuthorizedKeys([]))
        defer { auth.stop() }
        let req = try context.socket(.request)
        try req.connect("inproc://zeromq.zap.01")
        try req.send([.bytes(Array("1.0".utf8)), .bytes([7])], timeout: .seconds(2))
        let short = try req.receive(timeout: .seconds(2)).frames.map(\.bytes)
        #expect(short.count == 6 && short[1] == [7] && short[2] == Array("400".utf8))
        let plain: [[UInt8]] = [Array("1.0".utf8), [8], Array("fastkv".utf8), Array("127.0.0.1".utf8), [], Array("PLAIN".utf8), Array("u".utf8), Array("p".utf8)]
        try req.send(plain.map { .bytes($0) }, timeout: .seconds(2))
        #expect(try req.receive(timeout: .seconds(2)).frames.map(\.bytes)[2] == Array("400".utf8))
        #expect(auth.refusedCount == 2)
    }
}
