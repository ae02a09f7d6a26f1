/// How the inbox (留言) handles messages no rule answers (`cases:`): when answers are due, the
/// office's hours and its calendar of holidays and make-up working days, and what the member is
/// told.
public struct CaseSettings: Sendable, Hashable {
    /// When an answer is due after a message arrives.
    public enum Due: Sendable, Hashable {
        /// By the end of the Nth working day after the day it arrived.
        case workingDays(Int)
        /// N whole days later.
        case days(Int)
        /// N hours later.
        case hours(Int)

        /// The promise in Chinese: 「3 个工作日」.
        public var chinese: String {
            switch self {
            case .workingDays(let count): "\(count) 个工作日"
            case .days(let count): "\(count) 天"
            case .hours(let count): "\(count) 小时"
            }
        }
    }

    /// Whether messages no rule answers become cases (on unless `enabled: false`).
    public var enabled = true
    /// When an answer is due.
    public var due = Due.workingDays(3)
    /// The office's days (1 = Monday … 7 = Sunday).
    public var officeDays: Set<Int> = [1, 2, 3, 4, 5]
    /// The office's hours, as minute ranges of the day.
    public var officeHours: [Range<Int>] = [540..<720, 810..<1050]
    /// Days off on working days (`2026-10-01`).
    public var holidays: Set<String> = []
    /// Make-up working days on weekends (调休, `2026-09-27`).
    public var workdays: Set<String> = []
    /// Where `holidays:` was written, for the calendar's warning.
    public var holidaysSource: SourceLocation?
    /// What the member is told when their message opens a case: `{number}` and `{due}` are
    /// filled in.
    public var acknowledgement = "您的留言已转给工会工作人员，编号 {number}，我们会在 {due}内答复。"
    /// What the member is told when a message joins their open case.
    public var followUp = "已补充到您的留言（编号 {number}），工作人员会一并答复。"
    /// What is added outside office hours: `{opening}` is when staff are back.
    public var afterHours = "现在是非工作时间，工作人员 {opening} 上班后会尽快处理。如有急事，请拨打职工服务热线 12351。"

    /// Creates the defaults.
    public init() {}

    /// `YYYY-MM-DD` of a local time.
    static func date(_ time: LocalTime) -> String {
        time.isoDate
    }

    /// The warning `uniongate check` gives when the calendar runs out at `today`: when this
    /// year has no holidays listed, or, from November (the State Council publishes the next
    /// year's arrangement in the autumn), next year has none. Nil when it covers them, or the
    /// inbox is off.
    public func calendarWarning(today: LocalTime) -> String? {
        guard enabled else { return nil }
        let years = Set(holidays.compactMap { Int($0.prefix(4)) })
        if !years.contains(today.year) {
            return "节假日（holidays）里没有 \(today.year) 年的日期：答复期限会把节假日算作工作日。请按国务院办公厅的放假通知补上"
        }
        if today.month >= 11, !years.contains(today.year + 1) {
            return "节假日（holidays）里还没有 \(today.year + 1) 年的日期：国务院办公厅公布下一年的放假安排后，请补上节假日和调休上班日（workdays）"
        }
        return nil
    }

    /// Whether the office works on the day of `time`.
    public func isWorkingDay(_ time: LocalTime) -> Bool {
        let date = Self.date(time)
        if workdays.contains(date) { return true }
        return !holidays.contains(date) && officeDays.contains(time.weekday)
    }

    /// When an answer to a message that arrived at `unixSeconds` is due.
    public func dueTime(from unixSeconds: Int64, utcOffsetMinutes offset: Int) -> Int64 {
        switch due {
        case .hours(let count): return unixSeconds + Int64(count) * 3600
        case .days(let count): return unixSeconds + Int64(count) * 86_400
        case .workingDays(let count): return dueTime(from: unixSeconds, workingDays: count, utcOffsetMinutes: offset)
        }
    }

    /// The end of the `count`th working day after the day of `unixSeconds`, by this calendar.
    public func dueTime(from unixSeconds: Int64, workingDays count: Int, utcOffsetMinutes offset: Int) -> Int64 {
        var day = LocalTime.dayStart(unixSeconds, utcOffsetMinutes: offset)
        var counted = 0
        // A year of days at most: a calendar of nothing but holidays cannot loop forever.
        for _ in 0..<366 where counted < count {
            day += 86_400
            if isWorkingDay(LocalTime(unixSeconds: day, utcOffsetMinutes: offset)) { counted += 1 }
        }
        return day + 86_400  // the end of the last working day counted
    }

    /// Whether staff are in at `unixSeconds`.
    public func isOfficeOpen(at unixSeconds: Int64, utcOffsetMinutes offset: Int) -> Bool {
        let time = LocalTime(unixSeconds: unixSeconds, utcOffsetMinutes: offset)
        return isWorkingDay(time) && officeHours.contains { $0.contains(time.minuteOfDay) }
    }

    /// When staff are next in after `unixSeconds` (within 30 days), or nil.
    public func nextOpening(after unixSeconds: Int64, utcOffsetMinutes offset: Int) -> Int64? {
        var day = LocalTime.dayStart(unixSeconds, utcOffsetMinutes: offset)
        for _ in 0..<30 {
            if isWorkingDay(LocalTime(unixSeconds: day, utcOffsetMinutes: offset)) {
                for window in officeHours.sorted(by: { $0.lowerBound < $1.lowerBound }) {
                    let start = day + Int64(window.lowerBound) * 60
                    if start > unixSeconds { return start }
                }
            }
            day += 86_400
        }
        return nil
    }

    /// 「11月24日（星期一）09:00」.
    public static func describe(_ unixSeconds: Int64, utcOffsetMinutes offset: Int) -> String {
        let time = LocalTime(unixSeconds: unixSeconds, utcOffsetMinutes: offset)
        func two(_ value: Int) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return
            "\(time.month)月\(time.day)日（\(LocalTime.weekdayNames[time.weekday - 1])）\(two(time.hour)):\(two(time.minute))"
    }
}
