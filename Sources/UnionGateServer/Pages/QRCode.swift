/// A QR code (ISO/IEC 18004) of a short text in byte mode at error-correction level M, versions
/// 1 to 6 (up to 106 bytes: an address with a card's code fits), drawn by the card page as inline
/// SVG so that staff can scan a member's e-member card. No library on the machine makes one; this
/// is the standard's construction: Reed–Solomon codewords over GF(256), the function patterns,
/// the zig-zag placement, the mask with the lowest penalty, and the format bits.
struct QRCode: Sendable {
    /// Modules, row by row: true is dark.
    let modules: [[Bool]]
    var size: Int { modules.count }

    /// Per version (index 1–6) at level M: error-correction codewords per block, and blocks.
    private static let ecPerBlock = [0, 10, 16, 26, 18, 24, 16]
    private static let blocks = [0, 1, 1, 1, 2, 2, 4]

    /// The code of `text`, or nil when it does not fit in version 6.
    init?(_ text: String) {
        let bytes = Array(text.utf8)
        guard let version = (1...6).first(where: { Self.dataCodewords($0) * 8 >= 4 + 8 + bytes.count * 8 }) else {
            return nil
        }
        var builder = Builder(version: version)
        builder.drawFunctionPatterns()
        builder.drawCodewords(Self.codewords(bytes, version: version))
        var best: [[Bool]] = []
        var lowest = Int.max
        for mask in 0..<8 {
            var candidate = builder
            candidate.applyMask(mask)
            candidate.drawFormatBits(mask: mask)
            let penalty = candidate.penalty()
            if penalty < lowest {
                lowest = penalty
                best = candidate.modules
            }
        }
        modules = best
    }

    /// An SVG path of the dark modules, one square each, with a quiet zone of 4 modules.
    var svgPath: String {
        var path = ""
        for (y, row) in modules.enumerated() {
            for (x, dark) in row.enumerated() where dark { path += "M\(x + 4) \(y + 4)h1v1h-1z" }
        }
        return path
    }

    // MARK: Codewords

    private static func rawCodewords(_ version: Int) -> Int {
        [0, 26, 44, 70, 100, 134, 172][version]
    }

    private static func dataCodewords(_ version: Int) -> Int {
        rawCodewords(version) - ecPerBlock[version] * blocks[version]
    }

    /// The data (mode, count, bytes, terminator, padding) split into blocks with their
    /// error-correction codewords, interleaved.
    static func codewords(_ bytes: [UInt8], version: Int) -> [UInt8] {
        var bits: [Bool] = []
        func append(_ value: Int, _ count: Int) {
            for shift in stride(from: count - 1, through: 0, by: -1) { bits.append((value >> shift) & 1 == 1) }
        }
        append(0b0100, 4)
        append(bytes.count, 8)
        for byte in bytes { append(Int(byte), 8) }
        let capacity = dataCodewords(version) * 8
        append(0, min(4, capacity - bits.count))
        append(0, (8 - bits.count % 8) % 8)
        var data: [UInt8] = stride(from: 0, to: bits.count, by: 8).map { start in
            (0..<8).reduce(UInt8(0)) { $0 << 1 | (bits[start + $1] ? 1 : 0) }
        }
        var pad: UInt8 = 0xEC
        while data.count < dataCodewords(version) {
            data.append(pad)
            pad = pad == 0xEC ? 0x11 : 0xEC
        }
        let count = blocks[version]
        let ecLength = ecPerBlock[version]
        let dataPerBlock = data.count / count
        let divisor = reedSolomonDivisor(ecLength)
        var dataBlocks: [[UInt8]] = []
        var ecBlocks: [[UInt8]] = []
        for index in 0..<count {
            let block = Array(data[(index * dataPerBlock)..<((index + 1) * dataPerBlock)])
            dataBlocks.append(block)
            ecBlocks.append(reedSolomonRemainder(block, divisor))
        }
        var result: [UInt8] = []
        for column in 0..<dataPerBlock { for block in dataBlocks { result.append(block[column]) } }
        for column in 0..<ecLength { for block in ecBlocks { result.append(block[column]) } }
        return result
    }

    static func multiply(_ x: UInt8, _ y: UInt8) -> UInt8 {
        var product = 0
        for bit in stride(from: 7, through: 0, by: -1) {
            product = (product << 1) ^ ((product >> 7) * 0x11D)
            product ^= ((Int(y) >> bit) & 1) * Int(x)
        }
        return UInt8(product)
    }

    static func reedSolomonDivisor(_ degree: Int) -> [UInt8] {
        var result = [UInt8](repeating: 0, count: degree - 1) + [1]
        var root: UInt8 = 1
        for _ in 0..<degree {
            for index in 0..<degree {
                result[index] = multiply(result[index], root)
                if index + 1 < degree { result[index] ^= result[index + 1] }
            }
            root = multiply(root, 0x02)
        }
        return result
    }

    static func reedSolomonRemainder(_ data: [UInt8], _ divisor: [UInt8]) -> [UInt8] {
        var result = [UInt8](repeating: 0, count: divisor.count)
        for byte in data {
            let factor = byte ^ result.removeFirst()
            result.append(0)
            for index in result.indices { result[index] ^= multiply(divisor[index], factor) }
        }
        return result
    }

