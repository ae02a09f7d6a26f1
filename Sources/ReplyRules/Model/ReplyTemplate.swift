import Foundation
import WeChatWire

/// A reply as the staff wrote it: text with placeholders, article cards, media, or a hand-over
/// to a built-in service.
public enum ReplyTemplate: Sendable, Hashable {
    /// Text, with placeholders filled when the reply is made.
    case text(TextTemplate)
    /// Article cards.
    case articles([ArticleTemplate])
    /// A picture by media id.
    case image(mediaId: String)
    /// A voice clip by media id.
    case voice(mediaId: String)
    /// A video by media id.
    case video(mediaId: String, title: String?, description: String?)
    /// Hand the message to a built-in service, which makes the reply.
    case service(ServiceAction)
    /// Hand the conversation to the account's customer-service agents.
    case transferToCustomerService
    /// Say nothing (`success`).
    case silence
}

/// The built-in services a rule can hand a message to. The union-services layer implements them.
public enum ServiceAction: Sendable, Hashable, CustomStringConvertible {
    /// Start the join-the-union form (入会).
    case join
    /// Show the member's join application status (入会进度).
    case joinStatus
    /// Take a suggestion (合理化建议): the text after the keyword, or ask for it.
    case suggestion
    /// List the member's recent suggestions (我的建议).
    case mySuggestions
    /// List everything the member applied for: 入会, suggestions, form submissions (我的申请).
    case myApplications
    /// Show the welfare catalogue (职工福利).
    case welfare
    /// Show the hotline numbers (一键拨号).
    case hotline
    /// Send the member their way into the member pages (会员中心): a personal link, or the
    /// pages' address where WeChat's web authorisation lets them in.
    case memberCenter
    /// Start an admin-defined form by its name.
    case form(String)
    /// Answer the way to a workflow's application page (困难帮扶, 金秋助学 …) by its name.
    case workflow(String)
    /// List the activities the member may sign up for (活动).
    case activities
    /// Sign up for an activity by its number (报名 12).
    case activitySignUp
    /// Cancel a sign-up by the activity's number (取消报名 12).
    case activityCancel
    /// List the member's sign-ups (我的活动).
    case myActivities
    /// List the clubs and volunteer teams the member may join, and their own (俱乐部).
    case clubs
    /// Ask to join a club by its number (加入俱乐部 3).
    case clubJoin
    /// Leave a club by its number (退出俱乐部 3).
    case clubLeave
    /// The member's volunteer service hours (志愿时长).
    case volunteerHours

    /// The names staff write after `service:`.
    public static let namedActions: [String: ServiceAction] = [
        "join": .join, "join_status": .joinStatus, "suggestion": .suggestion, "my_suggestions": .mySuggestions,
        "my_applications": .myApplications, "welfare": .welfare, "hotline": .hotline,
        "member_center": .memberCenter, "activities": .activities, "activity_sign_up": .activitySignUp,
        "activity_cancel": .activityCancel, "my_activities": .myActivities, "clubs": .clubs, "club_join": .clubJoin,
        "club_leave": .clubLeave, "volunteer_hours": .volunteerHours,
    ]

    public var description: String {
        switch self {
        case .join: "join"
        case .joinStatus: "join_status"
        case .suggestion: "suggestion"
        case .mySuggestions: "my_suggestions"
        case .myApplications: "my_applications"
        case .welfare: "welfare"
        case .hotline: "hotline"
        case .memberCenter: "member_center"
        case .form(let name): "form:\(name)"
        case .workflow(let name): "workflow:\(name)"
        case .activities: "activities"
        case .activitySignUp: "activity_sign_up"
        case .activityCancel: "activity_cancel"
        case .myActivities: "my_activities"
        case .clubs: "clubs"
        case .clubJoin: "club_join"
        case .clubLeave: "club_leave"
        case .volunteerHours: "volunteer_hours"
        }
    }
}

/// An article card as written, with placeholders allowed in its title and description.
public struct ArticleTemplate: Sendable, Hashable {
    /// The title.
    public var title: TextTemplate
    /// The description.
    public var description: TextTemplate
    /// The picture's address.
    public var picURL: String
    /// Where a tap leads.
    public var url: String

    /// Creates an article template.
    public init(title: TextTemplate, description: TextTemplate, picURL: String, url: String) {
        self.title = title
        self.description = description
        self.picURL = picURL
        self.url = url
    }
}

/// Text with placeholders such as `{date}` or `{1}`; `{{` and `}}` stand for braces.
public struct TextTemplate: Sendable, Hashable {
    /// A piece of the text.
    public enum Segment: Sendable, Hashable {
        /// Text as written.
        case literal(String)
        /// A value filled in when the reply is made.
        case placeholder(Placeholder)
    }

    /// The values a placeholder can stand for.
    public enum Placeholder: Sendable, Hashable {
        /// Today's date, `2026年11月22日`.
        case date
        /// The time of day, `14:05`.
        case time
        /// The day of the week, `星期日`.
        case weekday
        /// What the member sent.
        case content
        /// The union's name from the settings.
        case unionName
        /// A numbered regex capture.
        case capture(Int)
        /// A named regex capture.
        case namedCapture(String)
    }

    /// The pieces in order.
    public var segments: [Segment]

