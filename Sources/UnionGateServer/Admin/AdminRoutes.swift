import Foundation
import HTTPTypes
import Hummingbird
import Logging
import ReplyRules
import UnionServices

/// The admin API under `/admin/api/`: JSON, `Authorization: Bearer <token>` — the root admin's
/// `UNIONGATE_ADMIN_TOKEN`, or a staff member's personal token, which sees only their unit and
/// the units below it (an id outside answers 404) and may do only what their role allows (403).
/// Lists are paged (`?page=&per_page=`, headers `X-Total-Count` and `Link`), filtered by unit
/// (`?unit=`, with its sub-units) and searched (`?q=`). The paths and field names are a contract
/// with tools outside the code.
struct AdminRoutes: Sendable {
    let auth: AdminAuthMiddleware
    let registry: MembershipRegistry
    /// Where the inbox's media files are.
    let mediaDirectory: String
    let suggestions: SuggestionBox
    let submissions: FormSubmissions
    let store: UnionStore
    let rules: LiveRules
    let clock: @Sendable () -> Int64
    /// The HTML pages (the QR poster).
    let pages: PageLibrary

    func register(on router: Router<GatewayRequestContext>) {
        let api = router.group("admin/api").add(middleware: auth)
        api.get("members", use: listMembers)
        api.post("members/:id/approve") { _, context in
            AdminRecords.Member(
                try await registry.approve(try Self.id(context), by: try context.actor(), at: clock()))
        }
        api.post("members/:id/reject") { request, context in
            let body = try await request.decode(as: RejectBody.self, context: context)
            return AdminRecords.Member(
                try await registry.reject(
                    try Self.id(context), reason: body.reason ?? "", by: try context.actor(), at: clock()))
        }
        api.get("suggestions", use: listSuggestions)
        api.patch("suggestions/:id") { request, context in
            let body = try await request.decode(as: SuggestionPatch.self, context: context)
            let status = try body.status.map { try Self.status(Suggestion.Status.self, $0) }
            return AdminRecords.SuggestionRecord(
                try await suggestions.update(
                    try Self.id(context), status: status, reply: body.reply, by: try context.actor(), at: clock()))
        }
        api.get("forms/:form/submissions") { request, context -> Response in
            // Form names are Chinese: the path carries them percent-encoded.
            let raw = try context.parameters.require("form")
            let form = raw.removingPercentEncoding ?? raw
            let (actor, filter) = try filter(request, context)
            if Self.wantsCSV(request) {
                try actor.require(.export)
                let list = try await submissions.page(form: form, filter, request: .all).items
                try await audit(export: "form.export", record: "form:\(form)", rows: list.count, request, actor)
                let definition = rules.engine.book.forms[form]
                return Self.csv(
                    CSVExport.submissions(list, form: definition, utcOffsetMinutes: offset), name: "form-\(form)")
            }
            let page = try await submissions.page(form: form, filter, request: try Self.pageRequest(request))
            return try Self.paged(page.map(AdminRecords.Submission.init), request, context)
        }
        registerCases(on: api)
        registerAid(on: api)
        registerActivities(on: api)
        registerClubs(on: api)
        api.patch("forms/:form/submissions/:id") { request, context in
            let raw = try context.parameters.require("form")
            let form = raw.removingPercentEncoding ?? raw
            let body = try await request.decode(as: SuggestionPatch.self, context: context)
            let status = try body.status.map { try Self.status(FormSubmission.Status.self, $0) }
            return AdminRecords.Submission(
                try await submissions.update(
                    try Self.id(context), form: form, status: status, reply: body.reply,
                    title: rules.engine.book.forms[form]?.title, by: try context.actor(), at: clock()))
        }
        api.get("outbox") { request, context in
            try context.actor().requireWholeTree(.administer)
            let status = try Self.statusFilter(OutboxMessage.Status.self, request)
            let list = try await Outbox.list(status: status, in: store)
            return list.map(AdminRecords.OutboxRecord.init)
        }
        // 需电话通知: members whose notices WeChat would not deliver, with their phone numbers.
        api.get("notices/pending") { _, context in
            try await Outbox.phoneNotices(for: try context.actor(), in: store).map(
                AdminRecords.PhoneNoticeRecord.init)
        }
        api.get("audit") { request, context in
            let page = try await AuditLog.page(
                for: try context.actor(), action: request.uri.queryParameters.get("action"),
                request: try Self.pageRequest(request), in: store)
            return try Self.paged(page.map(AdminRecords.AuditRecord.init), request, context)
        }
        api.get("stats") { request, context in
            try await UnitStatistics.of(
                unit: request.uri.queryParameters.get("unit"), organisation: organisation,
                for: try context.actor(), in: store, at: clock(), utcOffsetMinutes: offset)
        }
        api.get("qr") { _, context in
            try await QRCodes(store: store).list(for: try context.actor()).map {
                AdminRecords.QRRecord($0.code, funnel: $0.funnel, organisation: organisation)
            }
        }
        // The printable poster of a unit's join code (A4, the image inline).
        router.group("admin/qr").add(middleware: auth).get(":code") { _, context in
            let actor = try context.actor()
            try actor.require(.read)
            let code = try context.parameters.require("code")
            let book = rules.engine.book
            guard let unit = book.join.organisation.units[code], actor.scope.contains(code),
                let qr = try await QRCodes(store: store).code(unit: code), let image = qr.image
            else { throw AdminActionError(.notFound, "no QR code for unit \(code)") }
            let union =
                book.join.organisation.root.flatMap { book.join.organisation.units[$0]?.name }
                ?? book.settings.unionName
            return try pages.response(
                QRPosterPage(unionName: union, unit: unit, image: image), template: "qr-poster")
        }
    }

