import Foundation
import Hummingbird
import ReplyRules
import UnionServices

/// The admin API under `/admin/api/`: JSON, `Authorization: Bearer <UNIONGATE_ADMIN_TOKEN>`.
/// The paths and field names are a contract with tools outside the code.
struct AdminRoutes: Sendable {
    let adminToken: String
    let registry: MembershipRegistry
    let suggestions: SuggestionBox
    let submissions: FormSubmissions
    let store: UnionStore
    let rules: LiveRules
    let clock: @Sendable () -> Int64

    func register(on router: Router<BasicRequestContext>) {
        let api = router.group("admin/api").add(middleware: BearerTokenMiddleware(token: adminToken))
        api.get("members") { request, _ in try await listMembers(request) }
        api.post("members/:id/approve") { _, context in
            try await decide { try await registry.approve(try id(context), at: clock()) }
        }
        api.post("members/:id/reject") { request, context in
            let body = try await Self.decodeBody(RejectBody.self, from: request)
            return try await decide {
                try await registry.reject(try id(context), reason: body.reason ?? "", at: clock())
            }
        }
        api.get("suggestions") { request, _ in try await listSuggestions(request) }
        api.patch("suggestions/:id") { request, context in
            let body = try await Self.decodeBody(SuggestionPatch.self, from: request)
            var status: Suggestion.Status?
            if let text = body.status {
                guard let parsed = Suggestion.Status(rawValue: text) else {
                    let allowed = Suggestion.Status.allCases.map(\.rawValue).joined(separator: ", ")
                    return Self.error(.badRequest, "unknown status \(text); use one of \(allowed)")
                }
                status = parsed
            }
            return try await respond {
                AdminRecords.SuggestionRecord(
                    try await suggestions.update(try id(context), status: status, reply: body.reply, at: clock()))
            }
        }
        api.get("forms/:form/submissions") { request, context in
            // Form names are Chinese: the path carries them percent-encoded.
            let raw = context.parameters.get("form") ?? ""
            let form = raw.removingPercentEncoding ?? raw
            let list = try await submissions.list(form: form)
            if Self.wantsCSV(request) {
                let definition = rules.engine.book.forms[form]
                return Self.csv(
                    CSVExport.submissions(list, form: definition, utcOffsetMinutes: offset), name: "form-\(form)")
            }
            return try Self.json(list.map(AdminRecords.Submission.init))
        }
        api.get("outbox") { request, _ in
            let status: OutboxMessage.Status?
            switch Self.statusFilter(OutboxMessage.Status.self, request) {
            case .success(let filter): status = filter
            case .failure(let refusal): return refusal.response
            }
            let list = try await store.read { database in try await Outbox.list(status: status, in: database) }
            return try Self.json(list.map(AdminRecords.OutboxRecord.init))
        }
    }

    private var offset: Int { rules.engine.book.settings.utcOffsetMinutes }

    private func listMembers(_ request: Request) async throws -> Response {
        let status: MembershipApplication.Status?
        switch Self.statusFilter(MembershipApplication.Status.self, request) {
        case .success(let filter): status = filter
        case .failure(let refusal): return refusal.response
        }
        let list = try await registry.list(status: status)
        if Self.wantsCSV(request) {
            return Self.csv(CSVExport.members(list, utcOffsetMinutes: offset), name: "members")
        }
        return try Self.json(list.map(AdminRecords.Member.init))
    }

    private func listSuggestions(_ request: Request) async throws -> Response {
        let status: Suggestion.Status?
        switch Self.statusFilter(Suggestion.Status.self, request) {
        case .success(let filter): status = filter
        case .failure(let refusal): return refusal.response
        }
        let list = try await suggestions.list(status: status)
        if Self.wantsCSV(request) {
            return Self.csv(CSVExport.suggestions(list, utcOffsetMinutes: offset), name: "suggestions")
        }
        return try Self.json(list.map(AdminRecords.SuggestionRecord.init))
    }

