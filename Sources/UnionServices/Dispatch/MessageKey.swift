import WeChatWire

/// The key WeChat's retries of one message share: account, sender and MsgId; for events, which
/// have no MsgId, the sender, CreateTime, event and key.
public enum MessageKey {
    /// The key of `message`.
    public static func of(_ message: InboundMessage) -> String {
        identity(of: message).text
    }
}

extension MessageKey {
    /// The same key as a value, for in-memory tables that look keys up on every request. It is
    /// hashed whole, once, with Swift's per-process seeded hasher, so that no sender can craft
    /// keys that collide and a table that looks it up several times hashes a single integer;
    /// two messages share an identity exactly when they share a key.
    public struct Identity: Hashable, Sendable {
        let account: String
        let sender: CompactText
        /// The MsgId, or the CreateTime of a message without one.
        let number: UInt64
        /// Nil for a message with a MsgId; otherwise what else tells it apart (event and key, or type).
        let detail: String?
        /// The whole identity hashed once, with the process's random seed: tables may key by it
        /// (and compare whole identities on a hit).
        public let digest: Int

        init(account: String, sender: String, number: UInt64, detail: String?) {
            self.account = account
            self.sender = CompactText(sender)
            self.number = number
            self.detail = detail
            var hasher = Hasher()
            hasher.combine(number)
            hasher.combine(self.sender)
            hasher.combine(detail)
            hasher.combine(account)
            digest = hasher.finalize()
        }

        /// The key as text, as kept in the store: account, sender, then the MsgId, or the
        /// CreateTime and the detail.
        public var text: String {
            guard let detail else { return "\(account)\u{1F}\(sender.string)\u{1F}\(number)" }
            return "\(account)\u{1F}\(sender.string)\u{1F}\(Int64(bitPattern: number))\u{1F}\(detail)"
        }

        public static func == (left: Identity, right: Identity) -> Bool {
            left.digest == right.digest && left.number == right.number && left.sender == right.sender
                && left.detail == right.detail && left.account == right.account
        }

        public func hash(into hasher: inout Hasher) {
            hasher.combine(digest)
        }
    }

    /// The identity of `message`: equal for WeChat's retries of it, different for anything else.
    public static func identity(of message: InboundMessage) -> Identity {
        let header = message.header
        if let msgId = header.msgId {
            return Identity(account: header.account, sender: header.sender, number: msgId, detail: nil)
        }
        let time = UInt64(bitPattern: header.createTime)
        if case .event(let event) = message.kind {
            return Identity(
                account: header.account, sender: header.sender, number: time,
                detail: "\(event.name.lowercased())\u{1F}\(event.eventKey ?? "")")
        }
        return Identity(account: header.account, sender: header.sender, number: time, detail: message.msgType)
    }
}

/// A short text kept in the value itself: an OpenID is 28 ASCII characters, which a `String`
/// keeps on the heap (only up to 15 bytes live inline). The webhook's retry memory holds tens of
/// thousands of identities and lets a whole generation of them go at once; with the sender
/// inline, that frees no string per message. Text over 32 bytes is kept as a `String`.
/// Equal and hashed as its storage: short texts by their bytes, longer ones as strings.
struct CompactText: Hashable, Sendable {
    private enum Storage: Hashable, Sendable {
        case inline(UInt64, UInt64, UInt64, UInt64, count: UInt8)
        case heap(String)
    }

    private let storage: Storage

    init(_ text: String) {
        var text = text
        storage =
            text.withUTF8 { bytes in
                guard bytes.count <= 32 else { return nil }
                var words: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
                withUnsafeMutableBytes(of: &words) { $0.copyMemory(from: UnsafeRawBufferPointer(bytes)) }
                return .inline(words.0, words.1, words.2, words.3, count: UInt8(bytes.count))
            } ?? .heap(text)
    }

    /// The text.
    var string: String {
        switch storage {
        case .heap(let text):
            return text
        case .inline(let first, let second, let third, let fourth, let count):
            return withUnsafeBytes(of: (first, second, third, fourth)) {
                String(decoding: $0.prefix(Int(count)), as: UTF8.self)
            }
        }
    }
}
