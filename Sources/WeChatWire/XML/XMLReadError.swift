/// Why a document was refused by ``XMLReader``, and where.
public struct XMLReadError: Error, Hashable, CustomStringConvertible {
    /// What kind of problem the reader found.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private let name: String
        private init(_ name: String) { self.name = name }
        public var description: String { name }

        /// The document is larger than ``XMLReader/Limits/maxBytes``.
        public static let tooLarge = Code("tooLarge")
        /// Elements are nested deeper than ``XMLReader/Limits/maxDepth``.
        public static let tooDeep = Code("tooDeep")
        /// The document has more elements than ``XMLReader/Limits/maxElements``.
        public static let tooManyElements = Code("tooManyElements")
        /// The bytes are not valid UTF-8.
        public static let invalidUTF8 = Code("invalidUTF8")
        /// A DOCTYPE or another markup declaration (ENTITY, ELEMENT, ATTLIST, NOTATION) was found.
        /// Such documents are refused whole: this is what makes entity attacks impossible.
        public static let declarationNotAllowed = Code("declarationNotAllowed")
        /// A named entity other than the five predefined ones was referenced.
        public static let unknownEntity = Code("unknownEntity")
        /// A character or entity reference is malformed, or names no Unicode scalar.
        public static let malformedReference = Code("malformedReference")
        /// An end tag does not match the open element.
        public static let mismatchedTag = Code("mismatchedTag")
        /// The document ended inside an element, tag, comment or CDATA section.
        public static let unexpectedEnd = Code("unexpectedEnd")
        /// Markup that is not well-formed (a bad tag name, a stray `<`, a broken attribute).
        public static let malformedMarkup = Code("malformedMarkup")
        /// The document has no root element.
        public static let noRootElement = Code("noRootElement")
        /// Something other than whitespace, comments or processing instructions follows the root element.
        public static let contentAfterRoot = Code("contentAfterRoot")
    }

    /// What kind of problem was found.
    public let code: Code
    /// The byte offset in the document where it was found.
    public let offset: Int
    /// A sentence that says what was wrong.
    public let message: String

    /// Creates an error.
    public init(_ code: Code, at offset: Int, _ message: String) {
        self.code = code
        self.offset = offset
        self.message = message
    }

    public var description: String { "\(message) (at byte \(offset))" }
}
