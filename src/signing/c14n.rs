//! Exclusive XML Canonicalization 1.0 without comments
//! (<http://www.w3.org/2001/10/xml-exc-c14n#>), over a document parsed by `roxmltree`, for
//! the XAdES signature of a DCC: the whole document with the signature left out (the
//! enveloped-signature transform), or one element with its descendants (SignedInfo,
//! SignedProperties).
//!
//! What the algorithm does, and all this implements (no InclusiveNamespaces prefix list):
//! - no XML declaration, no DOCTYPE, no comments; CR LF read as LF by the parser;
//! - empty elements written as a start and an end tag;
//! - a namespace declaration is written on an element only where the element or one of its
//!   attributes uses the prefix ("visibly utilises" it) and the nearest output ancestor did
//!   not already declare it with the same URI; declarations sorted by prefix, the default
//!   namespace first;
//! - attributes sorted by namespace URI (none first), then local name; values in double
//!   quotes with `& < "` and TAB LF CR as character references;
//! - text with `& < >` and CR as references, everything else as is, in UTF-8.

use std::collections::BTreeMap;

use roxmltree::{Document, Node, NodeId};

use super::SigningError;

const XML_NAMESPACE: &str = "http://www.w3.org/XML/1998/namespace";

/// Parses XML the way the canonicaliser needs it: no DTD (a DCC has none, and entities
/// declared in one would change what is signed).
pub fn parse(xml: &str) -> Result<Document<'_>, SigningError> {
    Document::parse(xml).map_err(|e| SigningError::Xml(e.to_string()))
}

/// The canonical form of the whole document, leaving out the element `excluded` (and what
/// it contains): the enveloped-signature transform followed by exclusive c14n.
pub fn document(doc: &Document, excluded: Option<NodeId>) -> Result<Vec<u8>, SigningError> {
    let mut out = Vec::new();
    let root = doc.root();
    let mut seen_element = false;
    for child in root.children() {
        if child.is_element() {
            seen_element = true;
            element(&mut out, child, &BTreeMap::new(), excluded)?;
        } else if let Some(pi) = child.pi() {
            // Processing instructions outside the document element, each on its own line.
            if seen_element {
                out.push(b'\n');
            }
            write_pi(&mut out, pi.target, pi.value);
            if !seen_element {
                out.push(b'\n');
            }
        }
    }
    Ok(out)
}

/// The canonical form of one element and its descendants (a same-document reference by Id,
/// or SignedInfo): nothing of its ancestors is in the node set, so the namespaces it uses are
/// declared on it.
pub fn subtree(node: Node) -> Result<Vec<u8>, SigningError> {
    let mut out = Vec::new();
    element(&mut out, node, &BTreeMap::new(), None)?;
    Ok(out)
}

/// The prefix an element or attribute was written with, read from the source: roxmltree
/// resolves names to URIs and does not keep the prefix.
fn prefix_of(qname: &str) -> &str {
    qname.split_once(':').map_or("", |(prefix, _)| prefix)
}

fn element_qname<'a>(node: Node<'_, 'a>) -> &'a str {
    let text = &node.document().input_text()[node.range()];
    let name = text.trim_start_matches('<');
    let end = name
        .find(|c: char| c.is_whitespace() || c == '/' || c == '>')
        .unwrap_or(name.len());
    &name[..end]
}

