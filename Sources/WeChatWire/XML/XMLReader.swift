/// A small, strict XML reader for WeChat's message documents.
///
/// It is safe against entity attacks by construction: it has no DTD support at all, so a
/// document with a DOCTYPE or any other markup declaration is refused before anything is
/// expanded, and only the five predefined entities and numeric character references are
/// resolved. It reads the document in one pass over its bytes, without recursion, so its
/// time is linear in the input and its stack use is constant.
///
/// What it accepts beyond strict XML: raw control characters in text (WeChat passes members'
/// text through), and numeric references to any Unicode scalar.
public struct XMLReader: Sendable {
    /// Bounds on what the reader accepts.
    public struct Limits: Sendable, Hashable {
        /// The largest document, in bytes.
        public var maxBytes: Int
        /// The deepest nesting of elements; the root element is depth 1.
        public var maxDepth: Int
        /// The most elements in one document.
        public var maxElements: Int

        /// Creates limits. The defaults fit every WeChat message with a wide margin.
        public init(maxBytes: Int = 64 * 1024, maxDepth: Int = 16, maxElements: Int = 2048) {
            self.maxBytes = maxBytes
            self.maxDepth = maxDepth
            self.maxElements = maxElements
        }
    }

    /// The limits this reader enforces.
    public var limits: Limits

    /// Creates a reader with the given limits.
    public init(limits: Limits = Limits()) {
        self.limits = limits
    }

    /// Reads a document and returns its root element.
    ///
    /// - Throws: ``XMLReadError`` saying what was wrong and where.
    public func read(_ document: String) throws -> XMLElement {
        var document = document
        return try document.withUTF8 { try read(bytes: $0) }
    }

    /// Reads a document from its UTF-8 bytes and returns its root element.
    ///
    /// - Throws: ``XMLReadError`` saying what was wrong and where.
    public func read(_ bytes: [UInt8]) throws -> XMLElement {
        try bytes.withUnsafeBufferPointer { try read(bytes: $0) }
    }

    /// Reads a document from a buffer of UTF-8 bytes and returns its root element.
    ///
    /// - Throws: ``XMLReadError`` saying what was wrong and where.
    public func read(bytes: UnsafeBufferPointer<UInt8>) throws -> XMLElement {
        guard bytes.count <= limits.maxBytes else {
            throw XMLReadError(
                .tooLarge, at: limits.maxBytes,
                "document of \(bytes.count) bytes is over the limit of \(limits.maxBytes) bytes")
        }
        if let bad = UTF8Validation.firstInvalidByte(in: bytes) {
            throw XMLReadError(.invalidUTF8, at: bad, "invalid UTF-8")
        }
        var scanner = Scanner(bytes: bytes, limits: limits)
        return try scanner.document()
    }
}

// MARK: - The scanner

private let lessThan = UInt8(ascii: "<")
private let greaterThan = UInt8(ascii: ">")
private let slash = UInt8(ascii: "/")
private let ampersand = UInt8(ascii: "&")
private let semicolon = UInt8(ascii: ";")
private let equals = UInt8(ascii: "=")
private let question = UInt8(ascii: "?")
private let exclamation = UInt8(ascii: "!")
private let hyphen = UInt8(ascii: "-")
private let doubleQuote = UInt8(ascii: "\"")
private let singleQuote = UInt8(ascii: "'")

@inline(__always)
private func isWhitespace(_ byte: UInt8) -> Bool {
    byte == 0x20 || byte == 0x0A || byte == 0x09 || byte == 0x0D
}

/// Bytes that end a tag or attribute name.
@inline(__always)
private func endsName(_ byte: UInt8) -> Bool {
    isWhitespace(byte) || byte == slash || byte == greaterThan || byte == equals || byte == lessThan
        || byte == doubleQuote || byte == singleQuote || byte == ampersand
}

@inline(__always)
private func canStartName(_ byte: UInt8) -> Bool {
    (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A) || byte == UInt8(ascii: "_")
        || byte == UInt8(ascii: ":") || byte >= 0x80
}

/// The text gathered for one open element. Most elements have a single run of text or one
/// CDATA section, which is kept as a range into the input and copied only once.
private enum TextAccumulator {
    case empty
    case slice(Range<Int>)
    case buffer([UInt8])

    mutating func append(_ range: Range<Int>, from bytes: UnsafeBufferPointer<UInt8>) {
        guard !range.isEmpty else { return }
        switch self {
        case .empty:
            self = .slice(range)
        case .slice(let existing):
            if existing.upperBound == range.lowerBound {
                self = .slice(existing.lowerBound..<range.upperBound)
            } else {
                var buffer = [UInt8](bytes[existing])
                buffer.append(contentsOf: bytes[range])
                self = .buffer(buffer)
            }
        case .buffer(var buffer):
            self = .empty
            buffer.append(contentsOf: bytes[range])
            self = .buffer(buffer)
        }
    }

