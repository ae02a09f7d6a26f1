import Foundation
import Hummingbird
import Logging
import ReplyRules
import UnionServices

/// The admin API under `/admin/api/`: JSON, `Authorization: Bearer <UNIONGATE_ADMIN_TOKEN>`.
/// The paths and field names are a contract with tools outside the code.
struct AdminRoutes: Sendable {
    let auth: AdminAuthMiddleware
    let registry: MembershipRegistry
    let suggestions: SuggestionBox
    let submissions: FormSubmissions
    let store: UnionStore
    let rules: LiveRules
    let clock: @Sendable () -> Int64

    func register(on router: Router<GatewayRequestContext>) {
        let api = router.group("admin/api").add(middleware: auth)
        api.get("members", use: listMembers)
        api.post("members/:id/approve") { _, context in
            try await Self.refusing {
                AdminRecords.Member(try await registry.approve(try Self.id(context), at: clock()))
            }
        }
        api.post("members/:id/reject") { request, context in
            let body = try await request.decode(as: RejectBody.self, context: context)
            return try await Self.refusing {
                AdminRecords.Member(
                    try await registry.reject(try Self.id(context), reason: body.reason ?? "", at: clock()))
            }
        }
        api.get("suggestions", use: listSuggestions)
        api.patch("suggestions/:id") { request, context in
            let body = try await request.decode(as: SuggestionPatch.self, context: context)
            let status = try body.status.map { try Self.status(Suggestion.Status.self, $0) }
            return try await Self.refusing {
                AdminRecords.SuggestionRecord(
                    try await suggestions.update(try Self.id(context), status: status, reply: body.reply, at: clock()))
            }
        }
        api.get("forms/:form/submissions") { request, context -> Response in
            // Form names are Chinese: the path carries them percent-encoded.
            let raw = try context.parameters.require("form")
            let form = raw.removingPercentEncoding ?? raw
            let list = try await submissions.list(form: form)
            if Self.wantsCSV(request) {
                let definition = rules.engine.book.forms[form]
                return Self.csv(
                    CSVExport.submissions(list, form: definition, utcOffsetMinutes: offset), name: "form-\(form)")
            }
            return try list.map(AdminRecords.Submission.init).response(from: request, context: context)
        }
        api.get("outbox") { request, _ in
            let status = try Self.statusFilter(OutboxMessage.Status.self, request)
            let list = try await store.read { database in try await Outbox.list(status: status, in: database) }
            return list.map(AdminRecords.OutboxRecord.init)
        }
    }

    private var offset: Int { rules.engine.book.settings.utcOffsetMinutes }

    @Sendable private func listMembers(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        let list = try await registry.list(status: try Self.statusFilter(MembershipApplication.Status.self, request))
        if Self.wantsCSV(request) {
            return Self.csv(CSVExport.members(list, utcOffsetMinutes: offset), name: "members")
        }
        return try list.map(AdminRecords.Member.init).response(from: request, context: context)
    }

    @Sendable private func listSuggestions(_ request: Request, context: GatewayRequestContext) async throws
        -> Response
    {
        let list = try await suggestions.list(status: try Self.statusFilter(Suggestion.Status.self, request))
        if Self.wantsCSV(request) {
            return Self.csv(CSVExport.suggestions(list, utcOffsetMinutes: offset), name: "suggestions")
        }
        return try list.map(AdminRecords.SuggestionRecord.init).response(from: request, context: context)
    }

    /// The `?status=` filter, nil when absent; a 400 that names the allowed values when unknown.
    static func statusFilter<Status: RawRepresentable & CaseIterable>(_ type: Status.Type, _ request: Request)
        throws -> Status? where Status.RawValue == String
    {
        try request.uri.queryParameters.get("status").map { try status(type, $0) }
    }

    static func status<Status: RawRepresentable & CaseIterable>(_ type: Status.Type, _ text: String) throws -> Status
    where Status.RawValue == String {
        guard let status = Status(rawValue: text) else {
            let allowed = Status.allCases.map(\.rawValue).joined(separator: ", ")
            throw HTTPError(.badRequest, message: "unknown status \(text); use one of \(allowed)")
        }
        return status
    }

    static func id(_ context: GatewayRequestContext) throws -> Int {
        try context.parameters.require("id", as: Int.self)
    }

