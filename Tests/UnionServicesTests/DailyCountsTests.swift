import Foundation
import ReplyRules
import Testing

@testable import UnionServices

@Suite("Messages and followers per day")
struct DailyCountsTests {
    /// Two instances' counts add up in the store, per local day, and a flush that cannot write
    /// keeps its counts for the next one.
    @Test(arguments: StoreKind.allCases)
    func countsAddUpPerLocalDayAcrossInstances(_ kind: StoreKind) async throws {
        let store = try await kind.open()
        let a = DailyCounts()
        let b = DailyCounts()
        // 2026-12-03 23:30 and 2026-12-04 00:30 in UTC+8 are two local days.
        let lateEvening: Int64 = 1_796_311_800
        let afterMidnight = lateEvening + 3_600
        #expect(
            LocalTime.dayStart(afterMidnight, utcOffsetMinutes: 480)
                - LocalTime.dayStart(lateEvening, utcOffsetMinutes: 480) == 86_400)
        for _ in 0..<3 { a.count(.messages, at: lateEvening, utcOffsetMinutes: 480) }
        a.count(.followers, at: lateEvening, utcOffsetMinutes: 480)
        b.count(.messages, at: lateEvening, utcOffsetMinutes: 480)
        b.count(.messages, at: afterMidnight, utcOffsetMinutes: 480)
        try await a.flush(to: store)
        try await b.flush(to: store)
        #expect(a.isEmpty && b.isEmpty)
        a.count(.messages, at: lateEvening, utcOffsetMinutes: 480)
        try await a.flush(to: store)

        let start = LocalTime.dayStart(afterMidnight, utcOffsetMinutes: 480) - 29 * 86_400
        let messages = try await store.read { try await DailyCounts.last30Days(.messages, from: start, in: $0) }
        let followers = try await store.read { try await DailyCounts.last30Days(.followers, from: start, in: $0) }
        #expect(messages[28] == 5 && messages[29] == 1 && messages.reduce(0, +) == 6)
        #expect(followers[28] == 1 && followers.reduce(0, +) == 1)

        // The store gone: the counts wait for the next flush.
        await store.close()
        b.count(.messages, at: afterMidnight, utcOffsetMinutes: 480)
        await #expect(throws: (any Error).self) { try await b.flush(to: store) }
        #expect(!b.isEmpty)
    }

    /// Across instances, a flush of more keys than one transaction takes writes them in several,
    /// each adding what its new keys add: the keys both instances counted (a retry on each)
    /// count once, and a flush that cannot write keeps every key for the next one.
    @Test(arguments: StoreKind.allCases)
    func aLargeFlushIsWrittenInPartsAndCountsEachMessageOnce(_ kind: StoreKind) async throws {
        let store = try await kind.open()
        let a = DailyCounts(acrossInstances: true)
        let b = DailyCounts(acrossInstances: true)
        let now: Int64 = 1_796_311_800
        let perStatement = DailyCounts.keysPerStatement
        // a: messages 0..<2.4 parts; b: the second half of those again (retries) and as many new.
        let aKeys = (0..<(perStatement * 12 / 5)).map { "m\($0)" }
        let bKeys = aKeys.suffix(perStatement) + (0..<perStatement).map { "n\($0)" }
        for key in aKeys { a.count(.messages, at: now, utcOffsetMinutes: 480, messageKey: key) }
        for key in bKeys { b.count(.messages, at: now, utcOffsetMinutes: 480, messageKey: key) }
        a.count(.followers, at: now, utcOffsetMinutes: 480)  // no key: a plain count
        try await a.flush(to: store)
        try await b.flush(to: store)
        #expect(a.isEmpty && b.isEmpty)
        let start = LocalTime.dayStart(now, utcOffsetMinutes: 480) - 29 * 86_400
        let messages = try await store.read { try await DailyCounts.last30Days(.messages, from: start, in: $0) }
        let followers = try await store.read { try await DailyCounts.last30Days(.followers, from: start, in: $0) }
        #expect(messages[29] == aKeys.count + perStatement)
        #expect(followers[29] == 1)

        await store.close()
        for key in aKeys { b.count(.messages, at: now, utcOffsetMinutes: 480, messageKey: "late-\(key)") }
        await #expect(throws: (any Error).self) { try await b.flush(to: store) }
        #expect(!b.isEmpty)
    }
}
