/// The three ways an account can exchange messages with its webhook.
public enum WireMode: String, Sendable, Hashable, CaseIterable {
    /// Plain XML.
    case plain
    /// Plain fields and an `Encrypt` field side by side; replies are encrypted.
    case compatible
    /// Only `ToUserName` and `Encrypt`; replies are encrypted.
    case safe
}

/// The query parameters WeChat puts on every webhook request.
public struct WebhookQuery: Sendable, Hashable {
    /// `signature`: SHA-1 over token, timestamp and nonce.
    public var signature: String?
    /// `timestamp`.
    public var timestamp: String?
    /// `nonce`.
    public var nonce: String?
    /// `echostr`, on the URL verification request only.
    public var echostr: String?
    /// `openid`, the sender, on message requests.
    public var openid: String?
    /// `encrypt_type`: `aes` in compatible and safe mode.
    public var encryptType: String?
    /// `msg_signature`: SHA-1 over token, timestamp, nonce and the encrypted message.
    public var msgSignature: String?

    /// Creates a query from its parameters by name.
    public init(_ parameters: [String: String]) {
        signature = parameters["signature"]
        timestamp = parameters["timestamp"]
        nonce = parameters["nonce"]
        echostr = parameters["echostr"]
        openid = parameters["openid"]
        encryptType = parameters["encrypt_type"]
        msgSignature = parameters["msg_signature"]
    }

    /// Creates an empty query.
    public init() {}

    /// Reads the parameters out of a URL's query string (`signature=…&timestamp=…`).
    ///
    /// Values are percent-decoded (a malformed escape keeps the value as sent); names are taken
    /// as they are. Parameters this protocol does not use are ignored; of a repeated one, the last wins.
    public init(query: String) {
        var query = query
        query.withUTF8 { bytes in
            var start = 0
            while start < bytes.count {
                var end = start
                var equals = -1
                while end < bytes.count, bytes[end] != UInt8(ascii: "&") {
                    if equals < 0, bytes[end] == UInt8(ascii: "=") { equals = end }
                    end += 1
                }
                let nameEnd = equals < 0 ? end : equals
                let valueStart = equals < 0 ? end : equals + 1
                let name = UnsafeBufferPointer(rebasing: bytes[start..<nameEnd])
                let value = UnsafeBufferPointer(rebasing: bytes[valueStart..<end])
                switch Self.parameter(named: name) {
                case .signature?: signature = Self.decoded(value)
                case .timestamp?: timestamp = Self.decoded(value)
                case .nonce?: nonce = Self.decoded(value)
                case .echostr?: echostr = Self.decoded(value)
                case .openid?: openid = Self.decoded(value)
                case .encryptType?: encryptType = Self.decoded(value)
                case .msgSignature?: msgSignature = Self.decoded(value)
                case nil: break
                }
                start = end + 1
            }
        }
    }

    private enum Parameter {
        case signature, timestamp, nonce, echostr, openid, encryptType, msgSignature
    }

    private static func parameter(named name: UnsafeBufferPointer<UInt8>) -> Parameter? {
        func named(_ candidate: StaticString) -> Bool {
            guard candidate.utf8CodeUnitCount == name.count else { return false }
            let expected = candidate.utf8Start
            for index in 0..<name.count where expected[index] != name[index] { return false }
            return true
        }
        switch name.count {
        case 5: return named("nonce") ? .nonce : nil
        case 6: return named("openid") ? .openid : nil
        case 7: return named("echostr") ? .echostr : nil
        case 9: return named("signature") ? .signature : named("timestamp") ? .timestamp : nil
        case 12: return named("encrypt_type") ? .encryptType : nil
        case 13: return named("msg_signature") ? .msgSignature : nil
        default: return nil
        }
    }

    private static func decoded(_ value: UnsafeBufferPointer<UInt8>) -> String {
        guard value.contains(UInt8(ascii: "%")) else { return String(decoding: value, as: UTF8.self) }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(value.count)
        var index = 0
        while index < value.count {
            let byte = value[index]
            guard byte == UInt8(ascii: "%") else {
                bytes.append(byte)
                index += 1
                continue
            }
            guard index + 2 < value.count, let high = hexValue(value[index + 1]), let low = hexValue(value[index + 2])
            else {
                return String(decoding: value, as: UTF8.self)  // not an escape: keep the value as sent
            }
            bytes.append(high << 4 | low)
            index += 3
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
        default: return nil
        }
    }

    /// The parameters by name, for building a request URL.
    public var parameters: [String: String] {
        var result: [String: String] = [:]
        result["signature"] = signature
        result["timestamp"] = timestamp
        result["nonce"] = nonce
        result["echostr"] = echostr
        result["openid"] = openid
        result["encrypt_type"] = encryptType
        result["msg_signature"] = msgSignature
        return result
    }
}

