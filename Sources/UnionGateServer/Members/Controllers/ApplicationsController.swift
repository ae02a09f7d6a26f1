import Foundation
import Hummingbird
import ReplyRules
import UnionServices

/// 我的申请: every application of the member's (入会, suggestions, the union's forms) with its
/// number and status, and one of them with its answers, the union's reply and its timeline.
/// Another member's record is a 404, as is one that does not exist.
struct ApplicationsController: MemberController {
    let shared: MemberShared

    struct ListView: Encodable {
        struct Item: Encodable {
            let href: String
            let title: String
            let number: String
            let status: String
            let date: String
            let replied: Bool
        }
        let items: [Item]
    }

    struct DetailView: Encodable {
        struct Field: Encodable {
            let label: String
            let value: String
        }
        struct Event: Encodable {
            let at: String
            let text: String
        }
        let number: String
        let status: String
        let fields: [Field]
        let reply: String?
        /// 工会回复 or 未通过原因.
        let replyLabel: String
        let timeline: [Event]
        /// The photos the member sent with it, by their address.
        let photos: [String]
        /// What staff asked the member to add, and where to add it.
        let asked: String?
        let more: String?
    }

    func register(on pages: RouterGroup<GatewayRequestContext>) {
        pages.get("applications", use: list)
        pages.get("applications/:kind/:id", use: detail)
    }

    @Sendable func list(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        let member = try member(context)
        let items = try await shared.records.list(for: member.openid, book: book)
        let view = ListView(
            items: items.map { item in
                ListView.Item(
                    href: "/m/applications/\(item.kind.rawValue)/\(item.id)", title: item.title, number: item.number,
                    status: item.status, date: shared.day(item.createdAt), replied: item.replied)
            })
        return try pages.render("applications", title: "我的申请", view, context: context, back: "/m/")
    }

    @Sendable func detail(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        let member = try member(context)
        guard let kind = MemberRecords.Kind(rawValue: context.parameters.get("kind") ?? ""),
            let id = context.parameters.get("id").flatMap({ Int($0) }),
            let record = try await shared.records.detail(kind, id: id, for: member.openid, book: book)
        else { throw HTTPError(.notFound) }
        let album = FormPhotos(store: shared.store, directory: shared.mediaDirectory)
        let photos =
            switch kind {
            case .form: try await album.photos(ofSubmissions: [id])[id] ?? []
            case .aid: try await album.photos(ofApplications: [id])[id] ?? []
            case .join, .suggestion: [FormPhoto]()
            }
        let view = DetailView(
            number: record.item.number, status: record.item.status,
            fields: record.fields.map { DetailView.Field(label: $0.label, value: $0.value) }, reply: record.reply,
            replyLabel: kind == .join || kind == .aid ? "未通过原因" : "工会回复",
            timeline: record.timeline.map { DetailView.Event(at: shared.local($0.at), text: $0.text) },
            photos: photos.map { "/m/photos/" + $0.token }, asked: record.asked,
            more: record.asked == nil ? nil : "/m/aid/applications/\(id)/more")
        return try pages.render(
            "application", title: record.item.title, view, context: context, back: "/m/applications")
    }
}
