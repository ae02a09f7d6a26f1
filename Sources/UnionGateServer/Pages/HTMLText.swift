import Mustache

/// The one escaper for every HTML page the gateway writes (the console, the member-facing
/// hotline page, the QR poster): text becomes safe in an element's content and in a quoted
/// attribute value.
///
/// It works on Unicode scalars, not on Swift's `Character`s. A `"` followed by a combining mark
/// (U+0301) is one `Character` that is not `"`, so an escaper that compares characters lets it
/// through, and the browser still reads the `"` as the end of the attribute. In UTF-8 every
/// byte below 0x80 is that ASCII scalar and never part of another, so the bytes are compared.
public enum HTMLText {
    /// The name of the mustache content type that escapes with `escape(_:)`; every template is
    /// loaded with it (`PageLibrary`).
    static let contentTypeName = "UNIONGATE_HTML"

    /// `&`, `<`, `>`, `"` and `'` as character references; NUL (which the HTML parser drops or
    /// replaces) as U+FFFD. Everything else is kept.
    public static func escape(_ text: String) -> String {
        let utf8 = text.utf8
        guard utf8.contains(where: needsEscape) else { return text }
        var out: [UInt8] = []
        out.reserveCapacity(utf8.count + 32)
        for byte in utf8 {
            switch byte {
            case UInt8(ascii: "&"): out.append(contentsOf: "&amp;".utf8)
            case UInt8(ascii: "<"): out.append(contentsOf: "&lt;".utf8)
            case UInt8(ascii: ">"): out.append(contentsOf: "&gt;".utf8)
            case UInt8(ascii: "\""): out.append(contentsOf: "&quot;".utf8)
            case UInt8(ascii: "'"): out.append(contentsOf: "&#39;".utf8)
            case 0: out.append(contentsOf: [0xEF, 0xBF, 0xBD])
            default: out.append(byte)
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    @inline(__always)
    private static func needsEscape(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "&"), UInt8(ascii: "<"), UInt8(ascii: ">"), UInt8(ascii: "\""), UInt8(ascii: "'"), 0: true
        default: false
        }
    }

    /// The escaper as a mustache content type: `{{value}}` goes through `escape(_:)`.
    struct ContentType: MustacheContentType {
        func escapeText(_ text: String) -> String { HTMLText.escape(text) }
    }

    /// Registers the content type with the mustache library, once per process.
    static let registered: Bool = {
        MustacheContentTypes.register(ContentType(), named: contentTypeName)
        return true
    }()
}