fn element(
    out: &mut Vec<u8>,
    node: Node,
    rendered: &BTreeMap<String, String>,
    excluded: Option<NodeId>,
) -> Result<(), SigningError> {
    if Some(node.id()) == excluded {
        return Ok(());
    }
    let input = node.document().input_text();
    let qname = element_qname(node);
    let prefix = prefix_of(qname);

    // Namespaces visibly utilised: the element's own prefix (or the default namespace), and
    // the prefixes of its attributes (an unprefixed attribute is in no namespace).
    let mut used: BTreeMap<String, String> = BTreeMap::new();
    let element_uri = node.tag_name().namespace().unwrap_or("");
    used.insert(prefix.to_string(), element_uri.to_string());
    let mut attributes: Vec<(&str, &str, &str, &str)> = Vec::new(); // (uri, local, qname, value)
    for attribute in node.attributes() {
        let attribute_qname = &input[attribute.range_qname()];
        let uri = attribute.namespace().unwrap_or("");
        let attribute_prefix = prefix_of(attribute_qname);
        if !attribute_prefix.is_empty() && uri != XML_NAMESPACE {
            used.insert(attribute_prefix.to_string(), uri.to_string());
        }
        attributes.push((uri, attribute.name(), attribute_qname, attribute.value()));
    }
    let (declarations, now_rendered) = declarations_needed(used, rendered);
    attributes.sort_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
    write_start_tag(out, qname, &declarations, &attributes);
    for child in node.children() {
        if child.is_element() {
            element(out, child, &now_rendered, excluded)?;
        } else if child.is_text() {
            escape_text(out, child.text().unwrap_or(""));
        } else if let Some(pi) = child.pi() {
            write_pi(out, pi.target, pi.value);
        }
        // Comments are not in the node set of a same-document reference without #xpointer.
    }
    out.extend_from_slice(b"</");
    out.extend_from_slice(qname.as_bytes());
    out.push(b'>');
    Ok(())
}

/// Exclusive c14n (section 3) declares a namespace on an element only where it is visibly
/// used there and an output ancestor has not already rendered the same binding.
fn declarations_needed(
    used: BTreeMap<String, String>,
    rendered: &BTreeMap<String, String>,
) -> (Vec<(String, String)>, BTreeMap<String, String>) {
    let mut declarations: Vec<(String, String)> = Vec::new();
    let mut now_rendered = rendered.clone();
    for (prefix, uri) in used {
        if prefix == "xml" {
            continue;
        }
        let already = rendered.get(&prefix);
        let needed = if prefix.is_empty() {
            // xmlns="" only undoes a default namespace an output ancestor declared.
            match already {
                Some(previous) => previous != &uri,
                None => !uri.is_empty(),
            }
        } else {
            already != Some(&uri)
        };
        if needed {
            now_rendered.insert(prefix.clone(), uri.clone());
            declarations.push((prefix, uri));
        }
    }
    (declarations, now_rendered)
}

fn write_start_tag(
    out: &mut Vec<u8>,
    qname: &str,
    declarations: &[(String, String)],
    attributes: &[(&str, &str, &str, &str)],
) {
    out.push(b'<');
    out.extend_from_slice(qname.as_bytes());
    for (prefix, uri) in declarations {
        if prefix.is_empty() {
            out.extend_from_slice(b" xmlns=\"");
        } else {
            out.extend_from_slice(b" xmlns:");
            out.extend_from_slice(prefix.as_bytes());
            out.extend_from_slice(b"=\"");
        }
        escape_attribute(out, uri);
        out.push(b'"');
    }
    for (_, _, attribute_qname, value) in attributes {
        out.push(b' ');
        out.extend_from_slice(attribute_qname.as_bytes());
        out.extend_from_slice(b"=\"");
        escape_attribute(out, value);
        out.push(b'"');
    }
    out.push(b'>');
}

fn write_pi(out: &mut Vec<u8>, target: &str, value: Option<&str>) {
    out.extend_from_slice(b"<?");
    out.extend_from_slice(target.as_bytes());
    if let Some(value) = value.filter(|v| !v.is_empty()) {
        out.push(b' ');
        out.extend_from_slice(value.as_bytes());
    }
    out.extend_from_slice(b"?>");
}

fn escape_text(out: &mut Vec<u8>, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.extend_from_slice(b"&amp;"),
            '<' => out.extend_from_slice(b"&lt;"),
            '>' => out.extend_from_slice(b"&gt;"),
            '\r' => out.extend_from_slice(b"&#xD;"),
            c => {
                let mut buffer = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buffer).as_bytes());
            }
        }
    }
}

fn escape_attribute(out: &mut Vec<u8>, value: &str) {
    for c in value.chars() {
        match c {
            '&' => out.extend_from_slice(b"&amp;"),
            '<' => out.extend_from_slice(b"&lt;"),
            '"' => out.extend_from_slice(b"&quot;"),
            '\t' => out.extend_from_slice(b"&#x9;"),
            '\n' => out.extend_from_slice(b"&#xA;"),
            '\r' => out.extend_from_slice(b"&#xD;"),
            c => {
                let mut buffer = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buffer).as_bytes());
            }
        }
    }
}
