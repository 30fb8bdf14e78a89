import FuzzSupport
import Wire
import WireFuzzSupport

// Message.decode on arbitrary bytes: every envelope body (Proto/fastkv.proto) goes through the same
// entry point a socket loop calls on frame 0. Bad input must come back as a thrown WireError. A
// message that decodes must also re-encode, and decode again to the same value: the decoder must not
// accept what the encoder cannot say, nor change a value on the way through.

@_cdecl("LLVMFuzzerInitialize")
public func initialize(_ argc: UnsafeMutablePointer<CInt>,
                       _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>) -> CInt {
    SeedCorpus.handleEnvironment(target: "FuzzMessage", seeds: WireSeeds.messageSeeds) { bytes in
        do { _ = try Message.decode(bytes); return nil } catch { return "\(error)" }
    }
    return 0
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let input = UnsafeRawBufferPointer(start: size == 0 ? nil : data, count: size)
    let message: Message
    do { message = try Message.decode(input) } catch { return 0 }
    let again: Message
    do {
        again = try Message.decode(try message.encoded())
    } catch {
        fatalError("\(message.kind) decoded from \(size) bytes but does not round-trip: \(error)")
    }
    guard again == message else {
        fatalError("\(message.kind) changed on re-encoding:\n  \(message)\n  \(again)")
    }
    return 0
}
