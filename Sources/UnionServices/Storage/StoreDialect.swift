import SQLKit

/// What differs between the databases the store runs on, kept in this one place: every query
/// elsewhere is written with SQLKit's builders and shared.
enum StoreDialect: Sendable, Equatable {
    /// SQLite, the embedded default: one file, WAL mode, fully synchronous commits.
    case sqlite(inMemory: Bool)
    /// PostgreSQL, shared by several gateway instances.
    case postgres

    /// Settings applied once when a connection opens.
    func configure(_ database: any SQLDatabase) async throws {
        switch self {
        case .sqlite(let inMemory):
            // Several processes (the server, `uniongate chat`, `uniongate members`) may share the file.
            // A second here, and the store tries twice more (``UnionStore/busyRetries``): within
            // WeChat's reply deadline either way.
            try await database.raw("PRAGMA busy_timeout = 1000").run()
            if !inMemory {
                try await database.raw("PRAGMA journal_mode = WAL").run()
            }
            try await database.raw("PRAGMA synchronous = FULL").run()
            // Lists that read a whole table (a search over 200,000 members) read the file
            // mapped, not copied page by page through the cache.
            if !inMemory { try await database.raw("PRAGMA mmap_size = 268435456").run() }
            try await database.raw("PRAGMA foreign_keys = ON").run()
        case .postgres:
            break  // nothing per connection: the server's defaults (read committed, synchronous commit)
        }
    }

    /// A number that changes when another connection commits to the database (not when this one
    /// does), or nil when the database cannot tell.
    func outsideChanges(_ database: any SQLDatabase) async throws -> Int? {
        switch self {
        case .sqlite(inMemory: true):
            return nil  // no other connection can reach it
        case .sqlite:
            return try await database.raw("PRAGMA data_version").first()?.decode(column: "data_version", as: Int.self)
        case .postgres:
            return nil
        }
    }

    /// Starts a transaction that will write.
    func beginWrite(_ database: any SQLDatabase) async throws {
        switch self {
        case .sqlite:
            // IMMEDIATE takes the write lock up front, so two processes never deadlock upgrading.
            try await database.raw("BEGIN IMMEDIATE").run()
        case .postgres:
            try await database.raw("BEGIN").run()
        }
    }

    /// Whether several gateway instances may share the database (and so the outbox).
    var sharedByInstances: Bool {
        switch self {
        case .sqlite: false
        case .postgres: true
        }
    }

    /// What a query that claims rows to work on adds, so that two instances claiming at once
    /// take different rows: `FOR UPDATE SKIP LOCKED` on PostgreSQL; nothing on SQLite, whose
    /// write transaction already excludes every other writer.
    var claimingClause: (any SQLExpression)? {
        switch self {
        case .sqlite: nil
        case .postgres: SQLRaw("FOR UPDATE SKIP LOCKED")
        }
    }

    /// Inside a transaction: waits until no other process (another gateway instance) holds the
    /// lock named `key`, and holds it until the transaction ends. SQLite's write transaction
    /// already excludes every other writer.
    func lockForTransaction(_ key: Int64, _ database: any SQLDatabase) async throws {
        switch self {
        case .sqlite:
            break
        case .postgres:
            try await database.raw("SELECT pg_advisory_xact_lock(\(bind: key))").run()
        }
    }

    /// Commits the transaction.
    func commit(_ database: any SQLDatabase) async throws {
        try await database.raw("COMMIT").run()
    }

    /// Marks a point in the transaction that one caller's writes can be rolled back to.
    func savepoint(_ database: any SQLDatabase) async throws {
        try await database.raw("SAVEPOINT one_write").run()
    }

    /// Keeps the writes since the savepoint, as part of the transaction.
    func releaseSavepoint(_ database: any SQLDatabase) async throws {
        try await database.raw("RELEASE SAVEPOINT one_write").run()
    }

    /// Undoes the writes since the savepoint, and drops it.
    func rollbackToSavepoint(_ database: any SQLDatabase) async throws {
        try await database.raw("ROLLBACK TO SAVEPOINT one_write").run()
        try await database.raw("RELEASE SAVEPOINT one_write").run()
    }

    /// Whether `column` contains `text` (a plain substring: no wildcards to escape).
    func contains(_ column: any SQLExpression, _ text: String) -> any SQLExpression {
        let position: any SQLExpression
        switch self {
        case .sqlite: position = SQLFunction("instr", args: column, SQLBind(text))
        case .postgres: position = SQLFunction("strpos", args: column, SQLBind(text))
        }
        return SQLBinaryExpression(left: position, op: SQLBinaryOperator.greaterThan, right: SQLLiteral.numeric("0"))
    }

    /// Whether `column` contains `text`, for a column PostgreSQL indexes by its pieces of one to
    /// three characters (``Migrations`` 16: members' names and phone numbers). A substring search
    /// otherwise reads every row of its scope (`strpos`), and a trigram index (`pg_trgm`) finds
    /// nothing for a two-character name such as 王伟: in a database whose locale is C its
    /// trigrams hold no Chinese at all. The pieces find the rows that may match, `strpos` keeps
    /// those that do; on SQLite it is ``contains(_:_:)``.
    func contains(indexed column: String, _ text: String) -> any SQLExpression {
        switch self {
        case .sqlite:
            return contains(SQLColumn(column), text)
        case .postgres:
            let pieces = SQLBinaryExpression(
                left: SQLFunction("uniongate_grams", args: SQLColumn(column)), op: SQLRaw("@>"),
                right: SQLBind(Self.grams(of: text)))
            return SQLBinaryExpression(
                left: pieces, op: SQLBinaryOperator.and, right: contains(SQLColumn(column), text))
        }
    }

    /// The pieces of `text` a row that contains it holds among its own (`uniongate_grams`):
    /// its three-character pieces, or itself when shorter. Characters as PostgreSQL counts them
    /// (Unicode scalars).
    static func grams(of text: String) -> [String] {
        let scalars = Array(text.unicodeScalars)
        guard scalars.count > 3 else { return [text] }
        let pieces = (0...(scalars.count - 3)).map { start in
            String(String.UnicodeScalarView(scalars[start..<(start + 3)]))
        }
        return Array(Set(pieces)).sorted()
    }

    /// Rolls the transaction back.
    func rollback(_ database: any SQLDatabase) async throws {
        try await database.raw("ROLLBACK").run()
    }
}
