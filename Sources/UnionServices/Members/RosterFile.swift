import CSV
import Foundation
import ZIPFoundation

#if canImport(FoundationXML)
    import FoundationXML
#endif

/// A roster file as staff save it: a CSV (UTF-8, with or without Excel's BOM, or GB18030 as
/// Excel saves CSV on a Chinese Windows) or an `.xlsx` workbook (its first sheet), read into rows
/// of cells, the first row the headings.
public enum RosterFile {
    /// The largest file read.
    public static let maxBytes = 20 * 1024 * 1024
    /// The most rows read (besides the headings).
    public static let maxRows = 200_000
    /// The largest part of a workbook unpacked (a small file that unpacks to gigabytes is refused).
    static let maxUnpacked = 400 * 1024 * 1024

    /// Why a file could not be read, in words for staff.
    public struct Problem: Error, Sendable, Hashable, CustomStringConvertible {
        public let message: String
        public var description: String { message }
    }

    /// The rows of `data`: a workbook when it is a ZIP archive, otherwise CSV.
    public static func rows(of data: Data) throws -> [[String]] {
        guard data.count <= maxBytes else {
            throw Problem(message: "文件太大（\(data.count / 1024 / 1024) MB），最大 \(maxBytes / 1024 / 1024) MB。可以分成几个文件导入。")
        }
        guard !data.isEmpty else { throw Problem(message: "文件是空的。") }
        let rows = data.starts(with: [0x50, 0x4B, 0x03, 0x04]) ? try workbook(data) : try csv(data)
        guard rows.count - 1 <= maxRows else {
            throw Problem(message: "一次最多导入 \(maxRows) 行，这个文件有 \(rows.count - 1) 行。可以分成几个文件导入。")
        }
        return rows
    }

    // MARK: CSV

    static func csv(_ data: Data) throws -> [[String]] {
        var bytes = data
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { bytes = bytes.dropFirst(3) }
        let text: String
        if let utf8 = String(data: bytes, encoding: .utf8) {
            text = utf8
        } else if let chinese = String(data: bytes, encoding: gb18030) {
            text = chinese
        } else {
            throw Problem(message: "文件的文字编码看不懂。请在 Excel 里「另存为」CSV UTF-8（逗号分隔），或直接上传 .xlsx 文件。")
        }
        let reader: CSVReader
        do {
            reader = try CSVReader(string: text, hasHeaderRow: false)
        } catch {
            throw Problem(message: "CSV 文件的格式不对：\(error)")
        }
        var rows: [[String]] = []
        while let row = reader.next() {
            rows.append(row)
            if rows.count > maxRows + 1 { break }
        }
        if let error = reader.error {
            throw Problem(message: "CSV 文件在第 \(rows.count + 1) 行附近格式不对（\(error)），请检查引号是否成对。")
        }
        return rows.filter { !$0.allSatisfy { $0.trimmingCharacters(in: .whitespaces).isEmpty } }
    }

    /// GB 18030, the encoding Excel saves CSV in on a Chinese Windows (a superset of GBK): Core
    /// Foundation's `kCFStringEncodingGB_18030_2000` (0x0632) as a `String.Encoding`.
    static let gb18030 = String.Encoding(rawValue: 0x8000_0632)

    // MARK: Workbooks

    static func workbook(_ data: Data) throws -> [[String]] {
        let archive: Archive
        do {
            archive = try Archive(data: data, accessMode: .read)
        } catch {
            throw Problem(message: "这个 .xlsx 文件打不开（可能已损坏或不完整），请在 Excel 里重新保存后再上传。")
        }
        func part(_ path: String) throws -> Data? {
            guard let entry = archive[path] else { return nil }
            guard entry.uncompressedSize <= UInt64(maxUnpacked) else {
                throw Problem(message: "这个 .xlsx 文件解开后太大，请分成几个文件导入。")
            }
            var out = Data()
            do {
                _ = try archive.extract(entry) { chunk in
                    out.append(chunk)
                    if out.count > maxUnpacked { throw Problem(message: "这个 .xlsx 文件解开后太大，请分成几个文件导入。") }
                }
            } catch let problem as Problem {
                throw problem
            } catch {
                throw Problem(message: "这个 .xlsx 文件已损坏（\(path) 读不出来），请在 Excel 里重新保存后再上传。")
            }
            return out
        }
        let strings = try part("xl/sharedStrings.xml").map { try SharedStrings.read($0) } ?? []
        guard
            let sheetPath = try firstSheet(
                workbook: part("xl/workbook.xml"), relations: part("xl/_rels/workbook.xml.rels")),
            let sheet = try part(sheetPath)
        else {
            throw Problem(message: "这个文件不是 Excel 工作簿（.xlsx），或里面没有工作表。")
        }
        return try SheetReader.read(sheet, strings: strings, maxRows: maxRows + 1)
    }

    /// The first sheet's part, from the workbook and its relations (`xl/worksheets/sheet1.xml`
    /// when they say nothing).
    static func firstSheet(workbook: Data?, relations: Data?) throws -> String? {
        guard let workbook, let relations else { return "xl/worksheets/sheet1.xml" }
        let sheets = try Elements.read(workbook, named: "sheet")
        guard let first = sheets.first, let id = first["r:id"] ?? first.first(where: { $0.key.hasSuffix(":id") })?.value
        else { return "xl/worksheets/sheet1.xml" }
        let targets = try Elements.read(relations, named: "Relationship")
        guard let target = targets.first(where: { $0["Id"] == id })?["Target"] else { return nil }
        if target.hasPrefix("/") { return String(target.dropFirst()) }
        return "xl/" + target
    }