    mutating func append(scalar: Unicode.Scalar, from bytes: UnsafeBufferPointer<UInt8>) {
        var buffer: [UInt8]
        switch self {
        case .empty: buffer = []
        case .slice(let existing): buffer = [UInt8](bytes[existing])
        case .buffer(let existing): buffer = existing
        }
        self = .empty
        UTF8.encode(scalar) { buffer.append($0) }
        self = .buffer(buffer)
    }

    /// The text, without the characters XML 1.0 forbids (they may come in raw or as `&#1;`).
    func string(in bytes: UnsafeBufferPointer<UInt8>) -> String {
        switch self {
        case .empty:
            return ""
        case .slice(let range):
            let slice = UnsafeBufferPointer(rebasing: bytes[range])
            let text = String(decoding: slice, as: UTF8.self)
            return XMLCharacters.containsDisallowed(slice) ? XMLCharacters.removingDisallowed(text) : text
        case .buffer(let buffer):
            return XMLCharacters.removingDisallowed(String(decoding: buffer, as: UTF8.self))
        }
    }
}

private struct OpenElement {
    var nameRange: Range<Int>
    var name: String
    var attributes: [XMLAttribute]
    var text: TextAccumulator = .empty
    var children: [XMLElement] = []
}

private struct Scanner {
    let bytes: UnsafeBufferPointer<UInt8>
    let limits: XMLReader.Limits
    var position = 0
    var elementCount = 0

    init(bytes: UnsafeBufferPointer<UInt8>, limits: XMLReader.Limits) {
        self.bytes = bytes
        self.limits = limits
    }

    var atEnd: Bool { position >= bytes.count }

    func peek(_ offset: Int = 0) -> UInt8? {
        let index = position + offset
        return index < bytes.count ? bytes[index] : nil
    }

    func hasPrefix(_ literal: StaticString, at index: Int) -> Bool {
        let count = literal.utf8CodeUnitCount
        guard index + count <= bytes.count else { return false }
        let start = literal.utf8Start
        for offset in 0..<count where bytes[index + offset] != start[offset] {
            return false
        }
        return true
    }

    /// True when the bytes at `index` spell `word` in any case (ASCII only).
    func hasPrefixIgnoringCase(_ word: StaticString, at index: Int) -> Bool {
        let count = word.utf8CodeUnitCount
        guard index + count <= bytes.count else { return false }
        let start = word.utf8Start
        for offset in 0..<count where bytes[index + offset] | 0x20 != start[offset] | 0x20 {
            return false
        }
        return true
    }

    mutating func skipWhitespace() {
        while position < bytes.count, isWhitespace(bytes[position]) {
            position += 1
        }
    }

    /// Moves past the next occurrence of `terminator`, or throws `unexpectedEnd` naming `what`.
    mutating func skip(past terminator: StaticString, what: String) throws {
        let start = position
        let first = terminator.utf8Start[0]
        while position < bytes.count {
            if bytes[position] == first, hasPrefix(terminator, at: position) {
                position += terminator.utf8CodeUnitCount
                return
            }
            position += 1
        }
        throw XMLReadError(.unexpectedEnd, at: start, "unterminated \(what)")
    }

    // MARK: Document

    mutating func document() throws -> XMLElement {
        if hasPrefix("\u{FEFF}", at: 0) {
            position = 3
        }
        while true {
            skipWhitespace()
            guard let byte = peek() else {
                throw XMLReadError(.noRootElement, at: position, "no root element")
            }
            guard byte == lessThan else {
                throw XMLReadError(.malformedMarkup, at: position, "text before the root element")
            }
            if try skipMiscellany() { continue }
            break
        }
        let root = try element()
        while true {
            skipWhitespace()
            if atEnd { return root }
            guard peek() == lessThan, try skipMiscellany() else {
                throw XMLReadError(.contentAfterRoot, at: position, "content after the root element")
            }
        }
    }

    /// Skips a comment or processing instruction at `<`, returning false if the markup is an
    /// element. Refuses declarations.
    mutating func skipMiscellany() throws -> Bool {
        if peek(1) == question {
            position += 2
            try skip(past: "?>", what: "processing instruction")
            return true
        }
        if peek(1) == exclamation {
            if hasPrefix("<!--", at: position) {
                position += 4
                try skip(past: "-->", what: "comment")
                return true
            }
            throw declarationError()
        }
        return false
    }

