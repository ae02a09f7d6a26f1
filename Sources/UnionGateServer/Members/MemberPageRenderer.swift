import Foundation
import HTTPTypes
import Hummingbird
import Logging
import UnionServices

/// Renders the member pages inside their layout (`member-layout.mustache`): Chinese, 375 px
/// first, no external assets, no script.
struct MemberPageRenderer: Sendable {
    let library: PageLibrary
    let unionName: @Sendable () -> String

    /// The layout's values.
    struct Layout: Encodable {
        var title: String
        var union: String
        var signedIn = false
        var csrf: String?
        /// Where the page's back link goes, if it has one.
        var back: String?
        var error: String?
        var notice: String?
        /// Seconds after which the page reloads itself (the card's code), if it does.
        var refresh: Int?
    }

    /// `member-<template>` filled from `view`, in the layout.
    func render<View: Encodable>(
        _ template: String, title: String, _ view: View, status: HTTPResponse.Status = .ok,
        context: GatewayRequestContext?, back: String? = nil, error: String? = nil, notice: String? = nil,
        refresh: Int? = nil
    ) throws -> Response {
        var layout = Layout(
            title: title, union: unionName(), back: back, error: error, notice: notice, refresh: refresh)
        if let member = context?.member {
            layout.signedIn = true
            layout.csrf = member.csrf
        }
        let values = try PageValue.of(layout).merging(try PageValue.of(view))
        return try library.response(
            values, template: "member-" + template, status: status, headers: PageLibrary.sessionPageHeaders)
    }

    /// The `message` page's values: a sentence, and what to do next.
    struct Message: Encodable {
        var text: String
        var action: String?
        var actionLabel: String?
    }

    /// A page that says what happened and what to do, with the right status.
    func message(
        _ text: String, status: HTTPResponse.Status, context: GatewayRequestContext?, title: String? = nil,
        action: (href: String, label: String)? = nil
    ) -> Response {
        let title = title ?? (status.code < 400 ? "会员中心" : "没有办成")
        return
            (try? render(
                "message", title: title, Message(text: text, action: action?.href, actionLabel: action?.label),
                status: status, context: context))
            ?? Response(
                status: status, headers: [.contentType: "text/plain; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(string: text)))
    }
}

/// Turns what a member page's handler throws into a page with a Chinese sentence.
struct MemberRefusals: RouterMiddleware {
    typealias Context = GatewayRequestContext
    let pages: MemberPageRenderer
    let logger: Logger

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        do {
            return try await next(request, context)
        } catch let error as HTTPError where (400..<500).contains(error.status.code) {
            let text =
                switch error.status.code {
                case 401: "请先进入会员中心。请回到公众号对话框，回复「会员中心」。"
                case 404: "找不到这个页面或记录。"
                case 413: "提交的内容太大了。"
                default: "请求的格式不对，没有办理。请返回后再试。"
                }
            return pages.message(text, status: error.status, context: context, action: ("/m/", "回到会员中心"))
        } catch is DecodingError {
            return pages.message("表单的格式不对，没有办理。请返回后再试。", status: .badRequest, context: context)
        } catch is URLEncodedFormError {
            return pages.message("表单的格式不对，没有办理。请返回后再试。", status: .badRequest, context: context)
        } catch {
            logger.error(
                "member page failed",
                metadata: ["path": "\(RefusalLog.clean(request.uri.path, limit: 120))", "error": "\(error)"])
            return pages.message(
                "系统繁忙，没有办理成功。请稍后再试；您填写的内容没有丢失，可以返回上一页重新提交。", status: .serviceUnavailable,
                context: context)
        }
    }
}