    struct Refusal: Error {
        let response: Response
    }

    /// The `?status=` filter, nil when absent, or the 400 that names the allowed values.
    static func statusFilter<Status: RawRepresentable & CaseIterable>(_ type: Status.Type, _ request: Request)
        -> Result<Status?, Refusal> where Status.RawValue == String
    {
        guard let text = request.uri.queryParameters.get("status") else { return .success(nil) }
        guard let status = Status(rawValue: text) else {
            let allowed = Status.allCases.map(\.rawValue).joined(separator: ", ")
            return .failure(Refusal(response: error(.badRequest, "unknown status \(text); use one of \(allowed)")))
        }
        return .success(status)
    }

    private func id(_ context: BasicRequestContext) throws -> Int {
        guard let id = context.parameters.get("id", as: Int.self) else {
            throw AdminActionError(.invalid, "the id must be a whole number")
        }
        return id
    }

    private func decide(_ action: () async throws -> MembershipApplication) async throws -> Response {
        try await respond { AdminRecords.Member(try await action()) }
    }

    private func respond<Record: Encodable>(_ action: () async throws -> Record) async throws -> Response {
        do {
            return try Self.json(try await action())
        } catch let error as AdminActionError {
            switch error.kind {
            case .notFound: return Self.error(.notFound, error.message)
            case .conflict: return Self.error(.conflict, error.message)
            case .invalid: return Self.error(.badRequest, error.message)
            }
        }
    }

    struct RejectBody: Decodable {
        var reason: String?
    }

    struct SuggestionPatch: Decodable {
        var status: String?
        var reply: String?
    }

    static func decodeBody<Body: Decodable>(_ type: Body.Type, from request: Request) async throws -> Body {
        var request = request
        let buffer = try await request.collectBody(upTo: 64 * 1024)
        do {
            return try JSONDecoder().decode(Body.self, from: Data(buffer.readableBytesView))
        } catch {
            throw HTTPError(.badRequest, message: "the body must be JSON")
        }
    }

    static func wantsCSV(_ request: Request) -> Bool {
        request.uri.queryParameters.get("format") == "csv"
    }

    static func json<Value: Encodable>(_ value: Value, status: HTTPResponse.Status = .ok) throws -> Response {
        Response(
            status: status, headers: [.contentType: "application/json; charset=utf-8"],
            body: .init(byteBuffer: ByteBuffer(bytes: try AdminRecords.json(value))))
    }

    static func error(_ status: HTTPResponse.Status, _ message: String) -> Response {
        (try? json(["error": message], status: status)) ?? Response(status: status)
    }

    static func csv(_ text: String, name: String) -> Response {
        Response(
            status: .ok,
            headers: [
                .contentType: "text/csv; charset=utf-8", .contentDisposition: "attachment; filename=\"\(name).csv\"",
            ],
            body: .init(byteBuffer: ByteBuffer(string: text)))
    }
}

/// Refuses requests without the admin token (401), comparing in constant time.
struct BearerTokenMiddleware: RouterMiddleware {
    typealias Context = BasicRequestContext
    let token: String

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        let header = request.headers[.authorization] ?? ""
        let prefix = "Bearer "
        guard header.hasPrefix(prefix), Self.equal(Array(header.utf8.dropFirst(prefix.utf8.count)), Array(token.utf8))
        else {
            return Response(
                status: .unauthorized,
                headers: [.wwwAuthenticate: "Bearer", .contentType: "application/json; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(string: "{\"error\":\"missing or wrong admin token\"}")))
        }
        return try await next(request, context)
    }

    static func equal(_ left: [UInt8], _ right: [UInt8]) -> Bool {
        guard left.count == right.count else { return false }
        var difference: UInt8 = 0
        for index in 0..<left.count { difference |= left[index] ^ right[index] }
        return difference == 0
    }
}