/// Why a webhook request was refused before its message could be read.
public struct WebhookError: Error, Hashable, CustomStringConvertible {
    /// What kind of problem was found.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private let name: String
        private init(_ name: String) { self.name = name }
        public var description: String { name }

        /// A query parameter the request needs is absent.
        public static let missingParameter = Code("missingParameter")
        /// `signature` does not match: the request did not come from WeChat.
        public static let badSignature = Code("badSignature")
        /// `msg_signature` does not match the encrypted body.
        public static let badMessageSignature = Code("badMessageSignature")
        /// The request is encrypted but no EncodingAESKey is configured.
        public static let encryptionNotConfigured = Code("encryptionNotConfigured")
        /// The body has no `Encrypt` field where one is needed, or has one without `encrypt_type`.
        public static let malformedEnvelope = Code("malformedEnvelope")
    }

    /// What kind of problem was found.
    public let code: Code
    /// A sentence that says what was wrong.
    public let message: String

    init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    /// True for a forged or mis-signed request, which deserves 403 rather than 400.
    public var isAuthenticationFailure: Bool {
        code == .badSignature || code == .badMessageSignature || code == .missingParameter
    }

    public var description: String { message }
}

/// A message taken out of a verified request, and the mode it came in.
public struct OpenedMessage: Sendable, Hashable {
    /// The message.
    public var message: InboundMessage
    /// The mode it arrived in; the reply goes back the same way.
    public var mode: WireMode

    /// Creates an opened message.
    public init(message: InboundMessage, mode: WireMode) {
        self.message = message
        self.mode = mode
    }
}

/// Verifies, opens and answers webhook requests in all three modes.
///
/// This is the whole wire protocol in one value: the server hands it the query and the body
/// and gets back a message, and hands it a reply and gets back the response body.
public struct WebhookCodec: Sendable {
    /// The token configured in WeChat's console.
    public let token: String
    /// The cipher for compatible and safe mode, when an EncodingAESKey is configured.
    public let cipher: MessageCipher?
    /// The reader used for bodies and decrypted messages.
    public let reader: XMLReader

    /// Creates a codec.
    public init(token: String, cipher: MessageCipher? = nil, reader: XMLReader = XMLReader()) {
        self.token = token
        self.cipher = cipher
        self.reader = reader
    }

    /// Checks the plain `signature` of a request.
    ///
    /// - Throws: ``WebhookError`` when a parameter is missing or the signature does not match.
    public func verifySignature(_ query: WebhookQuery) throws {
        let (timestamp, nonce) = try timestampAndNonce(query)
        guard let signature = query.signature else {
            throw WebhookError(.missingParameter, "the signature parameter is missing")
        }
        guard Signature.matches(signature, token: token, timestamp: timestamp, nonce: nonce) else {
            throw WebhookError(.badSignature, "the signature does not match")
        }
    }

    /// Answers WeChat's URL verification: the `echostr` to send back when the signature matches.
    ///
    /// - Throws: ``WebhookError``.
    public func verifyURL(_ query: WebhookQuery) throws -> String {
        try verifySignature(query)
        guard let echostr = query.echostr else {
            throw WebhookError(.missingParameter, "the echostr parameter is missing")
        }
        return echostr
    }

    /// Verifies a message request and reads its message, decrypting it in compatible and safe mode.
    ///
    /// - Throws: ``WebhookError`` for signatures and envelopes, ``XMLReadError`` for bodies that
    ///   are not acceptable XML, ``CipherError`` for encrypted text that does not open, and
    ///   ``MessageParseError`` for documents that are not messages.
    public func open(_ body: [UInt8], query: WebhookQuery) throws -> OpenedMessage {
        try body.withUnsafeBufferPointer { try open(bytes: $0, query: query) }
    }

