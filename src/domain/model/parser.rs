//! The model language of DESIGN 5b: a recursive-descent parser from text to an expression tree
//! whose nodes remember where they were written, so that every later error (a unit that does
//! not add up, an affine temperature used alone) can point at a character.
//!
//! Grammar (precedence from loose to tight; `^` is right-associative and binds tighter than
//! unary minus, so `-x^2` is `-(x^2)` and `2^-1` is `2^(-1)`):
//!
//! ```text
//! expr    := term (('+' | '-') term)*
//! term    := unary (('*' | '/') unary)*
//! unary   := ('-' | '+') unary | power
//! power   := primary ('^' unary)?
//! primary := number | name | 'pi' | function '(' expr ')' | '(' expr ')'
//! number  := digits ['.' digits] [('e' | 'E') ['+' | '-'] digits]   (also '.5')
//! name    := [A-Za-z_][A-Za-z0-9_]*
//! ```

use std::cell::Cell;
use std::fmt;

/// Longest model text accepted (characters); a real measurement model is a line or two.
pub const MAX_MODEL_CHARS: usize = 4000;
/// Deepest nesting of parentheses and operators accepted: keeps the recursive parser and the
/// recursive checks far from the stack limit.
pub const MAX_DEPTH: usize = 200;

/// The functions of the grammar; every argument is dimensionless (angles in radians), except
/// that `sqrt` and `abs` also take a dimensioned argument (see `compile`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Func {
    Sqrt,
    Exp,
    Ln,
    Log10,
    Sin,
    Cos,
    Tan,
    Asin,
    Acos,
    Atan,
    Abs,
}

impl Func {
    pub const ALL: [Func; 11] = [
        Func::Sqrt,
        Func::Exp,
        Func::Ln,
        Func::Log10,
        Func::Sin,
        Func::Cos,
        Func::Tan,
        Func::Asin,
        Func::Acos,
        Func::Atan,
        Func::Abs,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Func::Sqrt => "sqrt",
            Func::Exp => "exp",
            Func::Ln => "ln",
            Func::Log10 => "log10",
            Func::Sin => "sin",
            Func::Cos => "cos",
            Func::Tan => "tan",
            Func::Asin => "asin",
            Func::Acos => "acos",
            Func::Atan => "atan",
            Func::Abs => "abs",
        }
    }

    /// Every name in a model is looked up here: a match, not a scan of the list.
    pub fn from_name(name: &str) -> Option<Func> {
        Some(match name {
            "sqrt" => Func::Sqrt,
            "exp" => Func::Exp,
            "ln" => Func::Ln,
            "log10" => Func::Log10,
            "sin" => Func::Sin,
            "cos" => Func::Cos,
            "tan" => Func::Tan,
            "asin" => Func::Asin,
            "acos" => Func::Acos,
            "atan" => Func::Atan,
            "abs" => Func::Abs,
            _ => return None,
        })
    }
}

/// Names an input may not take: the constant and the functions.
pub fn is_reserved(name: &str) -> bool {
    name == "pi" || Func::from_name(name).is_some()
}

/// Whether two names are the same, byte by byte in line: names of a few bytes are compared
/// often (every name written in a model against the inputs), and a call to memcmp for each
/// cost more than the comparison.
pub fn same_name(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).all(|(x, y)| x == y)
}

/// Whether `name` is a valid input name (`[A-Za-z_][A-Za-z0-9_]*`).
pub fn is_valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    Pow,
}

impl BinOp {
    pub fn symbol(self) -> char {
        match self {
            BinOp::Add => '+',
            BinOp::Sub => '-',
            BinOp::Mul => '*',
            BinOp::Div => '/',
            BinOp::Pow => '^',
        }
    }
}

/// Character positions are 1-based, counted in Unicode characters (what an editor shows).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

/// Where a node stands in its [`Tree`].
pub type ExprId = usize;

/// Where a name is written in the model text, in bytes ([`Tree::text`] reads it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bytes {
    start: u32,
    end: u32,
}

