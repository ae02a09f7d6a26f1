import UnionServices
import WeChatWire

#if canImport(Glibc)
    import Glibc
#endif

/// What the webhook said to a message, kept for WeChat's retries of it.
struct RecordedReply: Sendable, Hashable {
    /// The passive reply, already fitted; nil answers `success`.
    var passive: ReplyBody?
    /// The rule that answered, for metrics.
    var ruleName: String?
}

/// The recent messages the webhook has seen, for WeChat's retries: whether each is still being
/// handled, what it was answered, or that its deadline passed.
///
/// Messages are remembered in two generations: new ones go into the current one, and when it
/// holds half the capacity, or is half the window old, the previous one is dropped whole and
/// the current one takes its place. Forgetting thus costs little per message, and a message is
/// remembered for at least half the window and at least the latest half-capacity messages. The
/// dropped generation's table is emptied in place and reused.
/// Times are read from ``LedgerClock``. Not thread-safe: ``DeliveryLedger`` keeps it under its lock.
struct RetryMemory {
    typealias Key = MessageKey.Identity

    /// Where a remembered message is.
    enum Phase {
        /// Its handler is running.
        case running
        /// Answered.
        case done(RecordedReply)
        /// Its deadline passed: the outcome goes (or went) to late delivery, and retries get `success`.
        case handedOff
    }

    /// A remembered message.
    struct Entry {
        var phase: Phase
        /// The reply's CreateTime, the same for every attempt.
        let createTime: Int64
    }

    private var current: Table
    private var previous: Table
    /// The keys of the messages whose handler is running (a handful), wherever they are kept.
    private var running: Set<Key> = []
    private var generationStarted: Duration
    private let generationAge: Duration
    private let generationSize: Int
    /// Recent distinct single-text replies, so that identical replies share storage.
    private var interned: [TextKey: RecordedReply] = [:]
    /// The reply interned last: most messages get a rule's own text, in the same storage each
    /// time, which ``sameStorage(_:_:)`` recognises without hashing the whole text.
    private var lastInterned: RecordedReply?

    /// - Parameters:
    ///   - capacity: the most messages remembered.
    ///   - window: the longest a message is remembered.
    ///   - hashOf: what places keys in the tables; tests pass a poor one.
    init(capacity: Int, window: Duration, now: Duration, hashOf: @escaping @Sendable (Key) -> Int = { $0.digest }) {
        generationSize = max(1, capacity / 2)
        generationAge = window / 2
        current = Table(hashOf: hashOf, reserving: min(generationSize, 1 << 20))
        previous = Table(hashOf: hashOf, reserving: 0)
        generationStarted = now
    }

    /// How many messages are remembered.
    var count: Int { current.count + previous.count }

    /// Reads find a message in either generation; writes go to the current one, where running
    /// messages always are (a new generation takes them along).
    subscript(key: Key) -> Entry? {
        get { current[key] ?? previous[key] }
        set {
            current[key] = newValue
            if newValue == nil { previous[key] = nil }
            if case .running? = newValue?.phase {
                running.insert(key)
            } else if !running.isEmpty {
                running.remove(key)
            }
        }
    }

    /// Remembers a new message, starting a new generation first when the current one is full or old.
    mutating func insert(_ key: Key, _ entry: Entry, now: Duration) {
        if current.count >= generationSize || now - generationStarted >= generationAge {
            // The oldest generation is emptied in place and becomes the new one, keeping its
            // room. Its keys hold their senders inline (`CompactText`) and most replies are
            // interned, so emptying frees almost nothing one by one. (With each sender a heap
            // string it took about 3 ms for 24,000 messages, with the ledger's lock held; freeing
            // the generation on a background task instead cost about 12 MB of resident memory.)
            swap(&previous, &current)
            current.removeAll(reserving: min(generationSize, 1 << 20))
            generationStarted = now
            // Messages still running stay where their waiters and the handler will look.
            // (Found by their keys: scanning the generation's slots for them took milliseconds.)
            for key in running {
                if let entry = previous[key] { current[key] = entry }
            }
        }
        self[key] = entry
    }