    /// The inbox: `GET cases[?status=&unit=&overdue=1&q=]`, `GET cases/{id}` with its thread,
    /// `POST cases/{id}/reply {text}`, `POST cases/{id}/close`, `POST cases/{id}/assign {unit, staff}`.
    private func registerCases(on api: RouterGroup<GatewayRequestContext>) {
        let inbox = Inbox(store: store)
        api.get("cases") { request, context -> Response in
            let status = try Self.statusFilter(MemberCase.Status.self, request)
            let (_, filter) = try filter(request, context, status: status?.rawValue)
            let now = clock()
            let overdue = ["1", "true", "yes"].contains(request.uri.queryParameters.get("overdue") ?? "")
            let page = try await inbox.page(
                filter, overdueAt: overdue ? now : nil, request: try Self.pageRequest(request))
            return try Self.paged(page.map { AdminRecords.CaseRecord($0, at: now) }, request, context)
        }
        api.get("cases/:id") { _, context in
            let (memberCase, messages) = try await inbox.thread(try Self.id(context), for: try context.actor())
            return AdminRecords.CaseRecord(memberCase, at: clock(), messages: messages)
        }
        // A media file a member sent into a case (same scope as the case).
        api.get("cases/:id/media/:message") { _, context -> Response in
            let media = try await inbox.storedMedia(
                try Self.id(context), message: try context.parameters.require("message", as: Int.self),
                for: try context.actor(), in: mediaDirectory)
            return Self.mediaResponse(media)
        }
        api.post("cases/:id/reply") { request, context in
            let body = try await request.decode(as: CaseReply.self, context: context)
            return AdminRecords.CaseRecord(
                try await inbox.reply(
                    try Self.id(context), text: body.text ?? "", by: try context.actor(), at: clock()),
                at: clock())
        }
        api.post("cases/:id/close") { _, context in
            AdminRecords.CaseRecord(
                try await inbox.close(try Self.id(context), by: try context.actor(), at: clock()), at: clock())
        }
        api.post("cases/:id/assign") { request, context in
            let body = try await request.decode(as: CaseAssignment.self, context: context)
            return AdminRecords.CaseRecord(
                try await inbox.assign(
                    try Self.id(context), unit: body.unit, staff: body.staff, organisation: organisation,
                    by: try context.actor(), at: clock()), at: clock())
        }
    }

