import ReplyRules
import WeChatWire

/// Runs the staff's conversation examples through a message handler and reports what failed.
public enum ExampleRunner {
    /// One failed expectation.
    public struct Failure: Sendable, CustomStringConvertible {
        /// Where the step was written.
        public var source: SourceLocation
        /// What went wrong, in Chinese.
        public var message: String

        public var description: String { "\(source): \(message)" }
    }

    /// The openid an example member uses: each example is its own member, so their
    /// conversations never mix.
    public static func openid(forExample index: Int) -> String {
        "example-member-\(index + 1)"
    }

    /// The openids of the examples that play an approved member.
    public static func memberOpenIDs(_ examples: [ConversationExample]) -> Set<String> {
        Set(examples.enumerated().filter(\.element.asMember).map { openid(forExample: $0.offset) })
    }

    /// Runs `examples` through `handler`, which should see the members from ``memberOpenIDs(_:)``
    /// as members. Returns the failures; an empty list means every example passed.
    public static func run(_ examples: [ConversationExample], handler: any MessageHandler, startTime: Int64) async
        -> [Failure]
    {
        var failures: [Failure] = []
        var messageId: UInt64 = 1
        var time = startTime
        for (index, example) in examples.enumerated() {
            let sender = openid(forExample: index)
            for (stepIndex, step) in example.steps.enumerated() {
                time += 1
                messageId += 1
                let message = step.input.message(
                    account: "gh_example", sender: sender, createTime: time, msgId: messageId)
                let outcome = await handler.handle(message)
                let text = visibleText(of: outcome.replies)
                let label = example.steps.count > 1 ? "示例「\(example.name)」第 \(stepIndex + 1) 步" : "示例「\(example.name)」"
                let shown = text.isEmpty ? "（没有回复）" : "「\(text.prefix(200))」"
                for expected in step.expect where !text.contains(expected) {
                    failures.append(Failure(source: step.source, message: "\(label)：回复中没有「\(expected)」。实际回复：\(shown)"))
                }
                for unexpected in step.expectNot where text.contains(unexpected) {
                    failures.append(
                        Failure(source: step.source, message: "\(label)：回复中不应出现「\(unexpected)」。实际回复：\(shown)"))
                }
                if step.expectSilence, !outcome.replies.isEmpty {
                    failures.append(Failure(source: step.source, message: "\(label)：应当没有回复。实际回复：\(shown)"))
                }
            }
        }
        return failures
    }
}