    /// The placeholder names staff write, other than captures.
    public static let placeholderNames: [String: Placeholder] = [
        "date": .date, "time": .time, "weekday": .weekday, "content": .content, "union": .unionName,
        "日期": .date, "时间": .time, "星期": .weekday, "内容": .content, "工会": .unionName,
    ]

    /// A template of plain text with no placeholders.
    public init(literal: String) {
        segments = literal.isEmpty ? [] : [.literal(literal)]
    }

    init(segments: [Segment]) {
        self.segments = segments
    }

    /// Reads `{name}` placeholders. Returns the template, or a message saying what is wrong.
    public static func parse(_ text: String) -> Result<TextTemplate, TemplateError> {
        var segments: [Segment] = []
        var literal = ""
        var index = text.startIndex
        while index < text.endIndex {
            let character = text[index]
            let next = text.index(after: index)
            if character == "{", next < text.endIndex, text[next] == "{" {
                literal.append("{")
                index = text.index(after: next)
                continue
            }
            if character == "}", next < text.endIndex, text[next] == "}" {
                literal.append("}")
                index = text.index(after: next)
                continue
            }
            if character == "{" {
                guard let close = text[next...].firstIndex(of: "}") else {
                    return .failure(TemplateError(message: "「{」没有对应的「}」（要写花括号本身，请写 {{ 或 }}）"))
                }
                let name = text[next..<close].trimmingCharacters(in: .whitespaces)
                let placeholder: Placeholder
                if let known = placeholderNames[name] {
                    placeholder = known
                } else if let number = Int(name), number >= 0 {
                    placeholder = .capture(number)
                } else if !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) {
                    placeholder = .namedCapture(name)
                } else {
                    return .failure(TemplateError(message: "无法识别的占位符「{\(name)}」"))
                }
                if !literal.isEmpty {
                    segments.append(.literal(literal))
                    literal = ""
                }
                segments.append(.placeholder(placeholder))
                index = text.index(after: close)
                continue
            }
            if character == "}" {
                return .failure(TemplateError(message: "多余的「}」（要写花括号本身，请写 }}）"))
            }
            literal.append(character)
            index = next
        }
        if !literal.isEmpty { segments.append(.literal(literal)) }
        return .success(TextTemplate(segments: segments))
    }

    /// The placeholders used, for checking them against the rule's pattern.
    public var placeholders: [Placeholder] {
        segments.compactMap {
            if case .placeholder(let placeholder) = $0 { return placeholder }
            return nil
        }
    }

    /// The text with its placeholders filled from `values`.
    public func render(_ values: TemplateValues) -> String {
        // A text without placeholders is the rule's own string, storage and all: the retry
        // memory then recognises it without reading it (see `RetryMemory.intern`).
        if segments.count == 1, case .literal(let text) = segments[0] { return text }
        var result = ""
        for segment in segments {
            switch segment {
            case .literal(let text): result += text
            case .placeholder(let placeholder): result += values.value(for: placeholder)
            }
        }
        return result
    }
}

/// Why a template could not be read.
public struct TemplateError: Error, Sendable, Hashable {
    /// What is wrong, in Chinese.
    public var message: String
}

/// The values placeholders are filled from.
public struct TemplateValues: Sendable {
    /// The moment the reply is made, in Unix seconds.
    public var unixTime: Int64
    /// The moment the reply is made, as local wall-clock parts.
    public var clock: LocalTime
    /// What the member sent.
    public var content: String
    /// The union's name.
    public var unionName: String
    /// Numbered captures (0 is the whole match).
    public var captures: [String]
    /// Named captures.
    public var namedCaptures: [String: String]

    /// Creates values.
    public init(
        unixTime: Int64 = 0, clock: LocalTime, content: String = "", unionName: String = "", captures: [String] = [],
        namedCaptures: [String: String] = [:]
    ) {
        self.unixTime = unixTime
        self.clock = clock
        self.content = content
        self.unionName = unionName
        self.captures = captures
        self.namedCaptures = namedCaptures
    }

    func value(for placeholder: TextTemplate.Placeholder) -> String {
        switch placeholder {
        case .date: "\(clock.year)年\(clock.month)月\(clock.day)日"
        case .time: String(format: "%02d:%02d", clock.hour, clock.minute)
        case .weekday: LocalTime.weekdayNames[clock.weekday - 1]
        case .content: content
        case .unionName: unionName
        case .capture(let index): index < captures.count ? captures[index] : ""
        case .namedCapture(let name): namedCaptures[name] ?? ""
        }
    }
}

extension ReplyTemplate {
    /// The reply body this template makes with `values`; nil for a service hand-over or silence.
    public func body(_ values: TemplateValues) -> ReplyBody? {
        switch self {
        case .text(let template): .text(template.render(values))
        case .articles(let articles):
            .news(
                articles.map {
                    Article(
                        title: $0.title.render(values), description: $0.description.render(values), picURL: $0.picURL,
                        url: $0.url)
                })
        case .image(let mediaId): .image(mediaId: mediaId)
        case .voice(let mediaId): .voice(mediaId: mediaId)
        case .video(let mediaId, let title, let description):
            .video(mediaId: mediaId, title: title, description: description)
        case .transferToCustomerService: .transferToCustomerService(agent: nil)
        case .service, .silence: nil
        }
    }
}