    // MARK: Drawing

    private struct Builder {
        let version: Int
        let size: Int
        var modules: [[Bool]]
        var isFunction: [[Bool]]

        init(version: Int) {
            self.version = version
            size = 17 + 4 * version
            modules = Array(repeating: Array(repeating: false, count: size), count: size)
            isFunction = modules
        }

        mutating func set(_ x: Int, _ y: Int, _ dark: Bool) {
            modules[y][x] = dark
            isFunction[y][x] = true
        }

        mutating func drawFunctionPatterns() {
            for index in 0..<size {
                set(6, index, index % 2 == 0)
                set(index, 6, index % 2 == 0)
            }
            for (x, y) in [(3, 3), (size - 4, 3), (3, size - 4)] {
                for dy in -4...4 {
                    for dx in -4...4 where (0..<size).contains(x + dx) && (0..<size).contains(y + dy) {
                        let distance = max(abs(dx), abs(dy))
                        set(x + dx, y + dy, distance != 2 && distance != 4)
                    }
                }
            }
            // Versions 2–6 have one alignment pattern: the others of their grid (6, size − 7)
            // would overlap the finders.
            if version >= 2 {
                let far = size - 7
                for dy in -2...2 { for dx in -2...2 { set(far + dx, far + dy, max(abs(dx), abs(dy)) != 1) } }
            }
            drawFormatBits(mask: 0)  // reserves the format areas; drawn for real after masking
        }

        /// The format bits: level M (00) and the mask, BCH-protected, in both copies, and the
        /// dark module.
        mutating func drawFormatBits(mask: Int) {
            let data = mask  // level M is 00
            var remainder = data
            for _ in 0..<10 { remainder = (remainder << 1) ^ ((remainder >> 9) * 0x537) }
            let bits = (data << 10 | remainder) ^ 0x5412
            func bit(_ index: Int) -> Bool { (bits >> index) & 1 == 1 }
            for index in 0..<6 { set(8, index, bit(index)) }
            set(8, 7, bit(6))
            set(8, 8, bit(7))
            set(7, 8, bit(8))
            for index in 9..<15 { set(14 - index, 8, bit(index)) }
            for index in 0..<8 { set(size - 1 - index, 8, bit(index)) }
            for index in 8..<15 { set(8, size - 15 + index, bit(index)) }
            set(8, size - 8, true)
        }

        mutating func drawCodewords(_ data: [UInt8]) {
            var index = 0
            var right = size - 1
            while right >= 1 {
                if right == 6 { right = 5 }
                for vertical in 0..<size {
                    for offset in 0..<2 {
                        let x = right - offset
                        let upward = (right + 1) & 2 == 0
                        let y = upward ? size - 1 - vertical : vertical
                        if !isFunction[y][x], index < data.count * 8 {
                            modules[y][x] = (data[index >> 3] >> (7 - UInt8(index & 7))) & 1 == 1
                            index += 1
                        }
                    }
                }
                right -= 2
            }
        }

        mutating func applyMask(_ mask: Int) {
            for y in 0..<size {
                for x in 0..<size where !isFunction[y][x] {
                    let invert: Bool
                    switch mask {
                    case 0: invert = (x + y) % 2 == 0
                    case 1: invert = y % 2 == 0
                    case 2: invert = x % 3 == 0
                    case 3: invert = (x + y) % 3 == 0
                    case 4: invert = (x / 3 + y / 2) % 2 == 0
                    case 5: invert = x * y % 2 + x * y % 3 == 0
                    case 6: invert = (x * y % 2 + x * y % 3) % 2 == 0
                    default: invert = ((x + y) % 2 + x * y % 3) % 2 == 0
                    }
                    if invert { modules[y][x].toggle() }
                }
            }
        }

        /// The standard's penalty: runs of five or more, 2×2 blocks, finder-like patterns, and
        /// the balance of dark and light.
        func penalty() -> Int {
            var total = 0
            let lines = modules + (0..<size).map { x in (0..<size).map { modules[$0][x] } }
            let finderLike: [[Bool]] = [
                [true, false, true, true, true, false, true, false, false, false, false],
                [false, false, false, false, true, false, true, true, true, false, true],
            ]
            for line in lines {
                var run = 1
                for index in 1..<line.count {
                    if line[index] == line[index - 1] {
                        run += 1
                    } else {
                        if run >= 5 { total += 3 + run - 5 }
                        run = 1
                    }
                }
                if run >= 5 { total += 3 + run - 5 }
                if line.count >= 11 {
                    for start in 0...(line.count - 11) where finderLike.contains(Array(line[start..<(start + 11)])) {
                        total += 40
                    }
                }
            }
            for y in 0..<(size - 1) {
                for x in 0..<(size - 1) {
                    let colour = modules[y][x]
                    if modules[y][x + 1] == colour, modules[y + 1][x] == colour, modules[y + 1][x + 1] == colour {
                        total += 3
                    }
                }
            }
            let dark = modules.reduce(0) { $0 + $1.filter { $0 }.count }
            let all = size * size
            total += ((abs(dark * 20 - all * 10) + all - 1) / all - 1) * 10
            return total
        }
    }
}
