/// One element of a parsed XML document: its name, attributes, text and child elements.
///
/// WeChat's documents are small and nearly flat, so children are kept in document order and
/// looked up by a linear scan, which is faster than a dictionary at these sizes.
public struct XMLElement: Sendable, Hashable {
    /// The element's tag name.
    public var name: String
    /// The element's attributes in document order. WeChat sends none; they are kept for completeness.
    public var attributes: [XMLAttribute]
    /// The element's character data, with CDATA sections joined and references resolved.
    ///
    /// For an element that has child elements, whitespace-only text between them is dropped.
    public var text: String
    /// The child elements in document order.
    public var children: [XMLElement]

    /// Creates an element.
    public init(name: String, attributes: [XMLAttribute] = [], text: String = "", children: [XMLElement] = []) {
        self.name = name
        self.attributes = attributes
        self.text = text
        self.children = children
    }

    /// The first child element with the given name, if any.
    public func child(_ name: String) -> XMLElement? {
        for element in children where element.name == name {
            return element
        }
        return nil
    }

    /// The text of the first child element with the given name, if there is such a child.
    public func text(of name: String) -> String? {
        child(name)?.text
    }
}

/// An attribute of an ``XMLElement``.
public struct XMLAttribute: Sendable, Hashable {
    /// The attribute's name.
    public var name: String
    /// The attribute's value, with references resolved.
    public var value: String

    /// Creates an attribute.
    public init(name: String, value: String) {
        self.name = name
        self.value = value
    }
}
