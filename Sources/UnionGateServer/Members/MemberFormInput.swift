import Hummingbird
import ReplyRules
import UnionServices

/// What a member's form page sent: its values, and its files when it was a multipart form
/// (photos), read once for the forms, the aid applications and their resubmissions alike.
struct MemberFormInput {
    /// The typed values, by name.
    var inputs: [String: String]
    /// The multipart form, when files came with it.
    var uploads: MultipartForm?

    /// Reads a page's body: multipart (up to the upload limit) or URL-encoded.
    static func read(_ request: Request, context: GatewayRequestContext) async throws -> MemberFormInput {
        var request = request
        if MultipartForm.isMultipart(request) {
            let multipart = try await MultipartForm.read(&request, limit: MemberShared.uploadLimit)
            return MemberFormInput(inputs: multipart.values, uploads: multipart)
        }
        return MemberFormInput(inputs: try await request.decode(as: [String: String].self, context: context))
    }

    /// The page's one-time submission token (a double tap sends the same one), or 400.
    func submission() throws -> String {
        let submission = inputs["_submission"] ?? ""
        guard submission.count == 64, submission.allSatisfy(\.isHexDigit) else { throw HTTPError(.badRequest) }
        return submission
    }

    /// The photos sent for the photo fields among `fields`, checked by content, size and count:
    /// those to keep, what is wrong by field, and the answer that records them (「2 张照片」).
    /// A required photo field needs one when `requireRequired`.
    func photos(of fields: [FormField], requireRequired: Bool) -> (
        checked: [(field: String, data: [UInt8], contentType: String)], problems: [String: String],
        answers: [String: String]
    ) {
        var checked: [(field: String, data: [UInt8], contentType: String)] = []
        var problems: [String: String] = [:]
        var answers: [String: String] = [:]
        for field in fields {
            guard case .photo(let most) = field.kind else { continue }
            let limit = min(most, FormPhotos.maxCount)
            let files = uploads?.files(field.key) ?? []
            if files.count > limit {
                problems[field.key] = "「\(field.label)」最多 \(limit) 张，您选了 \(files.count) 张。"
                continue
            }
            if files.isEmpty, !field.optional, requireRequired {
                problems[field.key] = "请上传「\(field.label)」的照片。"
                continue
            }
            for file in files {
                switch FormPhotos.check(file.body.readableBytesView, name: file.filename ?? field.label) {
                case .success(let type): checked.append((field.key, Array(file.body.readableBytesView), type))
                case .failure(let problem): problems[field.key] = problem.message
                }
            }
            if problems[field.key] == nil, !files.isEmpty { answers[field.key] = "\(files.count) 张照片" }
        }
        return (checked, problems, answers)
    }
}