    /// ``open(_:query:)`` for a body in a buffer, read where it lies.
    ///
    /// - Parameter signatureVerified: true when the caller already checked the URL signature
    ///   with ``verifySignature(_:)`` (from the request head, before reading the body), so that
    ///   it is not computed twice; the message signature of an encrypted body is always checked.
    public func open(bytes body: UnsafeBufferPointer<UInt8>, query: WebhookQuery, signatureVerified: Bool = false)
        throws -> OpenedMessage
    {
        if !signatureVerified { try verifySignature(query) }
        let root = try reader.read(bytes: body)
        let encrypted = root.text(of: "Encrypt")
        guard let encryptType = query.encryptType, Self.isAES(encryptType) else {
            guard root.child("MsgType") != nil || encrypted == nil else {
                throw WebhookError(.malformedEnvelope, "an encrypted body came without encrypt_type=aes")
            }
            return OpenedMessage(message: try InboundMessage(xml: root), mode: .plain)
        }
        guard let cipher else {
            throw WebhookError(
                .encryptionNotConfigured, "an encrypted message came, but no EncodingAESKey is configured")
        }
        guard let encrypted else {
            throw WebhookError(.malformedEnvelope, "encrypt_type=aes but the body has no Encrypt field")
        }
        guard let msgSignature = query.msgSignature else {
            throw WebhookError(.missingParameter, "the msg_signature parameter is missing")
        }
        let (timestamp, nonce) = try timestampAndNonce(query)
        guard Signature.matches(msgSignature, token: token, timestamp: timestamp, nonce: nonce, encrypted: encrypted)
        else {
            throw WebhookError(.badMessageSignature, "the msg_signature does not match the encrypted message")
        }
        let inner = try cipher.withDecrypted(encrypted) { try reader.read(bytes: $0) }
        let mode: WireMode = root.child("MsgType") == nil ? .safe : .compatible
        return OpenedMessage(message: try InboundMessage(xml: inner), mode: mode)
    }

    /// The response body that answers `opened` with `reply`: plain XML or `success` in plain mode,
    /// the encrypted envelope in compatible and safe mode (`success` stays plain).
    ///
    /// - Parameters:
    ///   - createTime: the reply's `CreateTime`, Unix seconds.
    ///   - timestamp: the envelope's `TimeStamp`; the request's own is fine.
    ///   - nonce: the envelope's `Nonce`; the request's own is fine.
    public func seal(
        _ reply: PassiveReply, answering opened: OpenedMessage, createTime: Int64, timestamp: String, nonce: String
    ) throws -> String {
        String(
            decoding: try sealBytes(
                reply, answering: opened, createTime: createTime, timestamp: timestamp, nonce: nonce),
            as: UTF8.self)
    }

    /// ``seal(_:answering:createTime:timestamp:nonce:)`` as UTF-8 bytes, for writing straight to the wire.
    public func sealBytes(
        _ reply: PassiveReply, answering opened: OpenedMessage, createTime: Int64, timestamp: String, nonce: String
    ) throws -> [UInt8] {
        let xml = reply.renderBytes(answering: opened.message, createTime: createTime)
        guard opened.mode != .plain, !PassiveReply.isSuccess(xml) else { return xml }
        guard let cipher else {
            throw WebhookError(
                .encryptionNotConfigured, "an encrypted reply is needed, but no EncodingAESKey is configured")
        }
        return envelopeBytes(
            encrypted: try cipher.encrypt(bytes: xml), timestamp: timestamp, nonce: nonce, isBase64: true)
    }

    /// The encrypted envelope around an already encrypted message, signed with the token.
    public func envelope(encrypted: String, timestamp: String, nonce: String) -> String {
        String(
            decoding: envelopeBytes(encrypted: encrypted, timestamp: timestamp, nonce: nonce, isBase64: false),
            as: UTF8.self)
    }

    /// - Parameter isBase64: true when `encrypted` is this cipher's own base64, written as it is.
    private func envelopeBytes(encrypted: String, timestamp: String, nonce: String, isBase64: Bool) -> [UInt8] {
        let signature = Signature.compute(token: token, timestamp: timestamp, nonce: nonce, encrypted: encrypted)
        var writer = XMLWriter(capacity: encrypted.utf8.count + timestamp.utf8.count + nonce.utf8.count + 160)
        writer.open("xml")
        if isBase64 { writer.digits("Encrypt", encrypted) } else { writer.text("Encrypt", encrypted) }
        writer.digits("MsgSignature", signature)
        writer.open("TimeStamp")
        writer.escaped(timestamp)
        writer.close("TimeStamp")
        writer.text("Nonce", nonce)
        writer.close("xml")
        return writer.bytes
    }

    /// `encrypt_type` names AES, in any letter case, without allocating a lowercased copy.
    private static func isAES(_ value: String) -> Bool {
        let bytes = value.utf8
        guard bytes.count == 3 else { return false }
        return zip(bytes, "aes".utf8).allSatisfy { $0 | 0x20 == $1 }
    }

    private func timestampAndNonce(_ query: WebhookQuery) throws -> (String, String) {
        guard let timestamp = query.timestamp else {
            throw WebhookError(.missingParameter, "the timestamp parameter is missing")
        }
        guard let nonce = query.nonce else {
            throw WebhookError(.missingParameter, "the nonce parameter is missing")
        }
        return (timestamp, nonce)
    }
}