/// A node of the tree; operands are earlier nodes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Node {
    Number(f64),
    Pi,
    Name(Bytes),
    Neg(ExprId),
    Binary {
        op: BinOp,
        /// Position of the operator itself.
        at: usize,
        left: ExprId,
        right: ExprId,
    },
    Call(Func, ExprId),
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Expr {
    pub node: Node,
    pub span: Span,
}

thread_local! {
    /// The token and node buffers of this thread's last parse, kept for the next: a lab's
    /// service parses every model it evaluates, and allocating them was a tenth of the time.
    static TOKENS: Cell<Vec<Token>> = const { Cell::new(Vec::new()) };
    static NODES: Cell<Vec<Expr>> = const { Cell::new(Vec::new()) };
}

/// A parsed model: its nodes in one vector, every operand before the node that uses it, so the
/// last node is the whole model and the names stand in the order they were written.
#[derive(Debug, Clone, PartialEq)]
pub struct Tree<'t> {
    text: &'t str,
    nodes: Vec<Expr>,
}

impl Drop for Tree<'_> {
    fn drop(&mut self) {
        let mut nodes = std::mem::take(&mut self.nodes);
        nodes.clear();
        NODES.set(nodes);
    }
}

impl<'t> Tree<'t> {
    /// The model text of a name.
    pub fn text(&self, name: Bytes) -> &'t str {
        &self.text[name.start as usize..name.end as usize]
    }

    /// The whole model.
    pub fn root(&self) -> ExprId {
        self.nodes.len() - 1
    }

    pub fn get(&self, id: ExprId) -> &Expr {
        &self.nodes[id]
    }

    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    fn push(&mut self, node: Node, span: Span) -> ExprId {
        self.nodes.push(Expr { node, span });
        self.nodes.len() - 1
    }

    fn span(&self, id: ExprId) -> Span {
        self.nodes[id].span
    }
}

/// A syntax error at a 1-based character position.
#[derive(Debug, Clone, PartialEq)]
pub struct ParseError {
    pub position: usize,
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "at character {}: {}", self.position, self.message)
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Tok {
    Number(f64),
    Name(Bytes),
    Op(char),
    Open,
    Close,
    End,
}

#[derive(Debug, Clone, Copy)]
struct Token {
    tok: Tok,
    /// 1-based first character.
    start: usize,
    /// 1-based position after the last character.
    end: usize,
}

fn describe(tok: &Tok, text: &str) -> String {
    match tok {
        Tok::Number(_) => "a number".to_string(),
        Tok::Name(n) => format!("'{}'", &text[n.start as usize..n.end as usize]),
        Tok::Op(c) => format!("'{c}'"),
        Tok::Open => "'('".to_string(),
        Tok::Close => "')'".to_string(),
        Tok::End => "the end of the model".to_string(),
    }
}

/// Boxed while parsing: every rule returns a result, and a small error keeps it in registers.
type Parsed<T> = Result<T, Box<ParseError>>;

fn err(position: usize, message: impl Into<String>) -> Box<ParseError> {
    Box::new(ParseError {
        position,
        message: message.into(),
    })
}

/// The tokens of `text`, read byte by byte: every token of the language is ASCII, so within a
/// token bytes and characters coincide, and only whitespace (or an error) can be wider. `at`
/// counts characters, for positions an editor shows.
fn tokenize(text: &str, tokens: &mut Vec<Token>) -> Parsed<()> {
    let bytes = text.as_bytes();
    let (mut i, mut at) = (0, 1);
    while i < bytes.len() {
        let b = bytes[i];
        if !b.is_ascii() {
            let c = text[i..].chars().next().expect("a character starts here");
            if !c.is_whitespace() {
                return Err(operator(c, None, at).expect_err("no operator is wider than ASCII"));
            }
            i += c.len_utf8();
            at += 1;
            continue;
        }
        if char::from(b).is_whitespace() {
            i += 1;
            at += 1;
            continue;
        }
        let (tok, next) = if starts_number(bytes, i) {
            let (value, next) = number(text, i, at)?;
            (Tok::Number(value), next)
        } else if b.is_ascii_alphabetic() || b == b'_' {
            let next = name_end(bytes, i);
            // Fits: the model is at most MAX_MODEL_CHARS characters of at most 4 bytes.
            let name = Bytes {
                start: i as u32,
                end: next as u32,
            };
            (Tok::Name(name), next)
        } else {
            (
                operator(char::from(b), bytes.get(i + 1).copied(), at)?,
                i + 1,
            )
        };
        let end = at + (next - i);
        tokens.push(Token {
            tok,
            start: at,
            end,
        });
        (i, at) = (next, end);
    }
    tokens.push(Token {
        tok: Tok::End,
        start: at,
        end: at,
    });
    Ok(())
}

