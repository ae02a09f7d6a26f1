import WeChatWire

/// The key WeChat's retries of one message share: account, sender and MsgId; for events, which
/// have no MsgId, the sender, CreateTime, event and key.
public enum MessageKey {
    /// The key of `message`.
    public static func of(_ message: InboundMessage) -> String {
        let header = message.header
        if let msgId = header.msgId {
            return "\(header.account)\u{1F}\(header.sender)\u{1F}\(msgId)"
        }
        if case .event(let event) = message.kind {
            return
                "\(header.account)\u{1F}\(header.sender)\u{1F}\(header.createTime)\u{1F}\(event.name.lowercased())\u{1F}\(event.eventKey ?? "")"
        }
        return "\(header.account)\u{1F}\(header.sender)\u{1F}\(header.createTime)\u{1F}\(message.msgType)"
    }
}
