import Testing

@testable import WeChatWire

@Suite("XML reader")
struct XMLReaderTests {
    let reader = XMLReader()

    func code(of document: String, reader: XMLReader = XMLReader()) -> XMLReadError.Code? {
        do {
            _ = try reader.read(document)
            return nil
        } catch let error as XMLReadError {
            return error.code
        } catch {
            return nil
        }
    }

    @Test func readsCDATAAndBareText() throws {
        let root = try reader.read("<xml><A><![CDATA[你好 <b>]]></A><B>123</B><C></C><D/></xml>")
        #expect(root.name == "xml")
        #expect(root.text(of: "A") == "你好 <b>")
        #expect(root.text(of: "B") == "123")
        #expect(root.text(of: "C") == "")
        #expect(root.text(of: "D") == "")
        #expect(root.children.map(\.name) == ["A", "B", "C", "D"])
        #expect(root.text == "")
    }

    @Test func dropsTheCharactersXMLForbidsRawOrAsReferences() throws {
        let root = try reader.read(
            "<xml><A><![CDATA[a\u{1}b\u{1B}[31mc\u{FFFE}d]]></A><B>x&#1;y&#x1b;z\tw</B><C>正常</C></xml>")
        #expect(root.text(of: "A") == "ab[31mcd")
        #expect(root.text(of: "B") == "xyz\tw")
        #expect(root.text(of: "C") == "正常")
    }

    /// Found by the fuzzer: text of spaces and a forbidden character between child elements read
    /// as spaces, which the writer wrote back and the reader then dropped as layout.
    @Test func whitespaceBetweenChildrenIsLayoutAfterForbiddenCharactersAreDropped() throws {
        let root = try XMLReader().read("<xml><a><b/>   \u{1E}</a><c><d/> &#x1E; </c><e><f/> x </e></xml>")
        #expect(root.child("a")?.text == "")
        #expect(root.child("c")?.text == "")
        #expect(root.child("e")?.text == " x ")
        let message = try InboundMessage.parse(
            "<xml><ToUserName>gh</ToUserName><FromUserName>o</FromUserName><CreateTime>1</CreateTime><MsgType>new</MsgType><K><l/>  \u{1E}</K></xml>"
        )
        #expect(try InboundMessage.parse(message.xml()) == message)
    }

    /// Found by the fuzzer: the fields of an unknown kind of message were written back without
    /// their attributes.
    @Test func keptFieldsKeepTheirAttributes() throws {
        let message = try InboundMessage.parse(
            "<xml><ToUserName>gh</ToUserName><FromUserName>o</FromUserName><CreateTime>1</CreateTime><MsgType>new</MsgType><K a=\"1&amp;&quot;\" b='\t'><l n=\"\"/></K></xml>"
        )
        #expect(try InboundMessage.parse(message.xml()) == message)
    }

    @Test func resolvesPredefinedEntitiesAndCharacterReferences() throws {
        let root = try reader.read("<xml><A>&lt;&gt;&amp;&quot;&apos; &#20013;&#x6587;&#x1F600;</A></xml>")
        #expect(root.text(of: "A") == "<>&\"' 中文😀")
    }

    @Test func joinsSplitCDATASections() throws {
        let root = try reader.read("<xml><A><![CDATA[a]]]]><![CDATA[>b]]></A></xml>")
        #expect(root.text(of: "A") == "a]]>b")
    }

    @Test func toleratesControlCharactersInContentAndDropsThem() throws {
        let root = try reader.read("<xml><Content><![CDATA[a\u{01}b\u{1B}c]]></Content><X>\u{07}</X></xml>")
        #expect(root.text(of: "Content") == "abc")
        #expect(root.text(of: "X") == "")
    }

    @Test func skipsDeclarationCommentsInstructionsAndBOM() throws {
        let document =
            "\u{FEFF}<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!-- hi -->\n<xml><!-- c --><A>1<?pi x?>2</A></xml>\n<!-- end -->\n"
        let root = try reader.read(document)
        #expect(root.text(of: "A") == "12")
    }

    @Test func readsNestedElementsAndAttributes() throws {
        let root = try reader.read(
            "<xml a=\"1\" b='x&amp;y'><SendPicsInfo><Count>2</Count><PicList><item><PicMd5Sum>a</PicMd5Sum></item><item><PicMd5Sum>b</PicMd5Sum></item></PicList></SendPicsInfo></xml>"
        )
        #expect(root.attributes == [XMLAttribute(name: "a", value: "1"), XMLAttribute(name: "b", value: "x&y")])
        let list = try #require(root.child("SendPicsInfo")?.child("PicList"))
        #expect(list.children.compactMap { $0.text(of: "PicMd5Sum") } == ["a", "b"])
    }

    @Test func keepsWhitespaceOfLeavesAndDropsItBetweenChildren() throws {
        let root = try reader.read("<xml>\n  <A> x </A>\n  <B>\n</B>\n</xml>")
        #expect(root.text == "")
        #expect(root.text(of: "A") == " x ")
        #expect(root.text(of: "B") == "\n")
    }