    func declarationError() -> XMLReadError {
        let index = position + 2
        for keyword: StaticString in ["DOCTYPE", "ENTITY", "ELEMENT", "ATTLIST", "NOTATION"]
        where hasPrefixIgnoringCase(keyword, at: index) {
            return XMLReadError(.declarationNotAllowed, at: position, "\(keyword) declarations are not allowed")
        }
        if hasPrefix("<![CDATA[", at: position) {
            return XMLReadError(.malformedMarkup, at: position, "CDATA section outside an element")
        }
        return XMLReadError(.malformedMarkup, at: position, "unexpected markup starting with <!")
    }

    // MARK: Elements

    mutating func name(what: String) throws -> Range<Int> {
        let start = position
        guard let first = peek(), canStartName(first) else {
            if atEnd { throw XMLReadError(.unexpectedEnd, at: position, "document ends inside a tag") }
            throw XMLReadError(.malformedMarkup, at: position, "invalid \(what) name")
        }
        position += 1
        while position < bytes.count, !endsName(bytes[position]) {
            position += 1
        }
        return start..<position
    }

    func string(_ range: Range<Int>) -> String {
        String(decoding: UnsafeBufferPointer(rebasing: bytes[range]), as: UTF8.self)
    }

    /// Reads a start tag after its `<`. Returns the open element and whether it was empty (`/>`).
    mutating func startTag() throws -> (OpenElement, selfClosing: Bool) {
        elementCount += 1
        guard elementCount <= limits.maxElements else {
            throw XMLReadError(.tooManyElements, at: position, "more than \(limits.maxElements) elements")
        }
        let nameRange = try name(what: "element")
        var attributes: [XMLAttribute] = []
        while true {
            let hadWhitespace = peek().map(isWhitespace) ?? false
            skipWhitespace()
            guard let byte = peek() else {
                throw XMLReadError(.unexpectedEnd, at: position, "document ends inside a tag")
            }
            if byte == greaterThan {
                position += 1
                return (OpenElement(nameRange: nameRange, name: string(nameRange), attributes: attributes), false)
            }
            if byte == slash {
                guard peek(1) == greaterThan else {
                    throw XMLReadError(.malformedMarkup, at: position, "expected > after / in a tag")
                }
                position += 2
                return (OpenElement(nameRange: nameRange, name: string(nameRange), attributes: attributes), true)
            }
            guard hadWhitespace else {
                throw XMLReadError(.malformedMarkup, at: position, "expected whitespace before an attribute")
            }
            attributes.append(try attribute())
        }
    }

    mutating func attribute() throws -> XMLAttribute {
        let nameRange = try name(what: "attribute")
        skipWhitespace()
        guard peek() == equals else {
            throw XMLReadError(.malformedMarkup, at: position, "expected = after an attribute name")
        }
        position += 1
        skipWhitespace()
        guard let quote = peek(), quote == doubleQuote || quote == singleQuote else {
            throw XMLReadError(.malformedMarkup, at: position, "attribute value must be quoted")
        }
        position += 1
        var value = TextAccumulator.empty
        var runStart = position
        while true {
            guard let byte = peek() else {
                throw XMLReadError(.unexpectedEnd, at: position, "document ends inside an attribute value")
            }
            if byte == quote {
                value.append(runStart..<position, from: bytes)
                position += 1
                return XMLAttribute(name: string(nameRange), value: value.string(in: bytes))
            }
            if byte == lessThan {
                throw XMLReadError(.malformedMarkup, at: position, "< in an attribute value")
            }
            if byte == ampersand {
                value.append(runStart..<position, from: bytes)
                value.append(scalar: try reference(), from: bytes)
                runStart = position
                continue
            }
            position += 1
        }
    }

