import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A `flock` on a lock file, held while the descriptor is open. The journal holds its own
/// exclusively (one instance a journal); every store on an SQLite file holds `<file>.lock`
/// shared, and a restore takes it exclusive, so a restore refuses a database in use. (SQLite's
/// own locks are POSIX locks on the database file, which a second descriptor on that file would
/// release when closed: hence a file of its own.)
final class FileLock: Sendable {
    /// What taking a lock came to.
    enum Outcome {
        case locked(FileLock)
        /// Another descriptor holds it in a way that excludes this one.
        case held
        /// The lock file cannot be opened or made; why.
        case unopenable(String)
    }

    private let descriptor: Mutex<Int32>

    private init(descriptor: Int32) {
        self.descriptor = Mutex(descriptor)
    }

    /// Takes the lock on `path` (made if needed, mode 0600) without waiting.
    static func take(_ path: String, exclusive: Bool) -> Outcome {
        let descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { return .unopenable(String(cString: strerror(errno))) }
        guard flock(descriptor, (exclusive ? LOCK_EX : LOCK_SH) | LOCK_NB) == 0 else {
            close(descriptor)
            return .held
        }
        return .locked(FileLock(descriptor: descriptor))
    }

    /// Releases the lock (closing the descriptor releases its `flock`); once.
    func release() {
        descriptor.withLock {
            if $0 >= 0 { close($0) }
            $0 = -1
        }
    }

    deinit { release() }
}