    @Test func refusesExternalEntityDeclaration() {
        let xxe = """
            <?xml version="1.0"?>
            <!DOCTYPE xml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
            <xml><Content>&xxe;</Content></xml>
            """
        #expect(code(of: xxe) == .declarationNotAllowed)
    }

    @Test func refusesBillionLaughs() {
        var document = "<?xml version=\"1.0\"?>\n<!DOCTYPE lolz [\n<!ENTITY lol \"lol\">\n"
        for level in 1...9 {
            let previous = level == 1 ? "lol" : "lol\(level - 1)"
            document += "<!ENTITY lol\(level) \"" + String(repeating: "&\(previous);", count: 10) + "\">\n"
        }
        document += "]>\n<xml><Content>&lol9;</Content></xml>"
        #expect(code(of: document) == .declarationNotAllowed)
    }

    @Test func refusesDeclarationsInsideElementsInAnyCase() {
        #expect(code(of: "<xml><!doctype x></xml>") == .declarationNotAllowed)
        #expect(code(of: "<xml><!ENTITY a \"b\"></xml>") == .declarationNotAllowed)
    }

    @Test func refusesUndeclaredEntity() {
        #expect(code(of: "<xml><Content>a &nbsp; b</Content></xml>") == .unknownEntity)
    }

    @Test func refusesMalformedReferences() {
        #expect(code(of: "<xml><A>fish & chips</A></xml>") == .malformedReference)
        #expect(code(of: "<xml><A>&#xD800;</A></xml>") == .malformedReference)
        #expect(code(of: "<xml><A>&#x110000;</A></xml>") == .malformedReference)
        #expect(code(of: "<xml><A>&#12a;</A></xml>") == .malformedReference)
        #expect(code(of: "<xml><A>&#;</A></xml>") == .malformedReference)
        #expect(code(of: "<xml><A>&;</A></xml>") == .malformedReference)
    }

    @Test func refusesTwoMebibytesOfJunkBeforeReadingIt() throws {
        let junk = [UInt8](repeating: UInt8(ascii: "<"), count: 2 * 1024 * 1024)
        let error = try #require(throws: XMLReadError.self) { try reader.read(junk) }
        #expect(error.code == .tooLarge)
        #expect(error.description.contains("over the limit"))
    }

    @Test func refusesInvalidUTF8AndSaysWhere() throws {
        let cases: [[UInt8]] = [
            Array("<xml><A>".utf8) + [0xFF] + Array("</A></xml>".utf8),  // never valid
            Array("<xml><A>".utf8) + [0xC0, 0xAF] + Array("</A></xml>".utf8),  // overlong
            Array("<xml><A>".utf8) + [0xED, 0xA0, 0x80] + Array("</A></xml>".utf8),  // surrogate
            Array("<xml><A>".utf8) + [0xF4, 0x90, 0x80, 0x80] + Array("</A></xml>".utf8),  // > U+10FFFF
            Array("<xml><A>".utf8) + [0xE4, 0xB8] + Array("</A></xml>".utf8),  // truncated
        ]
        for bytes in cases {
            let error = try #require(throws: XMLReadError.self) { try reader.read(bytes) }
            #expect(error.code == .invalidUTF8)
            #expect(error.offset == 8)
        }
    }

    @Test func refusesUnbalancedAndUnfinishedDocuments() {
        #expect(code(of: "<xml><A>1</B></xml>") == .mismatchedTag)
        #expect(code(of: "<xml><A>1</A>") == .unexpectedEnd)
        #expect(code(of: "<xml><A><![CDATA[1</A></xml>") == .unexpectedEnd)
        #expect(code(of: "<xml><!-- x </xml>") == .unexpectedEnd)
        #expect(code(of: "<xml><A") == .unexpectedEnd)
        #expect(code(of: "<xml></xml><xml></xml>") == .contentAfterRoot)
        #expect(code(of: "<xml></xml>trailing") == .contentAfterRoot)
        #expect(code(of: "") == .noRootElement)
        #expect(code(of: "  <!-- only -->  ") == .noRootElement)
        #expect(code(of: "hello") == .malformedMarkup)
        #expect(code(of: "<xml><1A>x</1A></xml>") == .malformedMarkup)
        #expect(code(of: "<xml a=1></xml>") == .malformedMarkup)
        #expect(code(of: "<xml><A b=\"<\"></A></xml>") == .malformedMarkup)
    }

    @Test func enforcesDepthAndElementLimits() {
        let deep = String(repeating: "<a>", count: 17) + String(repeating: "</a>", count: 17)
        #expect(code(of: deep) == .tooDeep)
        let justDeepEnough = String(repeating: "<a>", count: 16) + String(repeating: "</a>", count: 16)
        #expect(code(of: justDeepEnough) == nil)
        let many = "<xml>" + String(repeating: "<a/>", count: 3000) + "</xml>"
        #expect(code(of: many) == .tooManyElements)
        let small = XMLReader(limits: .init(maxBytes: 10))
        #expect(code(of: "<xml>12345</xml>", reader: small) == .tooLarge)
    }

    @Test func errorsSayWhatWasWrong() throws {
        let error = try #require(throws: XMLReadError.self) { try reader.read("<xml><A>1</B></xml>") }
        #expect(error.description == "</B> does not close <A> (at byte 11)")
    }
}
