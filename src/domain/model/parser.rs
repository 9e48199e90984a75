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

    pub fn from_name(name: &str) -> Option<Func> {
        Func::ALL.iter().copied().find(|f| f.name() == name)
    }
}

/// Names an input may not take: the constant and the functions.
pub fn is_reserved(name: &str) -> bool {
    name == "pi" || Func::from_name(name).is_some()
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

#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    Number(f64),
    Pi,
    Name(String),
    Neg(Box<Expr>),
    Binary {
        op: BinOp,
        /// Position of the operator itself.
        at: usize,
        left: Box<Expr>,
        right: Box<Expr>,
    },
    Call(Func, Box<Expr>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    pub node: Node,
    pub span: Span,
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

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Number(f64),
    Name(String),
    Op(char),
    Open,
    Close,
    End,
}

#[derive(Debug, Clone)]
struct Token {
    tok: Tok,
    /// 1-based first character.
    start: usize,
    /// 1-based position after the last character.
    end: usize,
}

fn describe(tok: &Tok) -> String {
    match tok {
        Tok::Number(_) => "a number".to_string(),
        Tok::Name(n) => format!("'{n}'"),
        Tok::Op(c) => format!("'{c}'"),
        Tok::Open => "'('".to_string(),
        Tok::Close => "')'".to_string(),
        Tok::End => "the end of the model".to_string(),
    }
}

fn err(position: usize, message: impl Into<String>) -> ParseError {
    ParseError {
        position,
        message: message.into(),
    }
}

fn tokenize(text: &str) -> Result<Vec<Token>, ParseError> {
    let chars: Vec<char> = text.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let start = i + 1;
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        let (tok, next) = if starts_number(&chars, i) {
            let (value, next) = number(&chars, i)?;
            (Tok::Number(value), next)
        } else if c.is_ascii_alphabetic() || c == '_' {
            let next = name_end(&chars, i);
            (Tok::Name(chars[i..next].iter().collect()), next)
        } else {
            (operator(&chars, i)?, i + 1)
        };
        tokens.push(Token {
            tok,
            start,
            end: next + 1,
        });
        i = next;
    }
    tokens.push(Token {
        tok: Tok::End,
        start: chars.len() + 1,
        end: chars.len() + 1,
    });
    Ok(tokens)
}

/// A digit, or a point followed by a digit (`.5`).
fn starts_number(chars: &[char], i: usize) -> bool {
    chars[i].is_ascii_digit()
        || (chars[i] == '.' && chars.get(i + 1).is_some_and(|d| d.is_ascii_digit()))
}

/// First index at or after `j` that is not a digit.
fn digits_end(chars: &[char], mut j: usize) -> usize {
    while j < chars.len() && chars[j].is_ascii_digit() {
        j += 1;
    }
    j
}

/// The number starting at index `i`: its value and the index after it.
fn number(chars: &[char], i: usize) -> Result<(f64, usize), ParseError> {
    let start = i + 1;
    let mut j = digits_end(chars, i);
    if j < chars.len() && chars[j] == '.' {
        j = digits_end(chars, j + 1);
    }
    if j < chars.len() && (chars[j] == 'e' || chars[j] == 'E') {
        j = exponent_end(chars, j)?;
    }
    let literal: String = chars[i..j].iter().collect();
    let value: f64 = literal
        .parse()
        .map_err(|_| err(start, format!("'{literal}' is not a number")))?;
    if !value.is_finite() {
        return Err(err(start, format!("'{literal}' is too large")));
    }
    if j < chars.len() && (chars[j].is_ascii_alphabetic() || chars[j] == '_') {
        return Err(err(
            j + 1,
            "a number directly followed by a name: write '*' between them (units are given with the inputs, not in the model)",
        ));
    }
    Ok((value, j))
}

