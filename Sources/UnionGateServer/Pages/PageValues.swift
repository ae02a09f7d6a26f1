import Mustache

/// A page's values as a template reads them, made by encoding the page's typed view (an
/// `Encodable` struct): no dictionaries of `Any` in the handlers, and no reflection.
///
/// An absent optional is left out, so a section on it is not shown; `false` hides a section;
/// a list repeats it (`{{^empty(rows)}}` asks whether a list has anything).
enum PageValue: Sendable {
    case text(String)
    case flag(Bool)
    case number(Int)
    case list([PageValue])
    case fields([String: PageValue])

    /// `view` encoded.
    static func of<View: Encodable>(_ view: View) throws -> PageValue {
        let slot = Slot()
        try view.encode(to: ValueEncoder(slot: slot, codingPath: []))
        return slot.built
    }

    /// The fields of `self` with those of `other` laid over them (both must be fields).
    func merging(_ other: PageValue) -> PageValue {
        guard case .fields(let mine) = self, case .fields(let theirs) = other else { return other }
        return .fields(mine.merging(theirs) { _, new in new })
    }

    /// What the template library is given for this value: a `Bool` for a flag (sections test
    /// it), an `Int` for a number, an array for a list (its transforms `empty` and `count`
    /// work), and the value itself for text and fields.
    fileprivate var forTemplate: Any {
        switch self {
        case .flag(let flag): flag
        case .number(let number): number
        case .list(let items): items
        case .text, .fields: self
        }
    }
}

extension PageValue: MustacheParent, MustacheCustomRenderable {
    func child(named name: String) -> Any? {
        guard case .fields(let fields) = self else { return nil }
        return fields[name]?.forTemplate
    }

    var renderText: String {
        switch self {
        case .text(let text): text
        case .flag(let flag): flag ? "true" : "false"
        case .number(let number): String(number)
        case .list, .fields: ""
        }
    }

    var isNull: Bool { false }
}

/// Where one encoded value is put while it is being encoded.
private final class Slot {
    var value: PageValue = .fields([:])
    var fields: [String: Slot] = [:]
    var items: [Slot] = []
    enum Shape { case unset, leaf, keyed, unkeyed }
    var shape: Shape = .unset

    var built: PageValue {
        switch shape {
        case .unset: .fields([:])
        case .leaf: value
        case .keyed: .fields(fields.mapValues(\.built))
        case .unkeyed: .list(items.map(\.built))
        }
    }
}

private struct ValueEncoder: Encoder {
    let slot: Slot
    let codingPath: [any CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        slot.shape = .keyed
        return KeyedEncodingContainer(Keyed<Key>(slot: slot, codingPath: codingPath))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        slot.shape = .unkeyed
        return Unkeyed(slot: slot, codingPath: codingPath)
    }

    func singleValueContainer() -> any SingleValueEncodingContainer {
        Single(slot: slot, codingPath: codingPath)
    }
}

/// Encodes `value` into a new slot.
private func encoded<T: Encodable>(_ value: T, at path: [any CodingKey]) throws -> Slot {
    let slot = Slot()
    try value.encode(to: ValueEncoder(slot: slot, codingPath: path))
    return slot
}

private struct Keyed<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let slot: Slot
    let codingPath: [any CodingKey]

    mutating func encodeNil(forKey key: Key) {}
    mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
        slot.fields[key.stringValue] = try encoded(value, at: codingPath + [key])
    }
    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key)
        -> KeyedEncodingContainer<NestedKey>
    {
        let child = Slot()
        child.shape = .keyed
        slot.fields[key.stringValue] = child
        return KeyedEncodingContainer(Keyed<NestedKey>(slot: child, codingPath: codingPath + [key]))
    }
    mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
        let child = Slot()
        child.shape = .unkeyed
        slot.fields[key.stringValue] = child
        return Unkeyed(slot: child, codingPath: codingPath + [key])
    }
    mutating func superEncoder() -> any Encoder { ValueEncoder(slot: slot, codingPath: codingPath) }
    mutating func superEncoder(forKey key: Key) -> any Encoder {
        let child = Slot()
        slot.fields[key.stringValue] = child
        return ValueEncoder(slot: child, codingPath: codingPath + [key])
    }
}

private struct Unkeyed: UnkeyedEncodingContainer {
    let slot: Slot
    let codingPath: [any CodingKey]
    var count: Int { slot.items.count }

    mutating func encodeNil() {}
    mutating func encode<T: Encodable>(_ value: T) throws {
        slot.items.append(try encoded(value, at: codingPath))
    }
    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type)
        -> KeyedEncodingContainer<NestedKey>
    {
        let child = Slot()
        child.shape = .keyed
        slot.items.append(child)
        return KeyedEncodingContainer(Keyed<NestedKey>(slot: child, codingPath: codingPath))
    }
    mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
        let child = Slot()
        child.shape = .unkeyed
        slot.items.append(child)
        return Unkeyed(slot: child, codingPath: codingPath)
    }
    mutating func superEncoder() -> any Encoder {
        let child = Slot()
        slot.items.append(child)
        return ValueEncoder(slot: child, codingPath: codingPath)
    }
}

private struct Single: SingleValueEncodingContainer {
    let slot: Slot
    let codingPath: [any CodingKey]

    private func set(_ value: PageValue) {
        slot.shape = .leaf
        slot.value = value
    }
    mutating func encodeNil() {}
    mutating func encode(_ value: Bool) { set(.flag(value)) }
    mutating func encode(_ value: String) { set(.text(value)) }
    mutating func encode(_ value: Double) { set(.text(String(value))) }
    mutating func encode(_ value: Float) { set(.text(String(value))) }
    mutating func encode(_ value: Int) { set(.number(value)) }
    mutating func encode(_ value: Int8) { set(.number(Int(value))) }
    mutating func encode(_ value: Int16) { set(.number(Int(value))) }
    mutating func encode(_ value: Int32) { set(.number(Int(value))) }
    mutating func encode(_ value: Int64) { set(.number(Int(value))) }
    mutating func encode(_ value: UInt) { set(.number(Int(clamping: value))) }
    mutating func encode(_ value: UInt8) { set(.number(Int(value))) }
    mutating func encode(_ value: UInt16) { set(.number(Int(value))) }
    mutating func encode(_ value: UInt32) { set(.number(Int(value))) }
    mutating func encode(_ value: UInt64) { set(.number(Int(clamping: value))) }
    mutating func encode<T: Encodable>(_ value: T) throws {
        let inner = try encoded(value, at: codingPath)
        slot.shape = .leaf
        slot.value = inner.built
    }
}