    /// Aid applications: `GET aid[?queue=waiting|overdue|returned|all&workflow=]`, `GET aid/{id}` with
    /// its steps, `POST aid/{id}/decide {stop, decision: pass|send_back|refuse, note, recorded}`.
    private func registerAid(on api: RouterGroup<GatewayRequestContext>) {
        let aid = AidApplications(store: store)
        api.get("aid") { request, context -> Response in
            let parameters = request.uri.queryParameters
            let queueName = parameters.get("queue") ?? "all"
            guard let queue = AidApplications.Queue(rawValue: queueName) else {
                let known = AidApplications.Queue.allCases.map(\.rawValue).joined(separator: ", ")
                throw AdminActionError(.invalid, "unknown queue \(queueName); use one of \(known)")
            }
            let book = rules.engine.book
            let actor = try context.actor()
            let now = clock()
            let page = try await aid.page(
                queue, workflow: parameters.get("workflow"), for: actor, at: now, request: try Self.pageRequest(request)
            )
            return try Self.paged(
                page.map { application in
                    let workflow = book.workflows[application.workflow]
                    return AdminRecords.AidRecord(
                        AidApplications.masked(application, workflow: workflow, for: actor), workflow: workflow, at: now
                    )
                }, request, context)
        }
        api.get("aid/:id") { _, context in
            let book = rules.engine.book
            let (application, steps) = try await aid.application(
                try Self.id(context), for: try context.actor(), book: book)
            return AdminRecords.AidRecord(
                application, workflow: book.workflows[application.workflow], at: clock(), steps: steps)
        }
        api.post("aid/:id/decide") { request, context in
            let body = try await request.decode(as: AidDecisionBody.self, context: context)
            let decision: AidDecision
            switch body.decision {
            case "pass": decision = .pass(recorded: body.recorded ?? [:], remark: body.note)
            case "send_back": decision = .sendBack(asked: body.note ?? "")
            case "refuse": decision = .refuse(reason: body.note ?? "")
            default: throw AdminActionError(.invalid, "decision is pass, send_back or refuse")
            }
            guard let stop = body.stop else { throw AdminActionError(.invalid, "stop is required (the level decided)") }
            let book = rules.engine.book
            let application = try await aid.decide(
                try Self.id(context), decision, atStop: stop, by: try context.actor(), book: book, at: clock())
            return AdminRecords.AidRecord(application, workflow: book.workflows[application.workflow], at: clock())
        }
    }

    /// Activities: `GET activities`, `POST activities {…}`, `GET activities/{id}` with its
    /// sign-ups, `PATCH activities/{id} {…}` (the whole activity again), `DELETE
    /// activities/{id}/signups/{openid}` (staff removing a sign-up; the next one waiting comes in).
    private func registerActivities(on api: RouterGroup<GatewayRequestContext>) {
        let activities = Activities(store: store)
        api.get("activities") { request, context -> Response in
            let page = try await activities.page(for: try context.actor(), request: try Self.pageRequest(request))
            return try Self.paged(
                page.map { AdminRecords.ActivityRecord($0.0, taken: $0.taken, waiting: $0.waiting) }, request, context)
        }
        api.post("activities") { request, context -> Response in
            let actor = try context.actor()
            let body = try await request.decode(as: ActivityBody.self, context: context)
            let activity = try await activities.create(
                try body.draft(actor: actor, utcOffsetMinutes: offset), by: actor, organisation: organisation,
                at: clock())
            var response = try context.responseEncoder.encode(
                AdminRecords.ActivityRecord(activity, taken: 0, waiting: 0), from: request, context: context)
            response.status = .created
            return response
        }
        api.get("activities/:id") { _, context in
            let (activity, signUps) = try await activities.attendance(try Self.id(context), for: try context.actor())
            return AdminRecords.ActivityRecord(activity, signUps: signUps)
        }
        api.patch("activities/:id") { request, context in
            let actor = try context.actor()
            let body = try await request.decode(as: ActivityBody.self, context: context)
            let (activity, _) = try await activities.update(
                try Self.id(context), try body.draft(actor: actor, utcOffsetMinutes: offset), by: actor,
                organisation: organisation, at: clock())
            let (_, signUps) = try await activities.attendance(activity.id, for: actor)
            return AdminRecords.ActivityRecord(activity, signUps: signUps)
        }
        api.delete("activities/:id/signups/:openid") { _, context in
            let actor = try context.actor()
            let id = try Self.id(context)
            let (cancelled, _) = try await activities.cancel(
                id, openid: try context.parameters.require("openid"), by: actor, at: clock())
            guard cancelled != nil else { throw AdminActionError(.notFound, "no active sign-up of that member") }
            let (activity, signUps) = try await activities.attendance(id, for: actor)
            return AdminRecords.ActivityRecord(activity, signUps: signUps)
        }
    }