    /// `reply`, or an equal one already kept: most replies are one text that many members get
    /// alike (帮助, 福利 …).
    mutating func intern(_ reply: RecordedReply) -> RecordedReply {
        guard case .text(let text)? = reply.passive else { return reply }
        if let last = lastInterned, case .text(let lastText)? = last.passive, last.ruleName == reply.ruleName,
            Self.sameStorage(lastText, text)
        {
            return last
        }
        let key = TextKey(text: text, rule: reply.ruleName)
        if let shared = interned[key] {
            lastInterned = shared
            return shared
        }
        if interned.count >= 1024 { interned.removeAll(keepingCapacity: true) }
        interned[key] = reply
        lastInterned = reply
        return reply
    }

    /// Whether two texts are one string's storage, so equal without reading them. Only for texts
    /// stored out of line (small ones live in the value itself and have no lasting address).
    static func sameStorage(_ first: String, _ second: String) -> Bool {
        guard first.utf8.count > 15, first.utf8.count == second.utf8.count else { return false }
        let same = first.utf8.withContiguousStorageIfAvailable { left in
            second.utf8.withContiguousStorageIfAvailable { right in left.baseAddress == right.baseAddress } ?? false
        }
        return same ?? false
    }

    /// Entries by their key's digest. Keyed by a plain integer, so that probing touches 8 bytes
    /// a slot instead of whole keys: with tens of thousands of entries, that is most of what
    /// remembering costs per message (measured: a plain `[Identity: Entry]` dictionary took the
    /// gateway's plain-mode throughput down by about a tenth). Each slot keeps its full key; a key whose hash
    /// another key already holds goes to `overflow`.
    private struct Table {
        struct Slot {
            let key: Key
            var entry: Entry
        }

        var slots: [Int: Slot] = [:]
        /// Keys whose hash value was taken (rare: a 64-bit collision). `slots` wins over it.
        var overflow: [Key: Entry] = [:]
        let hashOf: @Sendable (Key) -> Int

        init(hashOf: @escaping @Sendable (Key) -> Int, reserving capacity: Int) {
            self.hashOf = hashOf
            slots.reserveCapacity(capacity)
        }

        var count: Int { slots.count + overflow.count }

        /// Forgets every entry and keeps the room, with room for `capacity` entries at least:
        /// reserved while empty, the table never grows (rehashing) under the ledger's lock.
        mutating func removeAll(reserving capacity: Int) {
            slots.removeAll(keepingCapacity: true)
            overflow.removeAll()
            if slots.capacity < capacity { slots.reserveCapacity(capacity) }
        }

        subscript(key: Key) -> Entry? {
            get {
                if let slot = slots[hashOf(key)], slot.key == key { return slot.entry }
                return overflow.isEmpty ? nil : overflow[key]
            }
            set {
                let hash = hashOf(key)
                guard let entry = newValue else {
                    if slots[hash]?.key == key { slots[hash] = nil }
                    if !overflow.isEmpty { overflow[key] = nil }
                    return
                }
                if let slot = slots[hash], slot.key != key {
                    overflow[key] = entry
                } else {
                    slots[hash] = Slot(key: key, entry: entry)
                }
            }
        }
    }

    /// A text compared by its UTF-8 bytes and hashed by its length and first bytes: String's
    /// own hashing normalises Unicode and reads the whole text, which costs far more for a long
    /// Chinese reply than it is worth here (texts that differ only further on just share a bucket).
    struct TextKey: Hashable {
        let text: String
        let rule: String?

        static func == (left: TextKey, right: TextKey) -> Bool {
            guard left.text.utf8.count == right.text.utf8.count, left.rule == right.rule else { return false }
            var a = left.text
            var b = right.text
            return a.withUTF8 { first in
                b.withUTF8 { second in
                    first.count == 0 || memcmp(first.baseAddress!, second.baseAddress!, first.count) == 0
                }
            }
        }

        /// The whole text: replies that differ only past their start (「申请编号 RH-…」 for each
        /// member) must not share a hash, or every lookup walks them all.
        func hash(into hasher: inout Hasher) {
            var text = self.text
            text.withUTF8 { hasher.combine(bytes: UnsafeRawBufferPointer($0)) }
            hasher.combine(rule?.utf8.count ?? -1)
        }
    }
}