    /// The attributes of every element with one name.
    final class Elements: NSObject, XMLParserDelegate {
        let name: String
        var found: [[String: String]] = []

        init(name: String) { self.name = name }

        static func read(_ data: Data, named name: String) throws -> [[String: String]] {
            let reader = Elements(name: name)
            let parser = XMLParser(data: data)
            parser.delegate = reader
            guard parser.parse() else { throw Problem(message: "这个 .xlsx 文件的内容读不懂，请在 Excel 里重新保存后再上传。") }
            return reader.found
        }

        func parser(
            _ parser: XMLParser, didStartElement elementName: String, namespaceURI: String?, qualifiedName: String?,
            attributes: [String: String] = [:]
        ) {
            if elementName == name || elementName.hasSuffix(":" + name) { found.append(attributes) }
        }
    }

    /// The shared strings: each `<si>`'s text (its `<t>`s, rich runs joined).
    final class SharedStrings: NSObject, XMLParserDelegate {
        var strings: [String] = []
        var current: String?
        var inText = false

        static func read(_ data: Data) throws -> [String] {
            let reader = SharedStrings()
            let parser = XMLParser(data: data)
            parser.delegate = reader
            guard parser.parse() else { throw Problem(message: "这个 .xlsx 文件的文字表读不懂，请在 Excel 里重新保存后再上传。") }
            return reader.strings
        }

        func parser(
            _ parser: XMLParser, didStartElement elementName: String, namespaceURI: String?, qualifiedName: String?,
            attributes: [String: String] = [:]
        ) {
            switch elementName {
            case "si": current = ""
            case "t": inText = current != nil
            case "rPh": inText = false  // phonetic guides are not the text
            default: break
            }
        }

        func parser(_ parser: XMLParser, foundCharacters string: String) {
            if inText { current? += string }
        }

        func parser(
            _ parser: XMLParser, didEndElement elementName: String, namespaceURI: String?, qualifiedName: String?
        ) {
            switch elementName {
            case "t": inText = false
            case "si":
                strings.append(current ?? "")
                current = nil
            default: break
            }
        }
    }

    /// A sheet's cells as rows: shared strings looked up, inline strings and numbers as written,
    /// empty cells kept in their column.
    final class SheetReader: NSObject, XMLParserDelegate {
        let strings: [String]
        let maxRows: Int
        var rows: [[String]] = []
        var row: [String] = []
        var column = 0
        var type: String?
        var value = ""
        var inValue = false
        var problem: Problem?

        init(strings: [String], maxRows: Int) {
            self.strings = strings
            self.maxRows = maxRows
        }

        static func read(_ data: Data, strings: [String], maxRows: Int) throws -> [[String]] {
            let reader = SheetReader(strings: strings, maxRows: maxRows)
            let parser = XMLParser(data: data)
            parser.delegate = reader
            let parsed = parser.parse()
            if let problem = reader.problem { throw problem }
            guard parsed || reader.rows.count > maxRows else {
                throw Problem(message: "这个 .xlsx 文件的工作表读不懂，请在 Excel 里重新保存后再上传。")
            }
            while let last = reader.rows.last, last.allSatisfy(\.isEmpty) { reader.rows.removeLast() }
            return reader.rows
        }

        /// The column of a cell reference such as `AB12`, from 0.
        static func column(of reference: String) -> Int? {
            var number = 0
            var letters = 0
            for scalar in reference.unicodeScalars {
                guard ("A"..."Z").contains(scalar) else { break }
                number = number * 26 + Int(scalar.value - 64)
                letters += 1
            }
            return letters == 0 ? nil : number - 1
        }

        func parser(
            _ parser: XMLParser, didStartElement elementName: String, namespaceURI: String?, qualifiedName: String?,
            attributes: [String: String] = [:]
        ) {
            switch elementName {
            case "row":
                row = []
                column = 0
            case "c":
                if let reference = attributes["r"], let at = Self.column(of: reference) {
                    guard at < 200 else { return }
                    column = at
                }
                type = attributes["t"]
                value = ""
            case "v", "t":
                inValue = true
            default: break
            }
        }

        func parser(_ parser: XMLParser, foundCharacters string: String) {
            if inValue { value += string }
        }

        func parser(
            _ parser: XMLParser, didEndElement elementName: String, namespaceURI: String?, qualifiedName: String?
        ) {
            switch elementName {
            case "v", "t":
                inValue = false
            case "c":
                var text = value
                if type == "s" {
                    guard let index = Int(value), strings.indices.contains(index) else {
                        problem = Problem(message: "这个 .xlsx 文件的文字表不完整，请在 Excel 里重新保存后再上传。")
                        parser.abortParsing()
                        return
                    }
                    text = strings[index]
                }
                if column < 200 {
                    while row.count < column { row.append("") }
                    if row.count == column { row.append(text) } else { row[column] = text }
                }
                column += 1
            case "row":
                rows.append(row)
                if rows.count > maxRows { parser.abortParsing() }
            default: break
            }
        }
    }
}