    /// An activity as the admin API takes it, with the keys it shows (`unitCode`, `startsAt` …). Times are `YYYY-MM-DDTHH:MM[:SS]Z` (UTC) or
    /// `YYYY-MM-DDTHH:MM` in the union's local time.
    struct ActivityBody: Decodable {
        var title: String?
        var description: String?
        var picture: String?
        var place: String?
        var unitCode: String?
        var sharing: String?
        var sharedUnits: [String]?
        var membersOnly: Bool?
        var startsAt: String?
        var endsAt: String?
        var opensAt: String?
        var closesAt: String?
        var capacity: Int?
        var waitlist: Bool?
        var maxPeople: Int?
        var walkIns: Bool?
        var clubId: Int?
        var recordsHours: Bool?
        var questions: String?

        static func time(_ text: String?, _ name: String, utcOffsetMinutes offset: Int) throws -> Int64 {
            guard var text, !text.isEmpty else { throw AdminActionError(.invalid, "\(name) is required") }
            var zone = offset
            if text.hasSuffix("Z") {
                text.removeLast()
                zone = 0
            }
            if text.count == 19 { text = String(text.prefix(16)) }  // seconds are not kept
            guard let value = Activities.time(text, utcOffsetMinutes: zone) else {
                throw AdminActionError(.invalid, "\(name) is not YYYY-MM-DDTHH:MM[:SS][Z]")
            }
            return value
        }

        func draft(actor: Principal, utcOffsetMinutes offset: Int) throws -> Activities.Draft {
            let sharing: Activity.Sharing
            switch self.sharing ?? "own" {
            case "own": sharing = .own
            case "everyone": sharing = .everyone
            case "units": sharing = .units(sharedUnits ?? [])
            default: throw AdminActionError(.invalid, "sharing is own, units or everyone")
            }
            guard let capacity else { throw AdminActionError(.invalid, "capacity is required") }
            return Activities.Draft(
                title: title ?? "", description: description ?? "", picture: picture ?? "", place: place ?? "",
                unitCode: unitCode ?? actor.unit ?? "", sharing: sharing, membersOnly: membersOnly ?? true,
                startsAt: try Self.time(startsAt, "startsAt", utcOffsetMinutes: offset),
                endsAt: try Self.time(endsAt, "endsAt", utcOffsetMinutes: offset),
                opensAt: try Self.time(opensAt, "opensAt", utcOffsetMinutes: offset),
                closesAt: try Self.time(closesAt, "closesAt", utcOffsetMinutes: offset), capacity: capacity,
                waitlist: waitlist ?? true, maxPeople: maxPeople ?? 1, walkIns: walkIns ?? false, clubId: clubId,
                recordsHours: recordsHours ?? false, questions: questions ?? "")
        }
    }

