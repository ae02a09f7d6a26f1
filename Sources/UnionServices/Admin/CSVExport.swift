import ReplyRules

/// CSV exports for the union office: UTF-8 with a byte-order mark so that Excel opens Chinese
/// text correctly, CRLF line ends, Chinese column names, times in the union's local time.
public enum CSVExport {
    /// The byte-order mark Excel needs to read UTF-8.
    public static let byteOrderMark = "\u{FEFF}"

    /// Join applications; the union's own questions follow the fixed columns.
    public static func members(_ applications: [MembershipApplication], utcOffsetMinutes: Int = 480) -> String {
        let extraKeys = Array(Set(applications.flatMap(\.extra.keys))).sorted()
        var rows = [["编号", "姓名", "手机号", "单位/部门", "状态", "原因", "申请时间", "审核时间", "openid"] + extraKeys]
        for application in applications {
            rows.append(
                [
                    application.number, application.name, application.phone, application.unit,
                    application.status.chinese,
                    application.reason ?? "", local(application.createdAt, utcOffsetMinutes),
                    application.decidedAt.map { local($0, utcOffsetMinutes) } ?? "", application.openid,
                ] + extraKeys.map { application.extra[$0] ?? "" })
        }
        return document(rows)
    }

    /// The members export written as it is read: its first lines (the byte-order mark and the
    /// header, with a column for each of the join form's own questions), then rows, batch by
    /// batch, with the same columns.
    public struct MembersStream: Sendable {
        /// The join form's own questions, in order: the columns after the fixed ones.
        public let extraKeys: [String]
        public let extraLabels: [String]
        public let utcOffsetMinutes: Int

        public init(fields: [(key: String, label: String)], utcOffsetMinutes: Int) {
            extraKeys = fields.map(\.key)
            extraLabels = fields.map(\.label)
            self.utcOffsetMinutes = utcOffsetMinutes
        }

        public var head: String {
            CSVExport.byteOrderMark
                + line(["编号", "姓名", "手机号", "单位/部门", "状态", "原因", "申请时间", "审核时间", "openid"] + extraLabels)
        }

        public func rows(_ applications: [MembershipApplication]) -> String {
            var text = ""
            for application in applications {
                text += line(
                    [
                        application.number, application.name, application.phone, application.unit,
                        application.status.chinese, application.reason ?? "",
                        CSVExport.local(application.createdAt, utcOffsetMinutes),
                        application.decidedAt.map { CSVExport.local($0, utcOffsetMinutes) } ?? "", application.openid,
                    ] + extraKeys.map { application.extra[$0] ?? "" })
            }
            return text
        }

        private func line(_ fields: [String]) -> String {
            fields.map(CSVExport.field).joined(separator: ",") + "\r\n"
        }
    }

    /// Suggestions.
    public static func suggestions(_ suggestions: [Suggestion], utcOffsetMinutes: Int = 480) -> String {
        var rows = [["编号", "内容", "状态", "工会回复", "提交时间", "更新时间", "openid"]]
        for suggestion in suggestions {
            rows.append([
                suggestion.number, suggestion.content, suggestion.status.chinese, suggestion.reply ?? "",
                local(suggestion.createdAt, utcOffsetMinutes), local(suggestion.updatedAt, utcOffsetMinutes),
                suggestion.openid,
            ])
        }
        return document(rows)
    }

    /// A form's submissions, with a column for each question (labels from the form when known).
    public static func submissions(_ submissions: [FormSubmission], form: FormDefinition?, utcOffsetMinutes: Int = 480)
        -> String
    {
        let keys = form?.fields.map(\.key) ?? Array(Set(submissions.flatMap(\.answers.keys))).sorted()
        let labels = form?.fields.map(\.label) ?? keys
        var rows = [["编号"] + labels + ["提交时间", "openid"]]
        for submission in submissions {
            rows.append(
                [submission.number] + keys.map { submission.answers[$0] ?? "" }
                    + [local(submission.createdAt, utcOffsetMinutes), submission.openid])
        }
        return document(rows)
    }

    static func document(_ rows: [[String]]) -> String {
        byteOrderMark + rows.map { $0.map(field).joined(separator: ",") }.joined(separator: "\r\n") + "\r\n"
    }

    /// A field quoted when it needs to be. A field that a spreadsheet could read as a formula —
    /// starting with =, +, -, @, their full-width forms ＝＋－＠, a tab or a carriage return —
    /// is defused with a leading `'` (plain numbers and dates such as `-5` or `2026-11-23` are
    /// left alone). Works on Unicode scalars, so a combining mark after `=` or a `\r\n` pair
    /// cannot hide a character from the checks.
    static func field(_ value: String) -> String {
        let scalars = value.unicodeScalars
        var out = String.UnicodeScalarView()
        if let first = scalars.first, formulaStarts.contains(first.value),
            !scalars.allSatisfy({ ("0"..."9").contains($0) || $0 == "-" })
        {
            out.append("'")
        }
        var needsQuotes = false
        for scalar in scalars {
            switch scalar {
            case ",", "\n", "\r": needsQuotes = true
            case "\"":
                needsQuotes = true
                out.append("\"")
            default: break
            }
            out.append(scalar)
        }
        guard needsQuotes else { return String(out) }
        return "\"" + String(out) + "\""
    }

    /// The first characters that make a spreadsheet cell a formula.
    private static let formulaStarts: Set<UInt32> = [
        0x3D, 0x2B, 0x2D, 0x40, 0x09, 0x0D, 0xFF1D, 0xFF0B, 0xFF0D, 0xFF20,
    ]

    static func local(_ unixSeconds: Int64, _ offset: Int) -> String {
        let time = LocalTime(unixSeconds: unixSeconds, utcOffsetMinutes: offset)
        func two(_ value: Int) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return "\(time.year)-\(two(time.month))-\(two(time.day)) \(two(time.hour)):\(two(time.minute))"
    }
}
