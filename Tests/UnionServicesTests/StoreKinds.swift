import Foundation
import Logging
import Testing
import WeChatTestSupport

@testable import UnionServices

/// The databases every store test runs against.
enum StoreKind: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case sqlite
    case postgres

    var testDescription: String { rawValue }

    /// A new, empty database of this kind: a temporary SQLite file, or a database in the tests'
    /// PostgreSQL cluster.
    func freshLocation() throws -> String {
        switch self {
        case .sqlite:
            Scratch.folder.appendingPathComponent("store-\(UUID().uuidString).sqlite").path
        case .postgres:
            try TestPostgres.database()
        }
    }

    /// Opens a new, empty store of this kind.
    func open(_ location: String? = nil, logger: Logger? = nil) async throws -> UnionStore {
        var quiet = Logger(label: "test")
        quiet.logLevel = .critical
        let location = try location ?? freshLocation()
        // A fresh pool's first connection (password exchange included) can miss the 2-second
        // connection deadline while the whole suite and the cluster test load both cores; that
        // is the deadline working, not what these tests are about, so opening is tried again.
        for _ in 0..<2 {
            do {
                return try await UnionStore.open(path: location, logger: logger ?? quiet)
            } catch is StoreUnavailable {
                continue
            }
        }
        return try await UnionStore.open(path: location, logger: logger ?? quiet)
    }
}
