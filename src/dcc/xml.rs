//! A minimal indenting XML writer: enough for one DCC document without pulling an XML crate
//! into the build.

/// Builds a document element by element; every element opened must be closed, which
/// [`XmlWriter::finish`] checks so that a renderer bug shows up as an error, not as a
/// truncated certificate.
pub(crate) struct XmlWriter {
    out: String,
    stack: Vec<&'static str>,
}

impl XmlWriter {
    pub(crate) fn new() -> XmlWriter {
        let mut out = String::with_capacity(16 * 1024);
        out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        XmlWriter {
            out,
            stack: Vec::new(),
        }
    }

    fn indent(&mut self) {
        for _ in 0..self.stack.len() {
            self.out.push_str("  ");
        }
    }

    fn start_tag(&mut self, name: &str, attrs: &[(&str, &str)]) {
        self.indent();
        self.out.push('<');
        self.out.push_str(name);
        for (key, value) in attrs {
            self.out.push(' ');
            self.out.push_str(key);
            self.out.push_str("=\"");
            escape_into(&mut self.out, value, true);
            self.out.push('"');
        }
        self.out.push('>');
    }

    pub(crate) fn open(&mut self, name: &'static str, attrs: &[(&str, &str)]) {
        self.start_tag(name, attrs);
        self.out.push('\n');
        self.stack.push(name);
    }

    pub(crate) fn close(&mut self) {
        let name = self.stack.pop().expect("close() without a matching open()");
        self.indent();
        self.out.push_str("</");
        self.out.push_str(name);
        self.out.push_str(">\n");
    }

    /// An element holding only text; the text is written verbatim (escaped), with no added
    /// whitespace, since for most DCC types surrounding whitespace would change the value.
    pub(crate) fn leaf(&mut self, name: &'static str, attrs: &[(&str, &str)], text: &str) {
        self.start_tag(name, attrs);
        escape_into(&mut self.out, text, false);
        self.out.push_str("</");
        self.out.push_str(name);
        self.out.push_str(">\n");
    }

    pub(crate) fn finish(self) -> Result<String, String> {
        if self.stack.is_empty() {
            Ok(self.out)
        } else {
            Err(format!("unclosed elements: {}", self.stack.join(" > ")))
        }
    }
}

/// Whether XML 1.0 allows the character at all (section 2.2); the others cannot even be
/// written as character references.
fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// Escapes the five predefined entities. Characters XML cannot carry become U+FFFD so that a
/// stray control character typed into a form cannot make the whole certificate unparseable.
/// Carriage returns (and, in attributes, tabs and newlines) are written as references because
/// a parser would otherwise normalise them away.
pub(crate) fn escape_into(out: &mut String, text: &str, attribute: bool) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\r' => out.push_str("&#13;"),
            '\n' if attribute => out.push_str("&#10;"),
            '\t' if attribute => out.push_str("&#9;"),
            c if is_xml_char(c) => out.push(c),
            _ => out.push('\u{FFFD}'),
        }
    }
}

#[cfg(test)]
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::new();
    escape_into(&mut out, text, false);
    out
}