/// A digit, or a point followed by a digit (`.5`).
fn starts_number(bytes: &[u8], i: usize) -> bool {
    bytes[i].is_ascii_digit()
        || (bytes[i] == b'.' && bytes.get(i + 1).is_some_and(u8::is_ascii_digit))
}

/// First index at or after `j` that is not a digit.
fn digits_end(bytes: &[u8], mut j: usize) -> usize {
    while j < bytes.len() && bytes[j].is_ascii_digit() {
        j += 1;
    }
    j
}

/// The number starting at byte `i` (character `at`): its value and the byte after it.
fn number(text: &str, i: usize, at: usize) -> Parsed<(f64, usize)> {
    let bytes = text.as_bytes();
    let mut j = digits_end(bytes, i);
    if j < bytes.len() && bytes[j] == b'.' {
        j = digits_end(bytes, j + 1);
    }
    if j < bytes.len() && (bytes[j] == b'e' || bytes[j] == b'E') {
        j = exponent_end(bytes, j, at + (j - i))?;
    }
    let literal = &text[i..j];
    let value: f64 = literal
        .parse()
        .map_err(|_| err(at, format!("'{literal}' is not a number")))?;
    if !value.is_finite() {
        return Err(err(at, format!("'{literal}' is too large")));
    }
    if j < bytes.len() && (bytes[j].is_ascii_alphabetic() || bytes[j] == b'_') {
        return Err(err(
            at + (j - i),
            "a number directly followed by a name: write '*' between them (units are given with the inputs, not in the model)",
        ));
    }
    Ok((value, j))
}

/// The byte after the exponent whose 'e' or 'E' is at byte `j` (character `at`).
fn exponent_end(bytes: &[u8], j: usize, at: usize) -> Parsed<usize> {
    let mut k = j + 1;
    if k < bytes.len() && (bytes[k] == b'+' || bytes[k] == b'-') {
        k += 1;
    }
    if k < bytes.len() && bytes[k].is_ascii_digit() {
        Ok(digits_end(bytes, k))
    } else {
        Err(err(at, "an exponent in a number needs digits (write 1e-6)"))
    }
}

/// The byte after the name starting at byte `j`.
fn name_end(bytes: &[u8], mut j: usize) -> usize {
    while j < bytes.len() && (bytes[j].is_ascii_alphanumeric() || bytes[j] == b'_') {
        j += 1;
    }
    j
}

/// The one-character token `c` at character `start` (`following` is the byte after it), or
/// why it is not one.
fn operator(c: char, following: Option<u8>, start: usize) -> Parsed<Tok> {
    let tok = match c {
        '+' | '-' | '*' | '/' | '^' => Tok::Op(c),
        '(' => Tok::Open,
        ')' => Tok::Close,
        '\u{2212}' => {
            return Err(err(start, "'−' (U+2212) is not the minus sign: write '-'"));
        }
        '·' | '×' => return Err(err(start, format!("'{c}' is not an operator: write '*'"))),
        _ => {
            return Err(err(
                start,
                format!(
                    "unexpected character {c:?}: the model uses numbers, input names, + - * / ^, parentheses, pi and the functions {}",
                    function_list()
                ),
            ))
        }
    };
    // `**` is a common spelling of a power; say so instead of "unexpected '*'".
    if c == '*' && following == Some(b'*') {
        return Err(err(start, "'**' is not an operator: write '^' for a power"));
    }
    Ok(tok)
}

