/// Writes the small XML documents WeChat expects, straight into a byte buffer.
///
/// Text goes into CDATA sections; a `]]>` inside a value is split across two sections so that
/// it survives. Numbers are written bare, as WeChat writes them.
public struct XMLWriter: Sendable {
    /// The bytes written so far.
    public private(set) var bytes: [UInt8]

    /// Creates an empty writer.
    public init(capacity: Int = 512) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    /// The document written so far, as a string.
    public var string: String { String(decoding: bytes, as: UTF8.self) }

    /// Writes `<name>`.
    public mutating func open(_ name: String) {
        bytes.append(UInt8(ascii: "<"))
        append(name)
        bytes.append(UInt8(ascii: ">"))
    }

    /// Appends `text`'s UTF-8 bytes in one copy when they are stored contiguously (as they are
    /// for literals and native strings), which the generic append does not assume.
    @inline(__always)
    private mutating func append(_ text: String) {
        let copied: Void? = text.utf8.withContiguousStorageIfAvailable { bytes.append(contentsOf: $0) }
        if copied == nil { bytes.append(contentsOf: text.utf8) }
    }

    /// Writes `</name>`.
    public mutating func close(_ name: String) {
        bytes.append(UInt8(ascii: "<"))
        bytes.append(UInt8(ascii: "/"))
        append(name)
        bytes.append(UInt8(ascii: ">"))
    }

    /// Writes `<name><![CDATA[value]]></name>`.
    public mutating func text(_ name: String, _ value: String) {
        open(name)
        cdata(value)
        close(name)
    }

    /// Writes `<name><![CDATA[value]]></name>` for a value of base64 or hex digits, which
    /// holds nothing XML forbids and no `]`, so it is copied without looking at it.
    mutating func digits(_ name: String, _ value: String) {
        open(name)
        append("<![CDATA[")
        append(value)
        append("]]>")
        close(name)
    }

    /// Writes `<name>value</name>` with a bare number.
    public mutating func number<Number: BinaryInteger>(_ name: String, _ value: Number) {
        open(name)
        if let small = Int64(exactly: value) {
            decimal(small)
        } else {
            bytes.append(contentsOf: String(value).utf8)
        }
        close(name)
    }

    /// Writes `value`'s decimal digits, without making a string of them first.
    private mutating func decimal(_ value: Int64) {
        if value < 0 { bytes.append(UInt8(ascii: "-")) }
        var magnitude = value.magnitude
        var digits: (UInt64, UInt64) = (0, 0)  // up to 20 digits, least significant first
        var count = 0
        withUnsafeMutableBytes(of: &digits) { buffer in
            repeat {
                buffer[count] = UInt8(ascii: "0") + UInt8(magnitude % 10)
                magnitude /= 10
                count += 1
            } while magnitude > 0 && count < 16
        }
        if magnitude > 0 {  // more than 16 digits: rare enough to take the slow way
            bytes.append(contentsOf: String(value.magnitude).utf8)
            return
        }
        withUnsafeBytes(of: &digits) { buffer in
            for index in stride(from: count - 1, through: 0, by: -1) { bytes.append(buffer[index]) }
        }
    }

    /// Writes `<name>value</name>` with a bare decimal number.
    public mutating func number(_ name: String, _ value: Double) {
        open(name)
        bytes.append(contentsOf: value.description.utf8)
        close(name)
    }

    /// Writes a CDATA section holding `value`, splitting it where it contains `]]>`, without the
    /// characters XML forbids.
    public mutating func cdata(_ value: String) {
        append("<![CDATA[")
        var value = XMLCharacters.removingDisallowed(value)
        value.withUTF8 { text in
            // Most values have no "]" at all: copy them whole.
            guard text.contains(UInt8(ascii: "]")) else {
                bytes.append(contentsOf: text)
                return
            }
            var start = 0
            var index = 0
            while index + 2 < text.count {
                if text[index] == UInt8(ascii: "]"), text[index + 1] == UInt8(ascii: "]"),
                    text[index + 2] == UInt8(ascii: ">")
                {
                    // "]]>" would end the section: close it between "]]" and ">" and reopen.
                    bytes.append(contentsOf: UnsafeBufferPointer(rebasing: text[start..<(index + 2)]))
                    append("]]><![CDATA[")
                    start = index + 2
                    index += 2
                } else {
                    index += 1
                }
            }
            bytes.append(contentsOf: UnsafeBufferPointer(rebasing: text[start...]))
        }
        append("]]>")
    }

    /// Writes `value` as character data, escaping `&`, `<` and `>`, without the characters XML
    /// forbids.
    public mutating func escaped(_ value: String) {
        for byte in XMLCharacters.removingDisallowed(value).utf8 {
            switch byte {
            case UInt8(ascii: "&"): bytes.append(contentsOf: "&amp;".utf8)
            case UInt8(ascii: "<"): bytes.append(contentsOf: "&lt;".utf8)
            case UInt8(ascii: ">"): bytes.append(contentsOf: "&gt;".utf8)
            default: bytes.append(byte)
            }
        }
    }

    /// An attribute's value, escaped so that it reads back as it is: tabs and line breaks as
    /// character references (a reader turns literal ones into spaces).
    mutating func attributeValue(_ value: String) {
        for byte in XMLCharacters.removingDisallowed(value).utf8 {
            switch byte {
            case UInt8(ascii: "&"): bytes.append(contentsOf: "&amp;".utf8)
            case UInt8(ascii: "<"): bytes.append(contentsOf: "&lt;".utf8)
            case UInt8(ascii: ">"): bytes.append(contentsOf: "&gt;".utf8)
            case UInt8(ascii: "\""): bytes.append(contentsOf: "&quot;".utf8)
            case 0x09: bytes.append(contentsOf: "&#9;".utf8)
            case 0x0A: bytes.append(contentsOf: "&#10;".utf8)
            case 0x0D: bytes.append(contentsOf: "&#13;".utf8)
            default: bytes.append(byte)
            }
        }
    }

    /// Writes an element and its children as they are, for kept raw fields.
    public mutating func element(_ element: XMLElement) {
        if element.attributes.isEmpty {
            open(element.name)
        } else {
            bytes.append(UInt8(ascii: "<"))
            append(element.name)
            for attribute in element.attributes {
                bytes.append(UInt8(ascii: " "))
                append(attribute.name)
                bytes.append(contentsOf: "=\"".utf8)
                attributeValue(attribute.value)
                bytes.append(UInt8(ascii: "\""))
            }
            bytes.append(UInt8(ascii: ">"))
        }
        if element.children.isEmpty {
            if !element.text.isEmpty { cdata(element.text) }
        } else {
            if !element.text.isEmpty { cdata(element.text) }
            for child in element.children { self.element(child) }
        }
        close(element.name)
    }
}
