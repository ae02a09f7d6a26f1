/// Wall-clock time at the union's UTC offset, worked out without time-zone files so that it is
/// the same on every machine. China keeps one offset all year.
public struct LocalTime: Sendable, Hashable {
    /// The day as `2026-11-23`.
    public var isoDate: String {
        func two(_ value: Int) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return "\(year)-\(two(month))-\(two(day))"
    }

    /// The year.
    public var year: Int
    /// The month, 1–12.
    public var month: Int
    /// The day of the month, 1–31.
    public var day: Int
    /// The hour, 0–23.
    public var hour: Int
    /// The minute, 0–59.
    public var minute: Int
    /// The day of the week, 1 = Monday … 7 = Sunday.
    public var weekday: Int

    /// Chinese names of the days, Monday first.
    public static let weekdayNames = ["星期一", "星期二", "星期三", "星期四", "星期五", "星期六", "星期日"]

    /// The start of the local day holding `unixSeconds` (a Unix timestamp).
    public static func dayStart(_ unixSeconds: Int64, utcOffsetMinutes: Int) -> Int64 {
        let local = unixSeconds + Int64(utcOffsetMinutes) * 60
        let days = local >= 0 ? local / 86_400 : (local - 86_399) / 86_400
        return days * 86_400 - Int64(utcOffsetMinutes) * 60
    }

    /// The local time of a Unix timestamp at an offset from UTC in minutes.
    public init(unixSeconds: Int64, utcOffsetMinutes: Int) {
        let local = unixSeconds + Int64(utcOffsetMinutes) * 60
        let days = Int(local >= 0 ? local / 86_400 : (local - 86_399) / 86_400)
        let secondsOfDay = Int(local - Int64(days) * 86_400)
        hour = secondsOfDay / 3600
        minute = secondsOfDay % 3600 / 60
        // 1970-01-01 was a Thursday (4).
        weekday = ((days % 7 + 7) % 7 + 3) % 7 + 1
        // Civil date from days since the epoch (Howard Hinnant's algorithm).
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
        month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
        year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
    }

    /// Minutes since local midnight.
    public var minuteOfDay: Int { hour * 60 + minute }

    /// The start of local day `YYYY-MM-DD` as a Unix timestamp, or nil for no such date.
    public static func unixSeconds(ofDate text: String, utcOffsetMinutes offset: Int) -> Int64? {
        let parts = text.split(separator: "-").compactMap { Int($0) }
        guard parts.count == 3, (1...12).contains(parts[1]), (1...31).contains(parts[2]) else { return nil }
        // Days from civil (Howard Hinnant's algorithm), the inverse of `init(unixSeconds:)`.
        let year = parts[1] <= 2 ? parts[0] - 1 : parts[0]
        let era = (year >= 0 ? year : year - 399) / 400
        let yearOfEra = year - era * 400
        let month = parts[1]
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + parts[2] - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        let days = Int64(era * 146_097 + dayOfEra - 719_468)
        let seconds = days * 86_400 - Int64(offset) * 60
        guard LocalTime(unixSeconds: seconds, utcOffsetMinutes: offset).isoDate == text else { return nil }
        return seconds
    }
}