    /// Clubs: `GET clubs`, `POST clubs {…}`, `GET clubs/{id}` with its requests and members,
    /// `PATCH clubs/{id} {…}` (the whole club again), `POST clubs/{id}/members/{openid}
    /// {"decision": "approve"|"refuse", "reason": …}`, `DELETE clubs/{id}/members/{openid}`; and
    /// `GET volunteer-hours?from=YYYY-MM-DD&to=YYYY-MM-DD` (the service minutes per member).
    private func registerClubs(on api: RouterGroup<GatewayRequestContext>) {
        let clubs = Clubs(store: store)
        api.get("clubs") { _, context -> [AdminRecords.ClubRecord] in
            try await clubs.list(for: try context.actor(), organisation: organisation).map {
                AdminRecords.ClubRecord($0.0, members: $0.members, waiting: $0.waiting)
            }
        }
        api.post("clubs") { request, context -> Response in
            let actor = try context.actor()
            let body = try await request.decode(as: ClubBody.self, context: context)
            let club = try await clubs.create(
                try body.draft(actor: actor), by: actor, organisation: organisation, at: clock())
            var response = try context.responseEncoder.encode(
                AdminRecords.ClubRecord(club, members: 0, waiting: 0), from: request, context: context)
            response.status = .created
            return response
        }
        api.get("clubs/:id") { _, context in
            let (club, memberships) = try await clubs.members(
                try Self.id(context), for: try context.actor(), organisation: organisation)
            return AdminRecords.ClubRecord(club, memberships: memberships)
        }
        api.patch("clubs/:id") { request, context in
            let actor = try context.actor()
            let body = try await request.decode(as: ClubBody.self, context: context)
            let club = try await clubs.update(
                try Self.id(context), try body.draft(actor: actor), by: actor, organisation: organisation, at: clock())
            let (_, memberships) = try await clubs.members(club.id, for: actor, organisation: organisation)
            return AdminRecords.ClubRecord(club, memberships: memberships)
        }
        api.post("clubs/:id/members/:openid") { request, context in
            let actor = try context.actor()
            let body = try await request.decode(as: ClubDecisionBody.self, context: context)
            guard let decision = body.decision, ["approve", "refuse"].contains(decision) else {
                throw AdminActionError(.invalid, "decision is approve or refuse")
            }
            let membership = try await clubs.decide(
                try Self.id(context), openid: try context.parameters.require("openid"), approve: decision == "approve",
                reason: body.reason, by: actor, organisation: organisation, at: clock())
            return AdminRecords.ClubMembershipRecord(membership)
        }
        api.delete("clubs/:id/members/:openid") { _, context in
            let actor = try context.actor()
            let id = try Self.id(context)
            guard
                try await clubs.leave(
                    id, openid: try context.parameters.require("openid"), by: actor, organisation: organisation,
                    at: clock())
            else { throw AdminActionError(.notFound, "that member is not in the club") }
            let (club, memberships) = try await clubs.members(id, for: actor, organisation: organisation)
            return AdminRecords.ClubRecord(club, memberships: memberships)
        }
        api.get("volunteer-hours") { request, context -> [AdminRecords.ServiceRecord] in
            let query = request.uri.queryParameters
            guard let from = LocalTime.unixSeconds(ofDate: query.get("from") ?? "", utcOffsetMinutes: offset),
                let to = LocalTime.unixSeconds(ofDate: query.get("to") ?? "", utcOffsetMinutes: offset)
            else { throw AdminActionError(.invalid, "from and to are YYYY-MM-DD") }
            return try await Activities(store: store).serviceTotals(
                for: try context.actor(), from: from, to: to + 86_400
            ).map {
                AdminRecords.ServiceRecord(
                    openid: $0.openid, unitCode: $0.unitCode, minutes: $0.minutes, activities: $0.activities)
            }
        }
    }

    /// A club as the admin API takes it.
    struct ClubBody: Decodable {
        var name: String?
        var unitCode: String?
        var description: String?
        var leader: String?
        var volunteer: Bool?
        var status: String?

