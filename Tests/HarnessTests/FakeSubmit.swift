import Foundation
import TestSupport

/// A stand-in for `fastkv` whose `submit` answers from a shell script, so the process pool and the
/// cluster half of the sweep run without a cluster. Each call appends its arguments to `calls.log`.
struct FakeSubmit {
    let directory: TemporaryDirectory
    var executable: String { directory.file("fake-fastkv").path }
    var callLog: URL { directory.file("calls.log") }

    /// `body` is sh run after the log line; it sees the arguments in "$@" and the directory in $DIR.
    init(_ label: String, body: String) throws {
        directory = try TemporaryDirectory(label)
        let script = """
            #!/bin/sh
            DIR='\(directory.url.path)'
            echo "$*" >> "$DIR/calls.log"
            \(body)
            """
        try Data(script.utf8).write(to: directory.file("fake-fastkv"))
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: executable)
    }

    /// A submit report line with the given prompt length and TTFT.
    static func reportLine(promptTokens: Int = 100, ttftMs: Double = 50) -> String {
        #"{"prompt_tokens": \#(promptTokens), "ttft_ms": \#(ttftMs), "prefill_ms": 40, "wire_bytes": 2000, "header_bytes": 100, "full_kv_wire_bytes": 19000, "total_ms": 90, "breakdown": {"exposed_transfer_ms": 2}}"#
    }

    var calls: [String] {
        ((try? String(contentsOf: callLog, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
    }
}
