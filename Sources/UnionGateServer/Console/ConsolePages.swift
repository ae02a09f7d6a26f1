import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdAuth
import UnionServices

/// Renders the console's pages inside the layout: who is signed in, what they may see, the CSRF
/// token, the line the last action left.
struct ConsolePages: Sendable {
    let library: PageLibrary
    let unionName: @Sendable () -> String

    /// The layout's values (`console-layout.mustache`).
    struct Layout: Encodable {
        var title: String
        var union: String
        var signedIn = false
        var accountName: String?
        var roleName: String?
        var csrf: String?
        var nav: [NavItem] = []
        var flash: String?
        var error: String?
    }

    struct NavItem: Encodable {
        let href: String
        let label: String
        let current: Bool
    }

    /// The navigation, by what the role may see.
    static func nav(for actor: Principal, path: String) -> [NavItem] {
        // A club leader's account sees its club and the club's activities only.
        if actor.club != nil {
            return [("/admin/activities", "活动"), ("/admin/clubs", "俱乐部")].map {
                NavItem(href: $0.0, label: $0.1, current: path.hasPrefix($0.0))
            }
        }
        var items: [(String, String)] = [
            ("/admin/", "概览"), ("/admin/members", "入会审核"), ("/admin/suggestions", "合理化建议"),
            ("/admin/cases", "留言"), ("/admin/aid", "帮扶审批"), ("/admin/activities", "活动"),
            ("/admin/clubs", "俱乐部"), ("/admin/forms", "申请/表单"),
            ("/admin/rules", "自动回复"),
        ]
        items += [
            ("/admin/menu", "菜单"), ("/admin/qr", "二维码"), ("/admin/roster", "会员名册"),
            ("/admin/verify", "会员验证"),
        ]
        if actor.may(.administer) && actor.scope == .everything {
            items += [("/admin/outbox", "外发通知"), ("/admin/staff", "人员")]
        }
        if actor.may(.administer) { items.append(("/admin/audit", "审计")) }
        return items.map { item in
            let current = item.0 == "/admin/" ? (path == "/admin/" || path == "/admin") : path.hasPrefix(item.0)
            return NavItem(href: item.0, label: item.1, current: current)
        }
    }

    /// `console-<template>` filled from `view`, in the layout.
    func render<View: Encodable>(
        _ template: String, title: String, _ view: View, status: HTTPResponse.Status = .ok,
        context: GatewayRequestContext? = nil, error: String? = nil, flash: String? = nil
    ) throws -> Response {
        var layout = Layout(title: title, union: unionName(), error: error)
        if let context, let actor = context.principal {
            layout.signedIn = true
            layout.accountName = actor.name
            layout.roleName = actor.name == "root" ? "总管理员" : actor.role.chinese
            layout.csrf = context.csrf ?? ""
            layout.nav = Self.nav(for: actor, path: context.path)
            layout.flash = flash ?? context.flash
        }
        let values = try PageValue.of(layout).merging(try PageValue.of(view))
        return try library.response(
            values, template: "console-" + template, status: status, headers: PageLibrary.sessionPageHeaders)
    }

    /// The `message` page's values.
    struct Message: Encodable {
        var text: String?
        var back = "/admin/"
        var backLabel = "回到概览"
    }

    /// A page for a refusal or an error: the status, and a Chinese sentence saying what to do.
    func message(_ text: String, status: HTTPResponse.Status, context: GatewayRequestContext?) -> Response {
        let title = status.code == 403 ? "不能这样做" : "没有办成"
        return (try? render("message", title: title, Message(), status: status, context: context, error: text))
            ?? Response(
                status: status, headers: [.contentType: "text/plain; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    /// After an action: back to a page, with a line saying what happened (in a short-lived cookie).
    func redirect(_ location: String, flash: String) -> Response {
        var response = ConsoleLinks.redirect(location)
        response.headers[values: .setCookie].append(
            Cookie(
                name: "ug_flash", value: ConsoleLinks.encoded(flash), maxAge: 60, path: "/admin", httpOnly: true,
                sameSite: .strict
            ).description)
        return response
    }
}

/// Turns what a console page's handler throws into a page: the services' refusals
/// (`AdminActionError`, with the status the admin API gives them too) and Hummingbird's
/// `HTTPError`s, each with a Chinese sentence saying what to do.
struct ConsoleRefusals: RouterMiddleware {
    typealias Context = GatewayRequestContext
    let pages: ConsolePages

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        do {
            return try await next(request, context)
        } catch let error as AdminActionError {
            return pages.message(sentence(for: error, context), status: error.status, context: context)
        } catch let error as HTTPError where error.status.code >= 400 && error.status.code < 500 {
            let text =
                switch error.status.code {
                case 404: "找不到这个页面或记录。"
                case 413: "提交的内容太大了。"
                default: "请求的格式不对，没有执行。请刷新页面后再试。"
                }
            return pages.message(text, status: error.status, context: context)
        } catch is DecodingError {
            return pages.message("表单的格式不对，没有执行。请刷新页面后再试。", status: .badRequest, context: context)
        } catch is URLEncodedFormError {
            return pages.message("表单的格式不对，没有执行。请刷新页面后再试。", status: .badRequest, context: context)
        }
    }

    private func sentence(for error: AdminActionError, _ context: Context) -> String {
        let role = context.principal.map { $0.name == "root" ? "总管理员" : $0.role.chinese } ?? ""
        switch error.kind {
        case .forbidden: return "您的角色（\(role)）不能做这件事。"
        case .notFound: return "找不到这条记录，或它不在您负责的单位里。"
        case .conflict:
            return Self.isChinese(error.message) ? error.message : "这条记录已经处理过了，或刚被别人改过。请刷新后再看。"
        case .invalid:
            return Self.isChinese(error.message) ? error.message : "填写的内容不符合要求，请检查后再提交。"
        }
    }

    static func isChinese(_ text: String) -> Bool {
        text.unicodeScalars.contains { (0x4E00...0x9FFF).contains($0.value) }
    }
}

/// The services' refusals as HTTP: one mapping of their kinds to statuses, for the admin API's
/// JSON (Hummingbird writes it as it writes an `HTTPError`) and the console's pages.
extension AdminActionError: HTTPResponseError {
    public var status: HTTPResponse.Status {
        switch kind {
        case .notFound: .notFound
        case .conflict: .conflict
        case .invalid: .badRequest
        case .forbidden: .forbidden
        }
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        try HTTPError(status, message: message).response(from: request, context: context)
    }
}