        func draft(actor: Principal) throws -> Clubs.Draft {
            guard let status = Club.Status(rawValue: status ?? "open") else {
                throw AdminActionError(.invalid, "status is open or closed")
            }
            return Clubs.Draft(
                name: name ?? "", unitCode: unitCode ?? actor.unit ?? "", description: description ?? "",
                leader: leader ?? "", volunteer: volunteer ?? false, status: status)
        }
    }

    struct ClubDecisionBody: Decodable {
        var decision: String?
        var reason: String?
    }

    struct AidDecisionBody: Decodable {
        var stop: Int?
        var decision: String?
        var note: String?
        var recorded: [String: String]?
    }

    struct CaseReply: Decodable {
        var text: String?
    }

    struct CaseAssignment: Decodable {
        var unit: String?
        var staff: String?
    }

    private var offset: Int { rules.engine.book.settings.utcOffsetMinutes }
    private var organisation: Organisation { rules.engine.book.join.organisation }

    /// The acting principal and the list filter the request asks for, within their scope:
    /// `?unit=` (404 outside it), `?status=` and `?q=`.
    private func filter(_ request: Request, _ context: GatewayRequestContext, status: String? = nil) throws
        -> (Principal, RecordFilter)
    {
        let actor = try context.actor()
        try actor.require(.read)
        var scope = actor.scope
        if let unit = request.uri.queryParameters.get("unit"), !unit.isEmpty {
            guard let narrowed = actor.scope.narrowed(to: unit, in: organisation) else {
                throw AdminActionError(.notFound, "no unit \(unit)")
            }
            scope = narrowed
        }
        return (actor, RecordFilter(scope: scope, status: status, search: request.uri.queryParameters.get("q")))
    }

    /// Records an export of personal data: who exported which records, with which filter.
    private func audit(
        export action: String, record: String, rows: Int, _ request: Request, _ actor: Principal
    ) async throws {
        var details = ["rows": String(rows)]
        for key in ["unit", "status", "q"] {
            if let value = request.uri.queryParameters.get(key) { details[key] = value }
        }
        try await AuditLog.record(
            actor, action: action, record: record, unit: request.uri.queryParameters.get("unit") ?? actor.unit ?? "",
            details: details, at: clock(), in: store)
    }

    @Sendable private func listMembers(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        let status = try Self.statusFilter(MembershipApplication.Status.self, request)
        let (actor, filter) = try filter(request, context, status: status?.rawValue)
        if Self.wantsCSV(request) {
            try actor.require(.export)
            let list = try await registry.page(filter, request: .all).items
            try await audit(export: "members.export", record: "members", rows: list.count, request, actor)
            return Self.csv(CSVExport.members(list, utcOffsetMinutes: offset), name: "members")
        }
        let page = try await registry.page(filter, request: try Self.pageRequest(request))
        return try Self.paged(page.map(AdminRecords.Member.init), request, context)
    }

    @Sendable private func listSuggestions(_ request: Request, context: GatewayRequestContext) async throws
        -> Response
    {
        let status = try Self.statusFilter(Suggestion.Status.self, request)
        let (actor, filter) = try filter(request, context, status: status?.rawValue)
        if Self.wantsCSV(request) {
            try actor.require(.export)
            let list = try await suggestions.page(filter, request: .all).items
            try await audit(export: "suggestions.export", record: "suggestions", rows: list.count, request, actor)
            return Self.csv(CSVExport.suggestions(list, utcOffsetMinutes: offset), name: "suggestions")
        }
        let page = try await suggestions.page(filter, request: try Self.pageRequest(request))
        return try Self.paged(page.map(AdminRecords.SuggestionRecord.init), request, context)
    }

    /// `?page=` and `?per_page=`, 400 when not numbers in range.
    static func pageRequest(_ request: Request) throws -> PageRequest {
        let query = request.uri.queryParameters
        func number(_ name: String, _ fallback: Int) throws -> Int {
            guard let text = query.get(name) else { return fallback }
            guard let value = Int(text) else { throw AdminActionError(.invalid, "\(name) must be a number") }
            return value
        }
        return try PageRequest(
            page: try number("page", 1), perPage: try number("per_page", PageRequest.defaultPerPage))
    }

