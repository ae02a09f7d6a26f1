import Foundation
import SQLKit

/// Which page of a list: `?page=` (from 1) and `?per_page=` (50 by default, 500 at most).
public struct PageRequest: Sendable, Hashable {
    /// The page, from 1.
    public var page: Int
    /// Rows per page.
    public var perPage: Int

    /// The default rows per page.
    public static let defaultPerPage = 50
    /// The most rows a page may ask for.
    public static let maxPerPage = 500

    /// A page; out-of-range values are refused with a message for the caller.
    public init(page: Int = 1, perPage: Int = PageRequest.defaultPerPage) throws {
        guard page >= 1 else { throw AdminActionError(.invalid, "page starts at 1") }
        guard (1...Self.maxPerPage).contains(perPage) else {
            throw AdminActionError(.invalid, "per_page is 1 to \(Self.maxPerPage)")
        }
        self.page = page
        self.perPage = perPage
    }

    /// Everything, in one page (for exports).
    public static let all = try! PageRequest(page: 1, perPage: Self.maxPerPage).unbounded()

    private func unbounded() -> PageRequest {
        var copy = self
        copy.perPage = Int(Int32.max)
        return copy
    }

    var offset: Int { (page - 1) * perPage }
}

/// One page of a list, with the number of rows in the whole list.
public struct Page<Item: Sendable>: Sendable {
    /// This page's rows.
    public var items: [Item]
    /// The rows in the whole (filtered) list.
    public var total: Int
    /// Which page this is.
    public var request: PageRequest

    /// The same page with its rows transformed.
    public func map<Other>(_ transform: (Item) throws -> Other) rethrows -> Page<Other> {
        Page<Other>(items: try items.map(transform), total: total, request: request)
    }

    /// Whether a page follows this one.
    public var hasNext: Bool { request.offset + items.count < total }
}

extension UnionStore {
    /// A page of `table`'s rows, newest (highest id) first, with the same `filter` counted for
    /// the total: one snapshot for both.
    func page<Row: Decodable & Sendable>(
        from table: String, request: PageRequest, filter: @escaping @Sendable (SQLSelectBuilder) -> SQLSelectBuilder,
        decoding: Row.Type, searching: Bool = false
    ) async throws -> Page<Row> {
        try await read { database in
            if !searching {
                // Counted from an index; the page read newest first, stopping after it.
                let count = try await database.count(table, where: filter)
                let rows = try await filter(database.select().columns("*").from(table))
                    .orderBy("id", .descending).limit(request.perPage).offset(request.offset)
                    .all(decoding: Row.self, keyDecodingStrategy: .convertFromSnakeCase)
                return Page(items: rows, total: count, request: request)
            }
            // A search reads every row: the page's ids and the number of matches in one pass (a
            // window over the matches), reading only the searched columns (from an index that
            // holds them, where there is one: far fewer pages than the rows), then the page's rows.
            let hits = try await filter(
                database.select().column("id")
                    .column(SQLRaw("COUNT(*) OVER ()"), as: "page_total").from(table)
            )
            .orderBy("id", .descending).limit(request.perPage).offset(request.offset)
            .all()
            if let first = hits.first {
                let ids = try hits.map { try $0.decode(column: "id", as: Int.self) }
                let rows = try await database.select().columns("*").from(table).where("id", .in, ids)
                    .orderBy("id", .descending)
                    .all(decoding: Row.self, keyDecodingStrategy: .convertFromSnakeCase)
                return Page(items: rows, total: try first.decode(column: "page_total", as: Int.self), request: request)
            }
            // Past the last page: the size alone.
            return Page(items: [], total: try await database.count(table, where: filter), request: request)
        }
    }
}

extension UnionStore {
    /// Every row of `table` left by `filter`, newest first, in batches of `size` read one at a
    /// time (keyed on the id, so each batch costs the same however deep it is), each handed to
    /// `body` before the next is read: an export of any size holds one batch in memory.
    func batches<Row: Decodable & Sendable>(
        from table: String, size: Int, filter: @escaping @Sendable (SQLSelectBuilder) -> SQLSelectBuilder,
        decoding: Row.Type, id: @escaping @Sendable (Row) -> Int, _ body: ([Row]) async throws -> Void
    ) async throws {
        var below: Int?
        while true {
            let after = below
            let rows = try await read { database in
                var query = filter(database.select().columns("*").from(table))
                if let after { query = query.where("id", .lessThan, after) }
                return try await query.orderBy("id", .descending).limit(size)
                    .all(decoding: Row.self, keyDecodingStrategy: .convertFromSnakeCase)
            }
            guard let last = rows.last else { return }
            try await body(rows)
            if rows.count < size { return }
            below = id(last)
        }
    }
}

extension SQLDatabase {
    /// How many rows of `table` are left by `filter`.
    func count(_ table: String, where filter: (SQLSelectBuilder) -> SQLSelectBuilder = { $0 }) async throws -> Int {
        try await filter(select().column(SQLFunction("COUNT", args: SQLLiteral.all), as: "n").from(table))
            .first()?.decode(column: "n", as: Int.self) ?? 0
    }
}

/// What an admin list shows: the records of some units, optionally with one status, optionally
/// those containing a search text.
public struct RecordFilter: Sendable, Hashable {
    /// Whose records.
    public var scope: UnitScope
    /// Only this status (its raw value).
    public var status: String?
    /// Only records whose searched columns contain this text.
    public var search: String?

    /// Creates a filter.
    public init(scope: UnitScope = .everything, status: String? = nil, search: String? = nil) {
        self.scope = scope
        self.status = status
        self.search = search
    }

    /// Whether it searches (and so reads every row of its scope).
    var isSearching: Bool { !(search?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "").isEmpty }

    /// `query` with the filter applied; the search looks in `columns`, and in the names and
    /// phone numbers of the members who wrote the record when `byMember`. The columns in
    /// `indexed` are searched through their pieces (``StoreDialect/contains(indexed:_:)``).
    func restrict(
        _ query: SQLSelectBuilder, dialect: StoreDialect, searching columns: [String], indexed: Set<String> = [],
        byMember: Bool = false
    ) -> SQLSelectBuilder {
        var query = scope.restrict(query)
        if let status { query = query.where("status", .equal, status) }
        let text = search?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
        guard !text.isEmpty else { return query }
        return query.where(group: { group in
            // Digits are looked for in phone numbers and receipt numbers, anything else in the
            // other columns: no column is read for what it cannot hold.
            // (A receipt number has at most six digits in a row.)
            // Receipt numbers and phone numbers are ASCII: a name in Chinese is not looked for there.
            let digits = text.allSatisfy { $0.isASCII && $0.isNumber }
            let ascii = text.allSatisfy(\.isASCII)
            let searched = columns.filter { column in
                (digits || column != "phone") && !(digits && text.count > 6 && column == "number")
                    && (ascii || column != "number")
            }
            if searched.isEmpty && !byMember { return group.where(SQLLiteral.boolean(false)) }  // nowhere to look
            for column in searched {
                _ = group.orWhere(
                    indexed.contains(column)
                        ? dialect.contains(indexed: column, text) : dialect.contains(SQLColumn(column), text))
            }
            if byMember {
                _ = group.orWhere(
                    SQLColumn("openid"), .in, MembershipRegistry.applicants(matching: text, dialect: dialect))
            }
            return group
        })
    }
}
