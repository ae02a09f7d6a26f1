import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// The random prefixes of encrypted replies, drawn from the kernel's random source 4 KiB at a
/// time and handed out 16 bytes at a time, each byte once.
///
/// Measured (`wire-benchmark`, release): one `getentropy` of 16 bytes per reply costs 0.45 µs,
/// a system call on every encrypted answer; `SystemRandomNumberGenerator`, which swift-crypto
/// also uses, makes one call per 8 bytes (0.87 µs for 16). Neither library offers a buffered
/// source. From the pool, a prefix costs a lock and a copy; the kernel is asked once per 16
/// replies (`getentropy` gives at most 256 bytes a call). The bytes come from the same source
/// as before, unchanged.
final class RandomPool: Sendable {
    static let shared = RandomPool()

    private static let size = 4096

    private struct State: ~Copyable {
        var bytes: UnsafeMutableRawBufferPointer
        var next: Int
    }

    private let state: Mutex<State>

    private init() {
        let bytes = UnsafeMutableRawBufferPointer.allocate(byteCount: Self.size, alignment: 16)
        state = Mutex(State(bytes: bytes, next: Self.size))
    }

    deinit {
        state.withLock { $0.bytes.deallocate() }
    }

    /// Writes 16 fresh random bytes at the start of `destination`.
    func fill16(_ destination: UnsafeMutableRawBufferPointer) {
        precondition(destination.count >= 16)
        let (high, low) = state.withLock { state in
            if state.next + 16 > Self.size {
                Self.refill(state.bytes)
                state.next = 0
            }
            let high = state.bytes.loadUnaligned(fromByteOffset: state.next, as: UInt64.self)
            let low = state.bytes.loadUnaligned(fromByteOffset: state.next + 8, as: UInt64.self)
            // Each byte is given out once: wipe what was handed over.
            state.bytes.storeBytes(of: 0, toByteOffset: state.next, as: UInt64.self)
            state.bytes.storeBytes(of: 0, toByteOffset: state.next + 8, as: UInt64.self)
            state.next += 16
            return (high, low)
        }
        destination.storeBytes(of: high, toByteOffset: 0, as: UInt64.self)
        destination.storeBytes(of: low, toByteOffset: 8, as: UInt64.self)
    }

    /// Fills `buffer` from the kernel: `getentropy` (at most 256 bytes a call) where there is
    /// one, else the standard library's system generator.
    private static func refill(_ buffer: UnsafeMutableRawBufferPointer) {
        #if canImport(Glibc)
            var filled = 0
            while filled < buffer.count, getentropy(buffer.baseAddress! + filled, min(256, buffer.count - filled)) == 0
            {
                filled += min(256, buffer.count - filled)
            }
            if filled == buffer.count { return }
        #endif
        var generator = SystemRandomNumberGenerator()
        var offset = 0
        while offset < buffer.count {
            buffer.storeBytes(of: generator.next() as UInt64, toByteOffset: offset, as: UInt64.self)
            offset += 8
        }
    }
}