pub fn function_list() -> String {
    Func::ALL
        .iter()
        .map(|f| f.name())
        .collect::<Vec<_>>()
        .join(" ")
}

struct Parser<'p, 't> {
    tokens: &'p [Token],
    pos: usize,
    depth: usize,
    tree: Tree<'t>,
}

impl Parser<'_, '_> {
    fn peek(&self) -> Token {
        self.tokens[self.pos]
    }

    fn next(&mut self) -> Token {
        let t = self.tokens[self.pos];
        if self.pos + 1 < self.tokens.len() {
            self.pos += 1;
        }
        t
    }

    fn enter(&mut self, at: usize) -> Parsed<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(err(at, format!("nested deeper than {MAX_DEPTH} levels")));
        }
        Ok(())
    }

    fn expr(&mut self) -> Parsed<ExprId> {
        self.enter(self.peek().start)?;
        let mut left = self.term()?;
        while let Tok::Op(c @ ('+' | '-')) = self.peek().tok {
            let at = self.next().start;
            let right = self.term()?;
            let op = if c == '+' { BinOp::Add } else { BinOp::Sub };
            left = self.binary(op, at, left, right);
        }
        self.depth -= 1;
        Ok(left)
    }

    fn term(&mut self) -> Parsed<ExprId> {
        let mut left = self.unary()?;
        while let Tok::Op(c @ ('*' | '/')) = self.peek().tok {
            let at = self.next().start;
            let right = self.unary()?;
            let op = if c == '*' { BinOp::Mul } else { BinOp::Div };
            left = self.binary(op, at, left, right);
        }
        Ok(left)
    }

    fn unary(&mut self) -> Parsed<ExprId> {
        if let Tok::Op(c @ ('-' | '+')) = self.peek().tok {
            let start = self.next().start;
            self.enter(start)?;
            let operand = self.unary()?;
            self.depth -= 1;
            let span = Span {
                start,
                end: self.tree.span(operand).end,
            };
            if c == '-' {
                return Ok(self.tree.push(Node::Neg(operand), span));
            }
            self.tree.nodes[operand].span = span;
            return Ok(operand);
        }
        self.power()
    }

    fn power(&mut self) -> Parsed<ExprId> {
        let base = self.primary()?;
        if let Tok::Op('^') = self.peek().tok {
            let at = self.next().start;
            self.enter(at)?;
            let exponent = self.unary()?;
            self.depth -= 1;
            return Ok(self.binary(BinOp::Pow, at, base, exponent));
        }
        Ok(base)
    }

    fn primary(&mut self) -> Parsed<ExprId> {
        let token = self.next();
        let span = Span {
            start: token.start,
            end: token.end,
        };
        match token.tok {
            Tok::Number(v) => Ok(self.tree.push(Node::Number(v), span)),
            Tok::Name(name) => self.named(name, span),
            Tok::Open => {
                let inner = self.expr()?;
                let close = self.close(token.start)?;
                self.tree.nodes[inner].span = Span {
                    start: token.start,
                    end: close.end,
                };
                Ok(inner)
            }
            other => Err(err(
                token.start,
                format!(
                    "expected a number, an input name, a function or '(', found {}",
                    describe(&other, self.tree.text)
                ),
            )),
        }
    }

    /// A name already read at `span`: a function call, the constant pi or an input.
    fn named(&mut self, bytes: Bytes, span: Span) -> Parsed<ExprId> {
        let name = self.tree.text(bytes);
        if let Some(func) = Func::from_name(name) {
            return self.call(func, name, span.start);
        }
        if self.peek().tok == Tok::Open {
            return Err(err(
                span.start,
                format!("unknown function '{name}': use {}", function_list()),
            ));
        }
        let node = if name == "pi" {
            Node::Pi
        } else {
            Node::Name(bytes)
        };
        Ok(self.tree.push(node, span))
    }

    /// The parenthesised argument of `func`, whose name was read at `start`.
    fn call(&mut self, func: Func, name: &str, start: usize) -> Parsed<ExprId> {
        if self.peek().tok != Tok::Open {
            return Err(err(
                self.peek().start,
                format!("'{name}' is a function: write {name}(…)"),
            ));
        }
        let open = self.next();
        let argument = self.expr()?;
        let close = self.close(open.start)?;
        let span = Span {
            start,
            end: close.end,
        };
        Ok(self.tree.push(Node::Call(func, argument), span))
    }

    /// The ')' matching the '(' at character `open`.
    fn close(&mut self, open: usize) -> Parsed<Token> {
        let close = self.next();
        if close.tok != Tok::Close {
            return Err(err(
                close.start,
                format!(
                    "expected ')' to close the '(' at character {open}, found {}",
                    describe(&close.tok, self.tree.text)
                ),
            ));
        }
        Ok(close)
    }

    fn binary(&mut self, op: BinOp, at: usize, left: ExprId, right: ExprId) -> ExprId {
        let span = Span {
            start: self.tree.span(left).start,
            end: self.tree.span(right).end,
        };
        self.tree.push(
            Node::Binary {
                op,
                at,
                left,
                right,
            },
            span,
        )
    }
}

