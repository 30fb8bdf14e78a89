import FastKV
import Foundation

/// The head-importance files that ship with fastkv (Sources/Engine/HeadScores/, written by
/// `fastkv headscores`), embedded in the binary by SwiftPM (`.embedInCode`) so that every role finds
/// them without a resource directory beside the executable. A model is matched by fingerprint.
enum ShippedHeadScores {
    /// (file name, contents) of every shipped file.
    static let files: [(name: String, bytes: [UInt8])] = [
        ("SmolLM2-135M-Instruct.Q4_1.json", PackageResources.SmolLM2_135M_Instruct_Q4_1_json),
    ]

    /// The shipped scores measured on this model, if any; a shipped file that does not parse is a
    /// build defect and is reported as such.
    static func find(fingerprint: String) throws(HeadScoresError) -> HeadImportance? {
        for file in files {
            let h = try HeadImportance.decode(Data(file.bytes), source: "shipped \(file.name)")
            if h.fingerprint == fingerprint { return h }
        }
        return nil
    }
}