    /// Reads the root element and everything inside it, with an explicit stack.
    mutating func element() throws -> XMLElement {
        position += 1  // past "<"
        let (root, selfClosing) = try startTag()
        if selfClosing {
            return finish(root)
        }
        var stack: [OpenElement] = [root]
        stack.reserveCapacity(4)
        var runStart = position
        while true {
            guard position < bytes.count else {
                throw XMLReadError(
                    .unexpectedEnd, at: position, "document ends inside <\(stack[stack.count - 1].name)>")
            }
            let byte = bytes[position]
            if byte == ampersand {
                stack[stack.count - 1].text.append(runStart..<position, from: bytes)
                let scalar = try reference()
                stack[stack.count - 1].text.append(scalar: scalar, from: bytes)
                runStart = position
                continue
            }
            guard byte == lessThan else {
                position += 1
                continue
            }
            stack[stack.count - 1].text.append(runStart..<position, from: bytes)
            switch peek(1) {
            case slash:
                position += 2
                let closing = try name(what: "element")
                skipWhitespace()
                guard peek() == greaterThan else {
                    if atEnd { throw XMLReadError(.unexpectedEnd, at: position, "document ends inside a tag") }
                    throw XMLReadError(.malformedMarkup, at: position, "expected > to end the end tag")
                }
                position += 1
                let open = stack.removeLast()
                guard bytes[closing].elementsEqual(bytes[open.nameRange]) else {
                    throw XMLReadError(
                        .mismatchedTag, at: closing.lowerBound,
                        "</\(string(closing))> does not close <\(open.name)>")
                }
                let finished = finish(open)
                if stack.isEmpty {
                    return finished
                }
                if stack.count == 1, stack[0].children.isEmpty {
                    stack[0].children.reserveCapacity(12)  // a message's fields, without regrowing
                }
                stack[stack.count - 1].children.append(finished)
            case exclamation:
                if hasPrefix("<![CDATA[", at: position) {
                    let start = position + 9
                    position = start
                    try skip(past: "]]>", what: "CDATA section")
                    stack[stack.count - 1].text.append(start..<(position - 3), from: bytes)
                } else if hasPrefix("<!--", at: position) {
                    position += 4
                    try skip(past: "-->", what: "comment")
                } else {
                    throw declarationError()
                }
            case question:
                position += 2
                try skip(past: "?>", what: "processing instruction")
            default:
                position += 1
                guard stack.count < limits.maxDepth else {
                    throw XMLReadError(.tooDeep, at: position - 1, "elements nested deeper than \(limits.maxDepth)")
                }
                let (child, selfClosing) = try startTag()
                if selfClosing {
                    stack[stack.count - 1].children.append(finish(child))
                } else {
                    stack.append(child)
                }
            }
            runStart = position
        }
    }

    func finish(_ open: OpenElement) -> XMLElement {
        var text = open.text.string(in: bytes)
        // Between child elements, whitespace is layout. Judged after forbidden characters are
        // dropped, so that "   \u{1E}" reads as the writer will write it back: as nothing.
        if !open.children.isEmpty, text.utf8.allSatisfy(isWhitespace) {
            text = ""
        }
        return XMLElement(name: open.name, attributes: open.attributes, text: text, children: open.children)
    }

    // MARK: References

    /// Resolves a reference at `&`, moving past its `;`.
    mutating func reference() throws -> Unicode.Scalar {
        let start = position
        position += 1
        let maxLength = 12
        var end = position
        while end < bytes.count, end - position <= maxLength, bytes[end] != semicolon {
            if bytes[end] == lessThan || bytes[end] == ampersand || isWhitespace(bytes[end]) { break }
            end += 1
        }
        guard end < bytes.count, bytes[end] == semicolon else {
            throw XMLReadError(.malformedReference, at: start, "& that does not start a reference (write &amp;)")
        }
        let body = position..<end
        position = end + 1
        if let first = body.first.map({ bytes[$0] }), first == UInt8(ascii: "#") {
            return try characterReference(body.dropFirst(), at: start)
        }
        switch string(body) {
        case "lt": return "<"
        case "gt": return ">"
        case "amp": return "&"
        case "quot": return "\""
        case "apos": return "'"
        case let name:
            if name.isEmpty {
                throw XMLReadError(.malformedReference, at: start, "empty reference &;")
            }
            throw XMLReadError(.unknownEntity, at: start, "unknown entity &\(name);")
        }
    }

    func characterReference(_ digits: Range<Int>, at start: Int) throws -> Unicode.Scalar {
        var range = digits
        var radix: UInt32 = 10
        if let first = range.first, bytes[first] == UInt8(ascii: "x") {
            radix = 16
            range = range.dropFirst()
        }
        guard !range.isEmpty, range.count <= 8 else {
            throw XMLReadError(.malformedReference, at: start, "malformed character reference")
        }
        var value: UInt32 = 0
        for index in range {
            let byte = bytes[index]
            let digit: UInt32
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt32(byte - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f") where radix == 16: digit = UInt32(byte - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F") where radix == 16: digit = UInt32(byte - UInt8(ascii: "A") + 10)
            default:
                throw XMLReadError(.malformedReference, at: start, "malformed character reference")
            }
            value = value * radix + digit
        }
        guard let scalar = Unicode.Scalar(value) else {
            throw XMLReadError(
                .malformedReference, at: start,
                "character reference to U+\(String(value, radix: 16, uppercase: true)), which is not a Unicode scalar")
        }
        return scalar
    }
}
