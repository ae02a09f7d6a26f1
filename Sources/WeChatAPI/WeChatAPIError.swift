/// An error from WeChat's API: its `errcode` and `errmsg`, or a transport failure.
public struct WeChatAPIError: Error, Sendable, Hashable, CustomStringConvertible {
    /// WeChat's error code; 0 for transport problems (see ``transport``).
    public let code: Int
    /// WeChat's message, or what went wrong on the way.
    public let message: String
    /// True when the request did not get a usable answer (timeout, connection, not JSON).
    public let transport: Bool
    /// When the call was not made because WeChat's API stopped answering: the Unix time the
    /// client will try again.
    public let pausedUntil: Int64?

    /// Creates an API error with WeChat's code and message.
    public init(code: Int, message: String) {
        self.code = code
        self.message = message
        self.transport = false
        self.pausedUntil = nil
    }

    init(transport message: String, pausedUntil: Int64? = nil) {
        self.code = 0
        self.message = message
        self.transport = true
        self.pausedUntil = pausedUntil
    }

    /// The access token is invalid or expired: refresh once and retry.
    public var isTokenProblem: Bool { [40001, 40014, 42001].contains(code) }
    /// WeChat is busy: back off and retry.
    public var isBusy: Bool { code == -1 }
    /// Outside the 48-hour window, or the member unsubscribed: do not retry.
    public var isOutsideWindow: Bool { code == 45015 }
    /// Too frequent or too many messages: back off.
    public var isRateLimited: Bool { code == 45011 || code == 45047 || code == 45009 }

    public var description: String {
        transport ? "WeChat API unreachable: \(message)" : "WeChat API error \(code): \(message)"
    }
}
