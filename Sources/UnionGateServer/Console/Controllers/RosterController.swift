import Foundation
import Hummingbird
import UnionServices

/// 会员名册: the union's real-name roster. Identity and phone are masked for everyone; a role
/// that may see identities opens one row's in full (audited). Staff import their existing roster
/// per unit — a CSV or an .xlsx file, previewed (what is added, changed, refused and why, by row)
/// before anything is written — and unbind a WeChat bound to the wrong person.
struct RosterController: ConsoleController {
    let shared: ConsoleShared

    var registry: RealNameRegistry { RealNameRegistry(store: store, key: shared.dataKey) }
    var imports: RosterImport { RosterImport(store: store, key: shared.dataKey) }

    struct ListView: Encodable {
        struct Row: Encodable {
            let id: Int
            let number: String
            let name: String
            let unit: String
            let idMask: String
            let phoneMask: String
            let joinedOn: String
            let bound: Bool
        }
        let rows: [Row]
        let units: [UnitOption]
        let statuses: [Option]
        let q: String
        let pager: Pager
        let canImport: Bool
        let canReveal: Bool
        let exportPath: String?
        /// The units a roster can be imported into.
        let importUnits: [UnitOption]
    }

    struct PreviewView: Encodable {
        let id: Int
        let unit: String
        let fileName: String
        let total: Int
        let added: Int
        let changed: Int
        let unchanged: Int
        let refusedCount: Int
        let refused: [RosterImport.Refusal]
        let samples: [RosterImport.Sample]
        let applied: String?
        let canApply: Bool
        let more: Bool
    }

    struct RevealView: Encodable {
        let number: String
        let name: String
        let identity: String
        let phone: String
    }

    func register(on pages: RouterGroup<GatewayRequestContext>) {
        pages.get("roster", use: list)
        pages.get("roster/export", use: export)
        pages.post("roster/import", use: upload)
        pages.get("roster/import/:id", use: preview)
        pages.post("roster/import/:id/apply", use: apply)
        pages.post("roster/:id/reveal", use: reveal)
        pages.post("roster/:id/unbind", use: unbind)
    }

    private func filter(_ query: ConsoleQuery, actor: Principal) throws -> (RecordFilter, String?) {
        let (scope, unit) = try scope(for: actor, unit: query.unit)
        let status = query.status.flatMap { ["bound", "unbound"].contains($0) ? $0 : nil }
        return (RecordFilter(scope: scope, status: status, search: query.q), unit)
    }

    @Sendable func list(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        let actor = try context.actor()
        let query = try ConsoleQuery(request)
        let (filter, unit) = try filter(query, actor: actor)
        let page = try await registry.page(filter, request: try ConsoleLinks.pageRequest(query))
        let view = ListView(
            rows: page.items.map { entry in
                ListView.Row(
                    id: entry.id, number: entry.memberNumber, name: entry.name, unit: unitName(entry.unitCode),
                    idMask: entry.idMask.isEmpty ? "—" : entry.idMask,
                    phoneMask: entry.phoneMask.isEmpty ? "—" : entry.phoneMask,
                    joinedOn: entry.joinedOn.isEmpty ? "—" : entry.joinedOn, bound: entry.openid != nil)
            },
            units: unitOptions(for: actor, selected: unit),
            statuses: Option.list(
                [("all", "全部"), ("bound", "已绑定微信"), ("unbound", "未绑定微信")], selected: filter.status ?? "all"),
            q: query.q ?? "", pager: ConsoleLinks.pager(page, request), canImport: actor.may(.decide),
            canReveal: actor.may(.seeIdentity),
            exportPath: actor.may(.export)
                ? ConsoleLinks.exportLink("/admin/roster/export", status: filter.status ?? "all", query) : nil,
            importUnits: unitOptions(for: actor, selected: unit ?? actor.unit ?? organisation.root))
        return try pages.render("roster", title: "会员名册", view, context: context)
    }

    @Sendable func export(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        let actor = try context.actor()
        let query = try ConsoleQuery(request)
        let (filter, unit) = try filter(query, actor: actor)
        let text = try await registry.csv(filter, for: actor, unitName: unitName)
        var details = ExportQuery.values(of: query)
        details["identity"] = actor.may(.seeIdentity) ? "full" : "masked"
        try await auditExport(actor, action: "roster.export", record: "roster", unit: unit, query: details)
        return AdminRoutes.csv(text, name: "roster")
    }

    @Sendable func upload(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        let actor = try context.actor()
        var request = request
        let form: MultipartForm
        do {
            form = try await MultipartForm.read(&request, limit: ConsoleRoutes.uploadLimit)
        } catch let refusal as MultipartForm.Refusal {
            return pages.message(refusal.message, status: refusal.status, context: context)
        }
        guard let file = form.files("file").first, file.body.readableBytes > 0 else {
            return pages.redirect("/admin/roster", flash: "请先选择名册文件（.xlsx 或 .csv）。")
        }
        let unit = form.value("unit") ?? actor.unit ?? organisation.root ?? ""
        let preview = try await imports.preview(
            Data(file.body.readableBytesView), fileName: file.filename ?? "roster", unit: unit, by: actor, book: book,
            at: clock())
        return ConsoleLinks.redirect("/admin/roster/import/\(preview.id)")
    }

    @Sendable func preview(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        let actor = try context.actor()
        let id = try context.parameters.require("id", as: Int.self)
        let preview = try await imports.preview(id, for: actor)
        return try pages.render("rosterImport", title: "导入名册：预览", view(preview), context: context)
    }

    private func view(_ preview: RosterImport.Preview) -> PreviewView {
        PreviewView(
            id: preview.id, unit: unitName(preview.unitCode), fileName: preview.fileName, total: preview.total,
            added: preview.added, changed: preview.changed, unchanged: preview.unchanged,
            refusedCount: preview.refused.count, refused: preview.refused, samples: preview.samples,
            applied: preview.appliedAt.map(local),
            canApply: preview.appliedAt == nil && preview.added + preview.changed > 0,
            more: preview.added + preview.changed > preview.samples.count)
    }

    @Sendable func apply(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        let actor = try context.actor()
        let id = try context.parameters.require("id", as: Int.self)
        let applied = try await imports.apply(id, by: actor, book: book, at: clock())
        return pages.redirect(
            "/admin/roster",
            flash: "名册已导入：新增 \(applied.added) 人，更新 \(applied.changed) 人，未导入 \(applied.refused.count) 行。")
    }

    @Sendable func reveal(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        let actor = try context.actor()
        let id = try context.parameters.require("id", as: Int.self)
        let (entry, identity, phone) = try await registry.reveal(id, by: actor, at: clock())
        return try pages.render(
            "rosterReveal", title: "查看身份信息",
            RevealView(
                number: entry.memberNumber, name: entry.name, identity: identity ?? "未登记", phone: phone ?? "未登记"),
            context: context)
    }

    @Sendable func unbind(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        let actor = try context.actor()
        let id = try context.parameters.require("id", as: Int.self)
        let entry = try await registry.unbind(id, by: actor, at: clock())
        return pages.redirect("/admin/roster", flash: "已解除 \(entry.name)（\(entry.memberNumber)）的微信绑定。")
    }
}