/// Parses a model; errors carry the 1-based character position.
pub fn parse(text: &str) -> Result<Tree<'_>, ParseError> {
    // No more bytes than the limit is no more characters: only a long text is counted.
    if text.len() > MAX_MODEL_CHARS && text.chars().nth(MAX_MODEL_CHARS).is_some() {
        return Err(*err(
            MAX_MODEL_CHARS + 1,
            format!("the model is longer than {MAX_MODEL_CHARS} characters"),
        ));
    }
    let mut tokens = TOKENS.take();
    tokens.clear();
    let tree = tokenize(text, &mut tokens).and_then(|()| parse_tokens(text, &tokens));
    TOKENS.set(tokens);
    tree.map_err(|e| *e)
}

fn parse_tokens<'t>(text: &'t str, tokens: &[Token]) -> Parsed<Tree<'t>> {
    if tokens.len() == 1 {
        return Err(err(1, "the model is empty"));
    }
    let mut nodes = NODES.take();
    nodes.clear();
    let mut parser = Parser {
        tokens,
        pos: 0,
        depth: 0,
        tree: Tree { text, nodes },
    };
    parser.expr()?;
    let rest = parser.peek();
    if rest.tok != Tok::End {
        let message = match rest.tok {
            Tok::Close => "')' without a matching '('".to_string(),
            _ => format!(
                "expected an operator or the end of the model, found {}",
                describe(&rest.tok, text)
            ),
        };
        return Err(err(rest.start, message));
    }
    Ok(parser.tree)
}

