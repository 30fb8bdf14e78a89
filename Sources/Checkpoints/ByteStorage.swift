import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// An immutable-once-built run of bytes: either a read-only memory map of a whole file (kept alive as long as
/// any `ByteStorage` reference is) or an owned, 64-byte-aligned heap block (used when bytes must be reordered,
/// e.g. GGUF Q/K rows, or realigned).
///
/// Why a class: weight tensors are views (offset, length) into one shared mapping, so the mapping must outlive
/// every view and be unmapped exactly once. Pointers are only lent out through `withUnsafeBytes`.
public final class ByteStorage: @unchecked Sendable {
    private enum Backing { case mapped, allocated, empty }

    /// Number of bytes.
    public let count: Int
    private let base: UnsafeMutableRawPointer?
    private let backing: Backing

    /// Alignment of owned allocations: one cache line, enough for any SIMD load.
    public static let allocationAlignment = 64

    /// An owned, zero-filled, 64-byte-aligned block of `byteCount` bytes.
    /// Returns nil only if the allocation fails (or `byteCount` is negative).
    init?(zeroedByteCount byteCount: Int) {
        guard byteCount >= 0 else { return nil }
        count = byteCount
        if byteCount == 0 {
            base = nil
            backing = .empty
            return
        }
        var raw: UnsafeMutableRawPointer?
        guard posix_memalign(&raw, Self.allocationAlignment, byteCount) == 0, let raw else { return nil }
        memset(raw, 0, byteCount)
        base = raw
        backing = .allocated
    }

    /// Maps the whole file at `url` read-only (`MAP_PRIVATE`). Throws `fileNotFound` or `ioError`.
    public init(mapping url: URL) throws {
        let path = url.path
        let fd = open(path, O_RDONLY)
        if fd < 0 {
            let e = errno
            throw e == ENOENT ? CheckpointError.fileNotFound(file: path)
                              : CheckpointError.ioError(file: path, operation: "open", errno: e)
        }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw CheckpointError.ioError(file: path, operation: "fstat", errno: errno) }
        guard (st.st_mode & S_IFMT) == S_IFREG else {
            throw CheckpointError.ioError(file: path, operation: "map (not a regular file)", errno: EISDIR)
        }
        let size = Int(st.st_size)
        count = size
        if size == 0 {
            base = nil
            backing = .empty
            return
        }
        let p = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0)
        guard let p, p != MAP_FAILED else {
            throw CheckpointError.ioError(file: path, operation: "mmap", errno: errno)
        }
        base = p
        backing = .mapped
    }

    deinit {
        guard let base else { return }
        switch backing {
        case .mapped: munmap(base, count)
        case .allocated: free(base)
        case .empty: break
        }
    }

    /// Lends the bytes for the duration of `body`. The pointer must not escape.
    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try body(UnsafeRawBufferPointer(start: base, count: count))
    }

    /// Tells the kernel that `range` of a mapping is not needed for now, so its resident pages leave
    /// this process's RSS (they stay in the page cache and are read back on the next touch). Used
    /// after a tensor was copied elsewhere (stacked Q|K|V), so loading does not hold the file twice.
    /// Only whole pages inside the range are released; owned storage is left alone.
    public func releaseResidentPages(_ range: Range<Int>) {
        guard backing == .mapped, let base, range.lowerBound >= 0, range.upperBound <= count else { return }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let start = Int(bitPattern: base) + range.lowerBound, end = Int(bitPattern: base) + range.upperBound
        let lo = (start + page - 1) / page * page, hi = end / page * page
        guard hi > lo, let p = UnsafeMutableRawPointer(bitPattern: lo) else { return }
        _ = madvise(p, hi - lo, Int32(MADV_DONTNEED))
    }

    /// Write access, only for storage this module allocated and is still filling in.
    func withUnsafeMutableBytes<R>(_ body: (UnsafeMutableRawBufferPointer) throws -> R) rethrows -> R {
        switch backing {
        case .mapped: return try body(UnsafeMutableRawBufferPointer(start: nil, count: 0))
        case .allocated, .empty: return try body(UnsafeMutableRawBufferPointer(start: base, count: count))
        }
    }
}
