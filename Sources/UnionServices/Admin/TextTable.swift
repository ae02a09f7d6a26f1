/// A plain-text table for the terminal, with Chinese characters counted as two columns wide.
public enum TextTable {
    /// The rows laid out in columns, the first row as the header.
    public static func render(_ rows: [[String]]) -> String {
        guard let header = rows.first else { return "" }
        var widths = header.map { width(terminalSafe($0)) }
        for row in rows {
            for (index, cell) in row.enumerated() where index < widths.count {
                widths[index] = max(widths[index], width(terminalSafe(cell)))
            }
        }
        return rows.map { row in
            row.enumerated().map { index, cell in
                let text = terminalSafe(cell)
                return index == row.count - 1
                    ? text : text + String(repeating: " ", count: widths[index] - width(text) + 2)
            }.joined()
        }.joined(separator: "\n")
    }

    /// `text` as one line that a terminal shows as it is: line breaks and tabs become spaces, and
    /// control characters (escape sequences that could clear or rewrite a staff member's screen)
    /// and the invisible direction overrides are dropped.
    public static func terminalSafe(_ text: String) -> String {
        var scalars = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            switch scalar.value {
            case 0x9, 0xA, 0xD: scalars.append(" ")
            case 0..<0x20, 0x7F...0x9F, 0x200E, 0x200F, 0x202A...0x202E, 0x2066...0x2069: continue
            default: scalars.append(scalar)
            }
        }
        return String(scalars)
    }

    /// The columns `text` takes in a terminal.
    public static func width(_ text: String) -> Int {
        text.unicodeScalars.reduce(0) { total, scalar in
            let value = scalar.value
            let wide =
                (0x1100...0x115F).contains(value) || (0x2E80...0xA4CF).contains(value)
                || (0xAC00...0xD7A3).contains(value)
                || (0xF900...0xFAFF).contains(value) || (0xFE30...0xFE4F).contains(value)
                || (0xFF00...0xFF60).contains(value)
                || (0xFFE0...0xFFE6).contains(value) || (0x1F300...0x1FAFF).contains(value)
            return total + (wide ? 2 : 1)
        }
    }
}
