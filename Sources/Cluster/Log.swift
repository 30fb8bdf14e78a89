import Foundation

/// One line per event on stderr: `<unix ms> <role> <message>`. Roles never bootstrap anything else;
/// the launch scripts redirect stderr to per-process log files.
public struct Log: Sendable {
    public let role: String

    public init(role: String) { self.role = role }

    public func callAsFunction(_ message: @autoclosure () -> String) {
        FileHandle.standardError.write(Data("\(UnixTime.nowMillis()) \(role) \(message())\n".utf8))
    }
}
