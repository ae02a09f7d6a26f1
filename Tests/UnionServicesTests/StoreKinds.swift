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
            FileManager.default.temporaryDirectory.appendingPathComponent("store-\(UUID().uuidString).sqlite").path
        case .postgres:
            try TestPostgres.database()
        }
    }

    /// Opens a new, empty store of this kind.
    func open(_ location: String? = nil, logger: Logger? = nil) async throws -> UnionStore {
        var quiet = Logger(label: "test")
        quiet.logLevel = .critical
        return try await UnionStore.open(path: location ?? freshLocation(), logger: logger ?? quiet)
    }
}