/// The index after the exponent whose 'e' or 'E' is at index `j`.
fn exponent_end(chars: &[char], j: usize) -> Result<usize, ParseError> {
    let mut k = j + 1;
    if k < chars.len() && (chars[k] == '+' || chars[k] == '-') {
        k += 1;
    }
    if k < chars.len() && chars[k].is_ascii_digit() {
        Ok(digits_end(chars, k))
    } else {
        Err(err(
            j + 1,
            "an exponent in a number needs digits (write 1e-6)",
        ))
    }
}

/// The index after the name starting at index `i`.
fn name_end(chars: &[char], mut j: usize) -> usize {
    while j < chars.len() && (chars[j].is_ascii_alphanumeric() || chars[j] == '_') {
        j += 1;
    }
    j
}

/// The one-character token at index `i`, or why it is not one.
fn operator(chars: &[char], i: usize) -> Result<Tok, ParseError> {
    let c = chars[i];
    let start = i + 1;
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
    if c == '*' && chars.get(i + 1) == Some(&'*') {
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

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
    depth: usize,
}

impl Parser {
    fn peek(&self) -> &Token {
        &self.tokens[self.pos]
    }

    fn next(&mut self) -> Token {
        let t = self.tokens[self.pos].clone();
        if self.pos + 1 < self.tokens.len() {
            self.pos += 1;
        }
        t
    }

    fn enter(&mut self, at: usize) -> Result<(), ParseError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(err(at, format!("nested deeper than {MAX_DEPTH} levels")));
        }
        Ok(())
    }

    fn expr(&mut self) -> Result<Expr, ParseError> {
        self.enter(self.peek().start)?;
        let mut left = self.term()?;
        while let Tok::Op(c @ ('+' | '-')) = self.peek().tok {
            let at = self.next().start;
            let right = self.term()?;
            let op = if c == '+' { BinOp::Add } else { BinOp::Sub };
            left = binary(op, at, left, right);
        }
        self.depth -= 1;
        Ok(left)
    }

    fn term(&mut self) -> Result<Expr, ParseError> {
        let mut left = self.unary()?;
        while let Tok::Op(c @ ('*' | '/')) = self.peek().tok {
            let at = self.next().start;
            let right = self.unary()?;
            let op = if c == '*' { BinOp::Mul } else { BinOp::Div };
            left = binary(op, at, left, right);
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Expr, ParseError> {
        if let Tok::Op(c @ ('-' | '+')) = self.peek().tok {
            let start = self.next().start;
            self.enter(start)?;
            let operand = self.unary()?;
            self.depth -= 1;
            let span = Span {
                start,
                end: operand.span.end,
            };
            return Ok(if c == '-' {
                Expr {
                    node: Node::Neg(Box::new(operand)),
                    span,
                }
            } else {
                Expr {
                    node: operand.node,
                    span,
                }
            });
        }
        self.power()
    }

    fn power(&mut self) -> Result<Expr, ParseError> {
        let base = self.primary()?;
        if let Tok::Op('^') = self.peek().tok {
            let at = self.next().start;
            self.enter(at)?;
            let exponent = self.unary()?;
            self.depth -= 1;
            return Ok(binary(BinOp::Pow, at, base, exponent));
        }
        Ok(base)
    }

    fn primary(&mut self) -> Result<Expr, ParseError> {
        let token = self.next();
        let span = Span {
            start: token.start,
            end: token.end,
        };
        match token.tok {
            Tok::Number(v) => Ok(Expr {
                node: Node::Number(v),
                span,
            }),
            Tok::Name(name) => self.named(name, span),
            Tok::Open => {
                let inner = self.expr()?;
                let close = self.close(token.start)?;
                Ok(Expr {
                    node: inner.node,
                    span: Span {
                        start: token.start,
                        end: close.end,
                    },
                })
            }
            other => Err(err(
                token.start,
                format!(
                    "expected a number, an input name, a function or '(', found {}",
                    describe(&other)
                ),
            )),
        }
    }

    /// A name already read at `span`: a function call, the constant pi or an input.
    fn named(&mut self, name: String, span: Span) -> Result<Expr, ParseError> {
        if let Some(func) = Func::from_name(&name) {
            return self.call(func, &name, span.start);
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
            Node::Name(name)
        };
        Ok(Expr { node, span })
    }

    /// The parenthesised argument of `func`, whose name was read at `start`.
    fn call(&mut self, func: Func, name: &str, start: usize) -> Result<Expr, ParseError> {
        if self.peek().tok != Tok::Open {
            return Err(err(
                self.peek().start,
                format!("'{name}' is a function: write {name}(…)"),
            ));
        }
        let open = self.next();
        let argument = self.expr()?;
        let close = self.close(open.start)?;
        Ok(Expr {
            node: Node::Call(func, Box::new(argument)),
            span: Span {
                start,
                end: close.end,
            },
        })
    }

    /// The ')' matching the '(' at character `open`.
    fn close(&mut self, open: usize) -> Result<Token, ParseError> {
        let close = self.next();
        if close.tok != Tok::Close {
            return Err(err(
                close.start,
                format!(
                    "expected ')' to close the '(' at character {open}, found {}",
                    describe(&close.tok)
                ),
            ));
        }
        Ok(close)
    }
}

fn binary(op: BinOp, at: usize, left: Expr, right: Expr) -> Expr {
    let span = Span {
        start: left.span.start,
        end: right.span.end,
    };
    Expr {
        node: Node::Binary {
            op,
            at,
            left: Box::new(left),
            right: Box::new(right),
        },
        span,
    }
}

/// Parses a model; errors carry the 1-based character position.
pub fn parse(text: &str) -> Result<Expr, ParseError> {
    if text.chars().nth(MAX_MODEL_CHARS).is_some() {
        return Err(err(
            MAX_MODEL_CHARS + 1,
            format!("the model is longer than {MAX_MODEL_CHARS} characters"),
        ));
    }
    let tokens = tokenize(text)?;
    if tokens.len() == 1 {
        return Err(err(1, "the model is empty"));
    }
    let mut parser = Parser {
        tokens,
        pos: 0,
        depth: 0,
    };
    let expr = parser.expr()?;
    let rest = parser.peek();
    if rest.tok != Tok::End {
        let message = match rest.tok {
            Tok::Close => "')' without a matching '('".to_string(),
            _ => format!(
                "expected an operator or the end of the model, found {}",
                describe(&rest.tok)
            ),
        };
        return Err(err(rest.start, message));
    }
    Ok(expr)
}

/// Every input name used, in order of first appearance.
pub fn names(expr: &Expr, out: &mut Vec<(String, Span)>) {
    match &expr.node {
        Node::Number(_) | Node::Pi => {}
        Node::Name(n) => {
            if !out.iter().any(|(m, _)| m == n) {
                out.push((n.clone(), expr.span));
            }
        }
        Node::Neg(e) | Node::Call(_, e) => names(e, out),
        Node::Binary { left, right, .. } => {
            names(left, out);
            names(right, out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The tree written back with every operation parenthesised.
    fn show(e: &Expr) -> String {
        match &e.node {
            Node::Number(v) => format!("{v}"),
            Node::Pi => "pi".into(),
            Node::Name(n) => n.clone(),
            Node::Neg(x) => format!("(-{})", show(x)),
            Node::Binary {
                op, left, right, ..
            } => format!("({} {} {})", show(left), op.symbol(), show(right)),
            Node::Call(f, x) => format!("{}({})", f.name(), show(x)),
        }
    }

    fn p(s: &str) -> String {
        show(&parse(s).unwrap_or_else(|e| panic!("{s}: {e}")))
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
        let e = parse("1e999").unwrap_err();
        assert_eq!(e.position, 1);
        let Node::Binary { at, .. } = parse("ab - c").unwrap().node else {
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
            if let Err(e) = parse(&s) {
                prop_assert!(e.position >= 1 && e.position <= s.chars().count() + 1, "{}: {}", s, e);
            }
        }
    }
}