    /// A page as a JSON array, with the whole list's size in `X-Total-Count` and the
    /// neighbouring pages in `Link`.
    static func paged<Item: Encodable & Sendable>(
        _ page: Page<Item>, _ request: Request, _ context: GatewayRequestContext
    ) throws -> Response {
        var response = try context.responseEncoder.encode(page.items, from: request, context: context)
        response.headers[.init("X-Total-Count")!] = String(page.total)
        var links: [String] = []
        func link(_ number: Int, _ relation: String) {
            var components = URLComponents(string: request.uri.description) ?? URLComponents()
            var items = (components.queryItems ?? []).filter { $0.name != "page" }
            items.append(URLQueryItem(name: "page", value: String(number)))
            components.queryItems = items
            links.append("<\(components.string ?? "")>; rel=\"\(relation)\"")
        }
        if page.hasNext { link(page.request.page + 1, "next") }
        if page.request.page > 1 { link(page.request.page - 1, "prev") }
        if !links.isEmpty { response.headers[.init("Link")!] = links.joined(separator: ", ") }
        return response
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

    /// A member's media file, shown in the browser (the console's case page uses it too). The
    /// file came from WeChat, but its type is the one WeChat declared: it is never sniffed into
    /// something a browser would run.
    static func mediaResponse(_ media: (data: Data, type: String)) -> Response {
        Response(
            status: .ok,
            headers: [
                .contentType: media.type, .contentDisposition: "inline",
                HTTPField.Name("X-Content-Type-Options")!: "nosniff",
                .contentSecurityPolicy: "default-src 'none'; img-src 'self'; media-src 'self'",
            ],
            body: .init(byteBuffer: ByteBuffer(bytes: media.data)))
    }

    /// Runs an action, turning its refusal into the matching HTTP error.
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
extension AdminRecords.AuditRecord: ResponseEncodable {}
extension AdminRecords.AidRecord: ResponseEncodable {}
extension AdminRecords.ActivityRecord: ResponseEncodable {}
extension AdminRecords.ClubRecord: ResponseEncodable {}
extension AdminRecords.ClubMembershipRecord: ResponseEncodable {}
extension AdminRecords.ServiceRecord: ResponseEncodable {}
extension AdminRecords.QRRecord: ResponseEncodable {}
extension AdminRecords.CaseRecord: ResponseEncodable {}
extension AdminRecords.PhoneNoticeRecord: ResponseEncodable {}
extension UnitStatistics: ResponseEncodable {}

extension GatewayRequestContext {
    /// Who the admin API is acting for (set by ``AdminAuthMiddleware``).
    func actor() throws -> Principal {
        guard let principal else { throw HTTPError(.unauthorized) }
        return principal
    }
}

/// Refuses requests without the admin token (401), comparing in constant time.
/// The admin API's door: the bearer token, checked against its digest; failed attempts slowed
/// and then refused per client address (``AdminAttempts``) and logged; and any 5xx the API
/// answers logged with its route.
struct AdminAuthMiddleware: RouterMiddleware {
    typealias Context = GatewayRequestContext
    let secrets: GatewaySecrets
    /// Staff accounts, whose personal tokens are accepted too.
    let staff: StaffDirectory
    /// The organisation now, which a staff member's unit is in.
    let organisation: @Sendable () -> Organisation
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
        let token = header.hasPrefix(prefix) ? header.dropFirst(prefix.count) : ""
        var principal: Principal?
        if !token.isEmpty {
            if secrets.isAdminToken(token) {
                principal = .root
            } else if let member = try await staff.member(forToken: token) {
                principal = .staff(member, in: organisation())
            }
        }
        guard let principal else {
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
        var context = context
        context.principal = principal
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
