import PostgresKit
import SQLiteKit

/// A store problem a person can act on.
public struct StoreError: Error, CustomStringConvertible {
    /// What went wrong.
    public let message: String
    init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// The database could not write: locked by another process past every retry, the disk full,
/// an I/O error, a read-only file. Not the caller's fault, and worth trying again later.
public struct StoreUnavailable: Error, CustomStringConvertible {
    /// What the database said.
    public let underlying: any Error
    public var description: String { "the database cannot write now: \(underlying)" }

    /// Whether `error` is trouble of the database itself rather than of the statement (a
    /// constraint, a mistake): busy or locked, full, I/O, read-only, cannot open, out of memory.
    public static func isTrouble(_ error: any Error) -> Bool {
        if error is StoreUnavailable { return true }
        if let error = error as? PSQLError {
            // The server's own trouble (connection, resources, shutdown, system, read-only,
            // contention), or no answer at all: not the statement's fault.
            guard let state = error.serverInfo?[.sqlState] else { return error.code != .server }
            return ["08", "53", "57", "58"].contains { state.hasPrefix($0) } || Self.postgresBusy.contains(state)
                || state == "25006"
        }
        guard let error = error as? SQLiteError else { return false }
        let reason = String(describing: error.reason)
        return ["busy", "locked", "readOnly", "readonly", "ioError", "full", "cantOpen", "noMemory", "proto"].contains {
            reason.hasPrefix($0)
        }
    }

    /// Whether `error` is PostgreSQL refusing a second row with the same unique key.
    static func isUniqueViolation(_ error: any Error) -> Bool {
        (error as? PSQLError)?.serverInfo?[.sqlState] == "23505"
    }

    /// PostgreSQL's SQLSTATEs for contention: serialization failure, deadlock, lock not available.
    static let postgresBusy: Set<String> = ["40001", "40P01", "55P03"]

    /// `error` as ``StoreUnavailable`` (unchanged when it is one).
    static func wrapping(_ error: any Error) -> any Error {
        error is StoreUnavailable ? error : StoreUnavailable(underlying: error)
    }

    /// Whether `error` is the database being busy (locked by another connection).
    static func isBusy(_ error: any Error) -> Bool {
        if let error = error as? PSQLError, let state = error.serverInfo?[.sqlState] {
            return postgresBusy.contains(state)
        }
        guard let error = error as? SQLiteError else { return false }
        let reason = String(describing: error.reason)
        return reason.hasPrefix("busy") || reason.hasPrefix("locked")
    }
}
