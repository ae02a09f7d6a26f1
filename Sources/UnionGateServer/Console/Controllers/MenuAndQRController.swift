import Foundation
import Hummingbird
import ReplyRules
import UnionServices
import WeChatAPI

/// 菜单 and 二维码: the menu as a phone shows it, compared with the account's and published;
/// the units' join codes with their funnels, and each one's poster.
struct MenuAndQRController: ConsoleController {
    let shared: ConsoleShared

    struct MenuView: Encodable {
        struct Sub: Encodable {
            let name: String
            let action: String
        }
        struct Button: Encodable {
            let name: String
            let action: String
            let subs: [Sub]
        }
        let buttons: [Button]
        let limits: String
        let file: String
        let canPublish: Bool
        let comparison: String
        let differences: [String]
    }

    struct QRView: Encodable {
        struct Row: Encodable {
            let unit: String
            let kind: String
            let scans: Int
            let follows: Int
            let started: Int
            let submitted: Int
            let approved: Int
            let poster: String?
        }
        let rows: [Row]
    }

    func register(on pages: RouterGroup<GatewayRequestContext>) {
        pages.get("menu", use: menu)
        pages.post("menu/publish", use: publish)
        pages.get("qr", use: codes)
        pages.get("qr/:code/poster", use: poster)
    }

    @Sendable func menu(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        let actor = try context.actor()
        guard let menu = book.menu else {
            return pages.message("Replies 里还没有菜单（menu:）。", status: .notFound, context: context)
        }
        let wanted = MenuPublishing.buttons(menu, publicURL: shared.publicURL, memberSignIn: shared.memberSignIn)
        func action(_ button: APIMenuButton) -> String {
            if let url = button.url { return "打开 \(url)" }
            if let key = button.key { return "点击 \(key)" }
            return button.type ?? ""
        }
        var differences: [String] = []
        let comparison: String
        if let wechat = shared.wechat {
            do {
                let published = MenuJSON.decode(try await wechat.menu())
                differences = MenuPublishing.differences(published: published, wanted: wanted)
                comparison =
                    published.isEmpty
                    ? "公众号上还没有菜单。" : differences.isEmpty ? "与公众号上的菜单一致。" : "与公众号上的菜单不同："
            } catch {
                comparison = "暂时取不到公众号上的菜单（\(RefusalLog.clean("\(error)", limit: 120))）。"
            }
        } else {
            comparison = "服务器没有设置 WECHAT_APP_ID 和 WECHAT_APP_SECRET，不能比较和发布。"
        }
        let view = MenuView(
            buttons: wanted.map { button in
                MenuView.Button(
                    name: button.name, action: action(button),
                    subs: button.subButtons.map { MenuView.Sub(name: $0.name, action: action($0)) })
            },
            limits: "符合微信的限制：\(wanted.count) 个一级菜单（最多 3 个），每个最多 5 个子菜单，名称长度在限制内（加载规则时已检查）。",
            file: (menu.source.path as NSString).lastPathComponent,
            canPublish: shared.wechat != nil && actor.may(.editRules) && actor.scope == .everything,
            comparison: comparison, differences: differences)
        return try pages.render("menu", title: "菜单", view, context: context)
    }

    @Sendable func publish(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        let actor = try context.actor()
        try actor.requireWholeTree(.editRules)
        guard let wechat = shared.wechat, let menu = book.menu else {
            throw AdminActionError(.conflict, "不能发布：没有菜单，或服务器没有设置 WECHAT_APP_ID 和 WECHAT_APP_SECRET。")
        }
        let buttons = MenuPublishing.buttons(menu, publicURL: shared.publicURL, memberSignIn: shared.memberSignIn)
        try await wechat.createMenu(try MenuJSON.encode(buttons))
        try await AuditLog.record(
            actor, action: "menu.push", record: "menu",
            details: ["buttons": buttons.map(\.summary).joined(separator: " | "), "via": "console"], at: clock(),
            in: store)
        return pages.redirect("/admin/menu", flash: "菜单已发布（\(buttons.count) 个一级菜单），微信客户端可能要几分钟后才显示。")
    }

    @Sendable func codes(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        let actor = try context.actor()
        let list = try await QRCodes(store: store).list(for: actor)
        let view = QRView(
            rows: list.map { entry in
                let code = entry.code
                return QRView.Row(
                    unit: unitName(code.unitCode),
                    kind: code.permanent ? "永久" : "临时，\(code.expiresAt.map(local) ?? "") 到期",
                    scans: entry.funnel.scans, follows: entry.funnel.follows, started: entry.funnel.started,
                    submitted: entry.funnel.submitted, approved: entry.funnel.approved,
                    poster: code.deleted ? nil : "/admin/qr/\(ConsoleLinks.encoded(code.unitCode))/poster")
            })
        return try pages.render("qr", title: "二维码", view, context: context)
    }

    @Sendable func poster(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        let actor = try context.actor()
        let code = try context.parameters.require("code")
        guard let unit = organisation.units[code], actor.scope.contains(code),
            let qr = try await QRCodes(store: store).code(unit: code), let image = qr.image
        else { throw AdminActionError(.notFound, "no QR code for unit \(code)") }
        let union = organisation.root.flatMap { organisation.units[$0]?.name } ?? book.settings.unionName
        return try pages.library.response(
            QRPosterPage(unionName: union, unit: unit, image: image), template: "qr-poster")
    }
}
