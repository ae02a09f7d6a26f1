/// Plays WeChat's side of the webhook: signs and, in compatible and safe mode, encrypts
/// requests, and opens the replies.
///
/// Tests, the terminal chat and benchmarks use it to talk to the gateway exactly as WeChat would.
public struct SimulatedWeChat: Sendable {
    /// The token both sides share.
    public let token: String
    /// The cipher both sides share, for compatible and safe mode.
    public let cipher: MessageCipher?
    private let reader = XMLReader()

    /// Creates a simulator with the account's token and, for encrypted modes, its cipher.
    public init(token: String, cipher: MessageCipher? = nil) {
        self.token = token
        self.cipher = cipher
    }

    /// A signed request: the query parameters and the body.
    public struct Request: Sendable, Hashable {
        /// The query parameters.
        public var query: WebhookQuery
        /// The body.
        public var body: String
    }

    /// The signed query of a URL verification request.
    public func verification(echostr: String, timestamp: String, nonce: String) -> WebhookQuery {
        var query = WebhookQuery([:])
        query.timestamp = timestamp
        query.nonce = nonce
        query.signature = Signature.compute(token: token, timestamp: timestamp, nonce: nonce)
        query.echostr = echostr
        return query
    }

    /// The request that delivers `message` in `mode`, signed with `timestamp` and `nonce`.
    ///
    /// - Throws: ``WebhookError`` when an encrypted mode is asked for without a cipher.
    public func request(for message: InboundMessage, mode: WireMode, timestamp: String, nonce: String) throws
        -> Request
    {
        var query = WebhookQuery([:])
        query.timestamp = timestamp
        query.nonce = nonce
        query.openid = message.header.sender
        query.signature = Signature.compute(token: token, timestamp: timestamp, nonce: nonce)
        let plain = message.xml()
        guard mode != .plain else { return Request(query: query, body: plain) }
        guard let cipher else {
            throw WebhookError(.encryptionNotConfigured, "encrypted modes need an EncodingAESKey")
        }
        let encrypted = try cipher.encrypt(plain)
        query.encryptType = "aes"
        query.msgSignature = Signature.compute(token: token, timestamp: timestamp, nonce: nonce, encrypted: encrypted)
        var writer = XMLWriter()
        if mode == .safe {
            writer.open("xml")
            writer.text("ToUserName", message.header.account)
            writer.text("Encrypt", encrypted)
            writer.close("xml")
            return Request(query: query, body: writer.string)
        }
        // Compatible mode: the plain document with Encrypt added before its end tag.
        let body = plain.dropLast("</xml>".count) + "<Encrypt><![CDATA[\(encrypted)]]></Encrypt></xml>"
        return Request(query: query, body: String(body))
    }

    /// Opens a reply body: `nil` for `success` or an empty body, the reply otherwise, after
    /// checking the envelope's signature and decrypting it where it is encrypted.
    ///
    /// - Throws: ``WebhookError``, ``CipherError``, ``XMLReadError`` or ``MessageParseError``.
    public func openReply(_ body: String) throws -> ReplyMessage? {
        if body.isEmpty || body == PassiveReply.successBody { return nil }
        let root = try reader.read(body)
        guard let encrypted = root.text(of: "Encrypt") else {
            return try ReplyMessage(xml: body)
        }
        guard let cipher else {
            throw WebhookError(.encryptionNotConfigured, "an encrypted reply came, but no EncodingAESKey is configured")
        }
        let signature = root.text(of: "MsgSignature") ?? ""
        let expected = Signature.compute(
            token: token, timestamp: root.text(of: "TimeStamp") ?? "", nonce: root.text(of: "Nonce") ?? "",
            encrypted: encrypted)
        guard Signature.matches(signature, expected) else {
            throw WebhookError(.badMessageSignature, "the reply's MsgSignature does not match")
        }
        return try ReplyMessage(xml: cipher.decrypt(encrypted))
    }
}
