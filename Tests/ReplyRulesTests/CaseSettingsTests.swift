import Foundation
import Testing

@testable import ReplyRules

@Suite("The inbox's calendar (cases:)")
struct CaseSettingsTests {
    /// 2026-09-30 (a Wednesday) 10:00 in Beijing.
    static let wednesdayBeforeNationalDay: Int64 = 1_790_733_600
    static let beijing = 480

    func local(_ unix: Int64) -> String {
        let time = LocalTime(unixSeconds: unix, utcOffsetMinutes: Self.beijing)
        return String(format: "%04d-%02d-%02d %02d:%02d", time.year, time.month, time.day, time.hour, time.minute)
    }

    @Test func dueTimesSkipWeekendsHolidaysAndCountMakeUpDays() throws {
        let book = try load([
            (
                "Replies/cases.yaml",
                """
                cases:
                  due: 3 个工作日
                  holidays: [2026-10-01, 2026-10-02, 2026-10-05, 2026-10-06, 2026-10-07]
                  workdays: [2026-10-10]
                """
            )
        ])
        let settings = book.cases
        #expect(settings.due == .workingDays(3))
        #expect(local(Self.wednesdayBeforeNationalDay) == "2026-09-30 10:00")
        // Thursday to Wednesday are off (two weekend days among them); Thursday 8th, Friday 9th
        // and Saturday 10th (a make-up day) are the three working days.
        #expect(
            local(settings.dueTime(from: Self.wednesdayBeforeNationalDay, utcOffsetMinutes: Self.beijing))
                == "2026-10-11 00:00")
        // A Friday evening message: Monday, Tuesday, Wednesday.
        let friday: Int64 = 1_795_759_200  // 2026-11-27 (Friday) 14:00
        #expect(local(friday) == "2026-11-27 14:00")
        #expect(local(settings.dueTime(from: friday, utcOffsetMinutes: Self.beijing)) == "2026-12-03 00:00")

        var hours = settings
        hours.due = .hours(24)
        #expect(hours.dueTime(from: friday, utcOffsetMinutes: Self.beijing) == friday + 86_400)
    }

    /// `uniongate check` warns when the calendar runs out: this year missing, or next year
    /// missing from November; the shipped file covers 2027.
    @Test func theCalendarWarnsWhenItRunsOut() throws {
        func day(_ year: Int, _ month: Int) -> LocalTime {
            LocalTime(
                unixSeconds: LocalTime.unixSeconds(
                    ofDate: String(format: "%04d-%02d-15", year, month), utcOffsetMinutes: Self.beijing)!,
                utcOffsetMinutes: Self.beijing)
        }
        var settings = CaseSettings()
        settings.holidays = ["2026-10-01", "2027-01-01"]
        #expect(settings.calendarWarning(today: day(2026, 6)) == nil)
        #expect(settings.calendarWarning(today: day(2026, 11)) == nil, "2027 has a day")
        #expect(settings.calendarWarning(today: day(2027, 10)) == nil)
        #expect(settings.calendarWarning(today: day(2027, 11))?.contains("2028") == true)
        #expect(settings.calendarWarning(today: day(2028, 1))?.contains("没有 2028 年") == true)
        settings.enabled = false
        #expect(settings.calendarWarning(today: day(2028, 1)) == nil, "no inbox, no calendar to keep")

        let shipped = try RuleBookLoader().load(directory: shippedReplies).cases
        #expect(shipped.calendarWarning(today: day(2026, 12)) == nil)
        #expect(shipped.calendarWarning(today: day(2027, 6)) == nil)
        #expect(shipped.holidays.filter { $0.hasPrefix("2027-") }.count >= 7, "every statutory holiday of 2027")
        #expect(shipped.holidaysSource?.path.hasSuffix("cases.yaml") == true)
        #expect((shipped.holidaysSource?.line ?? 0) > 1)
    }

    @Test func officeHoursAndTheNextOpening() {
        let settings = CaseSettings()
        let friday: Int64 = 1_795_759_200  // 2026-11-27 (Friday) 14:00
        #expect(settings.isOfficeOpen(at: friday, utcOffsetMinutes: Self.beijing))
        let evening = friday + 5 * 3600  // 19:00
        #expect(!settings.isOfficeOpen(at: evening, utcOffsetMinutes: Self.beijing))
        let opening = settings.nextOpening(after: evening, utcOffsetMinutes: Self.beijing)
        #expect(opening.map(local) == "2026-11-30 09:00")  // Monday morning
        #expect(opening.map { CaseSettings.describe($0, utcOffsetMinutes: Self.beijing) } == "11月30日（星期一）09:00")
        let lunch = friday - 2 * 3600 + 30 * 60  // 12:30
        #expect(settings.nextOpening(after: lunch, utcOffsetMinutes: Self.beijing).map(local) == "2026-11-27 13:30")
    }

    @Test func mistakesAreReportedWithFileAndLine() {
        let found = problems([
            (
                "Replies/cases.yaml",
                """
                cases:
                  due: 三天
                  holidays: [2026-13-01]
                  reply: 收到了
                  colour: red
                """
            )
        ])
        let lines = found.map { "\($0.line) \($0.message)" }
        #expect(lines.contains { $0.hasPrefix("2 ") && $0.contains("答复期限「三天」") })
        #expect(lines.contains { $0.hasPrefix("3 ") && $0.contains("2026-13-01") })
        #expect(lines.contains { $0.hasPrefix("4 ") && $0.contains("{number}") })
        #expect(lines.contains { $0.contains("colour") })
        #expect(found.allSatisfy { $0.path == "Replies/cases.yaml" })
    }

    @Test func theInboxCanBeTurnedOff() throws {
        #expect(try load([("a.yaml", "cases:\n  enabled: false\n")]).cases.enabled == false)
        #expect(try load([("a.yaml", "welcome: 你好\n")]).cases.enabled == true)
    }
}
