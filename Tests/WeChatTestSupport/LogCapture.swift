import Logging
import Synchronization

/// Keeps every line logged through its loggers, at every level, for a test to read.
public final class LogCapture: Sendable {
    /// One logged line: its level, message and metadata, as text.
    public struct Line: Sendable {
        public let level: Logger.Level
        public let message: String
        public let metadata: [String: String]

        /// The message and the metadata in one string.
        public var text: String {
            ([message] + metadata.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }).joined(separator: " ")
        }
    }

    private let captured = Mutex<[Line]>([])

    public init() {}

    /// A logger at trace level whose lines this capture keeps.
    public func logger(_ label: String = "test") -> Logger {
        var logger = Logger(label: label) { _ in Handler(capture: self) }
        logger.logLevel = .trace
        return logger
    }

    /// What was logged so far.
    public var lines: [Line] { captured.withLock { $0 } }

    fileprivate func append(_ line: Line) { captured.withLock { $0.append(line) } }

    private struct Handler: LogHandler {
        let capture: LogCapture
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            var all = metadata
            for (key, value) in event.metadata ?? [:] { all[key] = value }
            capture.append(
                Line(
                    level: event.level, message: event.message.description,
                    metadata: all.mapValues { "\($0)" }))
        }
    }
}