    /// Runs an action, turning its refusal into the matching HTTP error.
    static func refusing<Record>(_ action: () async throws -> Record) async throws -> Record {
        do {
            return try await action()
        } catch let error as AdminActionError {
            switch error.kind {
            case .notFound: throw HTTPError(.notFound, message: error.message)
            case .conflict: throw HTTPError(.conflict, message: error.message)
            case .invalid: throw HTTPError(.badRequest, message: error.message)
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

    static func wantsCSV(_ request: Request) -> Bool {
        request.uri.queryParameters.get("format") == "csv"
    }

    static func csv(_ text: String, name: String) -> Response {
        Response(
            status: .ok,
            headers: [.contentType: "text/csv; charset=utf-8", .contentDisposition: contentDisposition(name + ".csv")],
            body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    /// `attachment` with a file name built only from safe characters: an ASCII `filename=` for
    /// old clients (anything else becomes `_`), and the whole name in RFC 5987's `filename*=`.
    static func contentDisposition(_ name: String) -> String {
        let safe = name.unicodeScalars.map { scalar -> String in
            scalar.isASCII
                && (scalar.properties.isAlphabetic || scalar.properties.numericType != nil
                    || "-_.".unicodeScalars.contains(scalar))
                ? String(scalar) : "_"
        }.joined()
        var allowed = CharacterSet.alphanumerics.intersection(
            CharacterSet(charactersIn: Unicode.Scalar(0)..<Unicode.Scalar(128)))
        allowed.insert(charactersIn: "-_.")
        let encoded = name.addingPercentEncoding(withAllowedCharacters: allowed) ?? safe
        return "attachment; filename=\"\(safe)\"; filename*=UTF-8''\(encoded)"
    }
}

extension AdminRecords.Member: ResponseEncodable {}
extension AdminRecords.SuggestionRecord: ResponseEncodable {}
extension AdminRecords.Submission: ResponseEncodable {}
extension AdminRecords.OutboxRecord: ResponseEncodable {}

/// Refuses requests without the admin token (401), comparing in constant time.
/// The admin API's door: the bearer token, checked against its digest; failed attempts slowed
/// and then refused per client address (``AdminAttempts``) and logged; and any 5xx the API
/// answers logged with its route.
struct AdminAuthMiddleware: RouterMiddleware {
    typealias Context = GatewayRequestContext
    let secrets: GatewaySecrets
    let attempts: AdminAttempts
    let logger: Logger
    /// Holds a failed attempt's answer (a sleep; tests record it instead).
    var pause: @Sendable (Duration) async -> Void = { try? await Task.sleep(for: $0) }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        let address = context.clientAddress
        if case .locked(let retryAfter) = attempts.admission(address) {
            var error = HTTPError(.tooManyRequests, message: "too many failed attempts; try again later")
            error.headers[.retryAfter] = String(retryAfter)
            throw error
        }
        let header = request.headers[.authorization] ?? ""
        let prefix = "Bearer "
        guard header.hasPrefix(prefix), secrets.isAdminToken(header.dropFirst(prefix.count))
        else {
            let penalty = attempts.failed(address)
            if penalty.log {
                logger.warning(
                    "admin API: missing or wrong token",
                    metadata: [
                        "client": "\(RefusalLog.clean(address, limit: 64))", "failures": "\(penalty.failures)",
                        "path": "\(RefusalLog.clean(request.uri.path, limit: 120))",
                    ])
            }
            if penalty.delay > .zero { await pause(penalty.delay) }
            var error = HTTPError(.unauthorized, message: "missing or wrong admin token")
            error.headers[.wwwAuthenticate] = "Bearer"
            throw error
        }
        attempts.succeeded(address)
        let route = "\(request.method) \(RefusalLog.clean(request.uri.path, limit: 120))"
        do {
            let response = try await next(request, context)
            if response.status.code >= 500 {
                logger.error("admin API answered \(response.status.code)", metadata: ["route": "\(route)"])
            }
            return response
        } catch let error as any HTTPResponseError where error.status.code < 500 {
            throw error
        } catch {
            logger.error(
                "admin API failed", metadata: ["route": "\(route)", "error": "\(RefusalLog.clean("\(error)"))"])
            throw error
        }
    }
}