/// Every input name used, with where it is first written, in order of first appearance.
pub fn names<'t>(tree: &Tree<'t>, out: &mut Vec<(&'t str, Span)>) {
    for e in &tree.nodes {
        if let Node::Name(bytes) = e.node {
            let n = tree.text(bytes);
            if !out.iter().any(|(m, _)| same_name(m, n)) {
                out.push((n, e.span));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The tree written back with every operation parenthesised.
    fn show(t: &Tree, id: ExprId) -> String {
        match t.get(id).node {
            Node::Number(v) => format!("{v}"),
            Node::Pi => "pi".into(),
            Node::Name(n) => t.text(n).to_string(),
            Node::Neg(x) => format!("(-{})", show(t, x)),
            Node::Binary {
                op, left, right, ..
            } => format!("({} {} {})", show(t, left), op.symbol(), show(t, right)),
            Node::Call(f, x) => format!("{}({})", f.name(), show(t, x)),
        }
    }

    fn p(s: &str) -> String {
        let tree = parse(s).unwrap_or_else(|e| panic!("{s}: {e}"));
        show(&tree, tree.root())
    }

    #[test]
    fn every_function_is_found_by_its_name() {
        for f in Func::ALL {
            assert_eq!(Func::from_name(f.name()), Some(f));
        }
        assert_eq!(Func::from_name("pi"), None);
    }

    #[test]
    fn precedence_and_associativity() {
        assert_eq!(p("a + b * c"), "(a + (b * c))");
        assert_eq!(p("a - b - c"), "((a - b) - c)");
        assert_eq!(p("a / b / c"), "((a / b) / c)");
        assert_eq!(p("a ^ b ^ c"), "(a ^ (b ^ c))");
        assert_eq!(p("-x^2"), "(-(x ^ 2))");
        assert_eq!(p("2^-1"), "(2 ^ (-1))");
        assert_eq!(p("-a*b"), "((-a) * b)");
        assert_eq!(p("+a"), "a");
        assert_eq!(
            p("V^2 / R0 / (1 + alpha * (t - t0))"),
            "(((V ^ 2) / R0) / (1 + (alpha * (t - t0))))"
        );
        assert_eq!(p("sqrt(x) * pi"), "(sqrt(x) * pi)");
        assert_eq!(p("1.5e-3 + .5 + 2E+2"), "((0.0015 + 0.5) + 200)");
        assert_eq!(p("log10(ln(exp(x_1)))"), "log10(ln(exp(x_1)))");
    }

    #[test]
    fn spans_are_character_positions() {
        let e = parse("  µ").unwrap_err();
        assert_eq!(e.position, 3, "{e}");
        let e = parse("a + * b").unwrap_err();
        assert_eq!(e.position, 5, "{e}");
        let e = parse("(a + b").unwrap_err();
        assert_eq!(e.position, 7, "{e}");
        assert!(e.message.contains("character 1"), "{e}");
        let e = parse("a + b)").unwrap_err();
        assert_eq!(e.position, 6);
        let e = parse("a b").unwrap_err();
        assert_eq!(e.position, 3);
        let e = parse("foo(x)").unwrap_err();
        assert_eq!(e.position, 1);
        assert!(e.message.contains("unknown function"));
        let e = parse("sqrt x").unwrap_err();
        assert_eq!(e.position, 6);
        let e = parse("2x").unwrap_err();
        assert_eq!(e.position, 2);
        let e = parse("a ** 2").unwrap_err();
        assert_eq!(e.position, 3);
        let e = parse("").unwrap_err();
        assert_eq!(e.position, 1);
        let e = parse("1e").unwrap_err();
        assert_eq!(e.position, 2);
        let e = parse("a − b").unwrap_err();
        assert_eq!(e.position, 3);
        // A no-break space is one character, though two bytes.
        let e = parse("\u{a0}a + * b").unwrap_err();
        assert_eq!(e.position, 6, "{e}");
        let e = parse("a\u{a0}+ 2x").unwrap_err();
        assert_eq!(e.position, 6, "{e}");
        let e = parse("1e999").unwrap_err();
        assert_eq!(e.position, 1);
        let tree = parse("ab - c").unwrap();
        let Node::Binary { at, .. } = tree.get(tree.root()).node else {
            panic!()
        };
        assert_eq!(at, 4);
    }

    #[test]
    fn depth_and_length_are_bounded() {
        let deep = format!("{}x{}", "(".repeat(5000), ")".repeat(5000));
        assert!(parse(&deep).is_err());
        let minus = format!("{}x", "-".repeat(5000));
        assert!(parse(&minus).is_err());
        let pow = format!("x{}", "^x".repeat(1000));
        assert!(parse(&pow).is_err());
        let long = "x+".repeat(3000) + "x";
        assert!(parse(&long).unwrap_err().message.contains("longer"));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        #[test]
        fn never_panics(s in ".{0,40}") {
            let _ = parse(&s);
        }

        #[test]
        fn never_panics_on_model_soup(parts in proptest::collection::vec(proptest::sample::select(vec![
            "x", "y", "1", "2.5", "e", "1e", "(", ")", "+", "-", "*", "/", "^", "sqrt", "pi", " ", ".", "ln(",
        ]), 0..30)) {
            let s = parts.concat();
            let parsed = parse(&s);
            if let Err(e) = &parsed {
                prop_assert!(e.position >= 1 && e.position <= s.chars().count() + 1, "{}: {}", s, e);
            }
        }
    }
}
