import Foundation

/// Where the store keeps its data: an SQLite file (the embedded default, or `:memory:`), or a
/// PostgreSQL database named by a `postgres://` (or `postgresql://`) URL.
public enum DatabaseLocation: Sendable, Hashable, CustomStringConvertible {
    /// An SQLite file, or `:memory:`.
    case sqlite(path: String)
    /// A PostgreSQL database.
    case postgres(PostgresLocation)

    /// Reads `text`: a `postgres://` or `postgresql://` URL, or else a file path.
    ///
    /// - Throws: ``StoreError`` for a PostgreSQL URL that cannot be used.
    public init(_ text: String) throws {
        let lowered = text.lowercased()
        if lowered.hasPrefix("postgres://") || lowered.hasPrefix("postgresql://") {
            self = .postgres(try PostgresLocation(url: text))
        } else {
            self = .sqlite(path: text)
        }
    }

    /// The location for logs and messages: a PostgreSQL password is never shown.
    public var description: String {
        switch self {
        case .sqlite(let path): path
        case .postgres(let location): location.description
        }
    }

    /// Where the media files that go with the data are kept by default: `media` in
    /// ``localFolder``; nil for `:memory:`.
    public var mediaFolder: String? {
        localFolder.map { URL(fileURLWithPath: $0).appendingPathComponent("media").path }
    }

    /// The folder beside an SQLite file for the files that go with it (the journal, media); the
    /// working directory for PostgreSQL; nil for `:memory:`.
    public var localFolder: String? {
        switch self {
        case .sqlite(":memory:"): nil
        case .sqlite(let path): URL(fileURLWithPath: path).deletingLastPathComponent().path
        case .postgres: FileManager.default.currentDirectoryPath
        }
    }
}

/// A PostgreSQL database: `postgres://user:password@host:port/database?sslmode=…&pool_size=…`.
public struct PostgresLocation: Sendable, Hashable, CustomStringConvertible {
    /// How the connection uses TLS, as libpq's `sslmode` says.
    public enum TLSMode: String, Sendable, Hashable, CaseIterable {
        /// No TLS.
        case disable
        /// TLS if the server offers it (`allow` and `prefer`).
        case prefer
        /// TLS required; the certificate is not checked (`require`).
        case require
        /// TLS required, the certificate checked against the trusted roots (`verify-ca`).
        case verifyCA = "verify-ca"
        /// TLS required, the certificate checked and its name matched (`verify-full`).
        case verifyFull = "verify-full"
    }

    public var host: String
    public var port: Int
    public var user: String
    public var password: String?
    public var database: String
    public var tls: TLSMode
    /// The most connections this process opens (`pool_size`, default 8).
    public var poolSize: Int
    /// How long a caller waits for a connection before the database counts as unreachable and a
    /// member's message goes to the journal (`connect_timeout`, seconds, as libpq spells it; 2 by
    /// default, so the journal still answers within WeChat's 5 seconds).
    public var connectionDeadline: Duration = .seconds(2)

    /// Reads a `postgres://` or `postgresql://` URL. User, password and database may be
    /// percent-encoded; `sslmode` (or `tlsmode`) takes libpq's values, `prefer` by default;
    /// `pool_size` is 1–200; `connect_timeout` is how long to wait for a connection (seconds).
    public init(url: String) throws {
        guard let components = URLComponents(string: url), let scheme = components.scheme?.lowercased(),
            ["postgres", "postgresql"].contains(scheme)
        else { throw StoreError("the database URL is not a postgres:// URL") }
        guard let host = components.host, !host.isEmpty else {
            throw StoreError("the database URL names no host (postgres://user:password@host:5432/database)")
        }
        self.host = host
        port = components.port ?? 5432
        guard let user = components.percentEncodedUser?.removingPercentEncoding, !user.isEmpty else {
            throw StoreError("the database URL names no user (postgres://user:password@host:5432/database)")
        }
        self.user = user
        password = components.percentEncodedPassword?.removingPercentEncoding
        let name = String(components.percentEncodedPath.drop { $0 == "/" }).removingPercentEncoding ?? ""
        database = name.isEmpty ? user : name
        tls = .prefer
        poolSize = 8
        for item in components.queryItems ?? [] {
            let value = item.value ?? ""
            switch item.name.lowercased() {
            case "sslmode", "tlsmode":
                switch value.lowercased() {
                case "disable": tls = .disable
                case "allow", "prefer": tls = .prefer
                case "require": tls = .require
                case "verify-ca": tls = .verifyCA
                case "verify-full": tls = .verifyFull
                default:
                    throw StoreError(
                        "sslmode=\(value) is not one of disable, allow, prefer, require, verify-ca, verify-full")
                }
            case "pool_size", "pool_max":
                guard let size = Int(value), (1...200).contains(size) else {
                    throw StoreError("pool_size=\(value) is not a number from 1 to 200")
                }
                poolSize = size
            case "connect_timeout":
                guard let seconds = Int(value), (1...300).contains(seconds) else {
                    throw StoreError("connect_timeout=\(value) is not a number of seconds from 1 to 300")
                }
                connectionDeadline = .seconds(seconds)
            case "application_name":
                break  // accepted, as libpq users write it
            default:
                throw StoreError("the database URL has an unknown parameter \(item.name) (sslmode, pool_size)")
            }
        }
    }

    public var description: String {
        let secret = password == nil ? "" : ":***"
        return "postgres://\(user)\(secret)@\(host):\(port)/\(database)?sslmode=\(tls.rawValue)&pool_size=\(poolSize)"
    }
}
