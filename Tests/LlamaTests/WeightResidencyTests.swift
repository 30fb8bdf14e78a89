import Checkpoints
import Foundation
import Llama
import Testing
import TestSupport

/// Which pages of a file mapping this process holds: a reordered copy (GGUF Q/K) must not leave the mapped bytes it was made from resident beside it
/// (on the 8B-shaped q8_0 checkpoint those pages were 713 MB of peak RSS outside the plan).
@Suite struct WeightResidencyTests {
    /// Pages of `range` of `storage` that are mapped into this process (`/proc/self/pagemap`'s
    /// present bit, which an unprivileged process may read), or nil where /proc does not say.
    static func residentPages(_ storage: ByteStorage, _ range: Range<Int>) -> Int? {
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let base = storage.withUnsafeBytes { Int(bitPattern: $0.baseAddress) }
        let first = (base + range.lowerBound) / page, last = (base + range.upperBound - 1) / page
        guard let handle = FileHandle(forReadingAtPath: "/proc/self/pagemap") else { return nil }
        defer { try? handle.close() }
        guard (try? handle.seek(toOffset: UInt64(first * 8))) != nil,
              let data = try? handle.read(upToCount: (last - first + 1) * 8), data.count == (last - first + 1) * 8
        else { return nil }
        return stride(from: 0, to: data.count, by: 8).reduce(0) { count, i in
            let entry = data[data.startIndex + i ..< data.startIndex + i + 8].enumerated()
                .reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
            return count + Int(entry >> 63)
        }
    }

    /// Reads every byte of `range` (as prefill's packing does), so its pages are resident.
    static func touch(_ storage: ByteStorage, _ range: Range<Int>) -> UInt8 {
        storage.withUnsafeBytes { all in all[range].reduce(0, ^) }
    }

    static func ranges(_ gguf: GGUFCheckpoint, _ suffix: String) -> [(name: String, range: Range<Int>)] {
        gguf.file.tensorInfos.filter { $0.name.hasSuffix(suffix) }.map { ($0.name, $0.offset ..< $0.offset + $0.byteCount) }
    }

    /// The memory plan asks `tensorLayout`, which reads no bytes (before, it asked `tensor(named:)`,
    /// which makes the reordered Q/K copies): it must say what loading the tensor says.
    @Test(arguments: [false, true])
    func tensorLayoutAgreesWithTheLoadedTensor(hf: Bool) throws {
        let checkpoint = try openCheckpoint(at: Fixtures.requireModel(hf ? TestPaths.smolLMHF : TestPaths.smolLMGGUF))
        for name in checkpoint.tensorNames {
            let layout = try checkpoint.tensorLayout(named: name)
            let t = try checkpoint.tensor(named: name)
            #expect(layout == TensorLayout(type: t.type, shape: t.shape), "\(name)")
            #expect(layout.rowCount == t.rowCount && layout.columnCount == t.columnCount, "\(name)")
        }
        #expect(throws: CheckpointError.self) { try checkpoint.tensorLayout(named: "model.layers.999.mlp.up_proj.weight") }
    }

    @Test func aReorderedQKCopyReleasesTheMappedPagesItWasMadeFrom() throws {
        let gguf = try GGUFCheckpoint(url: Fixtures.requireModel())
        let qk = Self.ranges(gguf, ".attn_q.weight") + Self.ranges(gguf, ".attn_k.weight")
        #expect(qk.count == 2 * gguf.config.layerCount)
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        for (name, range) in qk {
            _ = Self.touch(gguf.file.storage, range)
            let touched = try #require(Self.residentPages(gguf.file.storage, range))
            #expect(touched >= range.count / page, "\(name): reading did not map its pages")
            let hf = try #require(LlamaLayout.hfName(forGGUF: name))
            let t = try gguf.tensor(named: hf)
            #expect(t.withUnsafeBytes { $0.count } == range.count)
            // Whole pages inside the range are released; the two it shares with neighbours may stay.
            let after = try #require(Self.residentPages(gguf.file.storage, range))
            #expect(after <= 2, "\(name): \(after) of \(touched) pages still mapped after the copy")
        }
    }

    @Test func aViewOfTheMappingKeepsItsPages() throws {
        let gguf = try GGUFCheckpoint(url: Fixtures.requireModel())
        let (name, range) = try #require(Self.ranges(gguf, ".ffn_down.weight").first)
        _ = Self.touch(gguf.file.storage, range)
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let t = try gguf.tensor(named: try #require(LlamaLayout.hfName(forGGUF: name)))
        _ = t.withUnsafeBytes { $0.reduce(0, ^) }
        // A zero-copy view reads the mapping itself, so releasing would only refault the pages.
        let after = try #require(Self.residentPages(gguf.file.storage, range))
        #expect(after >= range.count / page)
    }
}
