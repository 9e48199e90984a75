//! Unit checking and compilation of a parsed model (DESIGN 5b).
//!
//! One pass over the tree checks dimensions with the runtime algebra of `quantity.rs`
//! ([`Dimension`]) and emits a flat program in static single assignment form: operation `k`
//! writes register `k`, operands are earlier registers. The same program is evaluated
//!
//! - once with dual numbers ([`Dual`]) per input at the estimates: the value and the exact
//!   first derivative (forward-mode automatic differentiation), and
//! - in blocks of trials by [`Program::eval_block`] in the Monte Carlo loop: one pass over the
//!   operations per block, each operation a tight loop over the block's trials, into registers
//!   allocated once.
//!
//! Units: every input is loaded in its own unit and scaled to coherent SI (`x·factor`), so `+`
//! and `-` of commensurable operands need no further conversion (this is the same as converting
//! the right operand to the left one's unit); the result is divided by the measurand's factor.
//! Derivatives of the program are therefore ∂y/∂x_i in measurand unit per input unit.
//!
//! An input in °C/°F is a point on an affine scale: the only place it may appear is one side
//! of a difference with another affine temperature, `t - t0`, which is compiled as
//! `(t − t0 expressed on t's scale) · factor_t`, a kelvin-sized interval.

use super::parser::{BinOp, ExprId, Func, Node, Tree};
use crate::domain::quantity::Dimension;

/// What the checker needs of an input's unit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct InputScale {
    pub dimension: Dimension,
    /// SI value of one unit, as an interval.
    pub factor: f64,
    /// Kelvin of the scale's zero for °C/°F (affine); 0 otherwise.
    pub offset: f64,
}

impl InputScale {
    pub fn is_affine(&self) -> bool {
        self.offset != 0.0
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Op {
    /// Raw value of input i, in its own unit.
    Input(usize),
    Const(f64),
    Add(usize, usize),
    Sub(usize, usize),
    Mul(usize, usize),
    Div(usize, usize),
    Neg(usize),
    /// a · k
    Scale(usize, f64),
    /// a · k + m
    Affine(usize, f64, f64),
    Powi(usize, i32),
    /// a ^ constant
    Powf(usize, f64),
    /// a ^ b, both computed
    Pow(usize, usize),
    Call(Func, usize),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Program {
    pub ops: Vec<Op>,
    pub inputs: usize,
}

/// A unit or syntax problem in the model; `position` is the 1-based character it is about.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckError {
    pub position: Option<usize>,
    pub message: String,
}

/// Boxed while checking: the checker returns a result from every node, and a small error keeps
/// that result in registers.
type Checked<T> = Result<T, Box<CheckError>>;

fn at(position: usize, message: impl Into<String>) -> Box<CheckError> {
    Box::new(CheckError {
        position: Some(position),
        message: message.into(),
    })
}

#[derive(Debug, Clone, Copy)]
enum Val {
    Reg {
        reg: usize,
        dim: Dimension,
        constant: Option<f64>,
    },
    /// An affine temperature input, not yet placed in a difference.
    Affine { input: usize, position: usize },
}

struct Compiler<'a> {
    tree: &'a Tree<'a>,
    scales: &'a [InputScale],
    names: &'a [&'a str],
    ops: Vec<Op>,
}

impl Compiler<'_> {
    fn emit(&mut self, op: Op) -> usize {
        self.ops.push(op);
        self.ops.len() - 1
    }

    /// A constant result is emitted as a constant: the Monte Carlo loop never recomputes it.
    fn emit_value(&mut self, op: Op, dim: Dimension, constant: Option<f64>) -> Val {
        let reg = match constant {
            Some(c) => self.emit(Op::Const(c)),
            None => self.emit(op),
        };
        Val::Reg { reg, dim, constant }
    }

    fn value(&self, v: Val) -> Checked<(usize, Dimension, Option<f64>)> {
        match v {
            Val::Reg { reg, dim, constant } => Ok((reg, dim, constant)),
            Val::Affine { input, position } => Err(at(
                position,
                format!(
                    "{0} is a temperature on the Celsius or Fahrenheit scale (an affine point): it may only be one side of a difference with another such temperature; give {0} in K or subtract a reference temperature ({0} - {0}_ref)",
                    self.names[input]
                ),
            )),
        }
    }

    fn check(&mut self, id: ExprId) -> Checked<Val> {
        let e = *self.tree.get(id);
        match e.node {
            Node::Number(v) => Ok(self.emit_value(Op::Const(v), Dimension::DIMENSIONLESS, Some(v))),
            Node::Pi => Ok(self.emit_value(
                Op::Const(std::f64::consts::PI),
                Dimension::DIMENSIONLESS,
                Some(std::f64::consts::PI),
            )),
            Node::Name(name) => self.input(self.tree.text(name), e.span.start),
            Node::Neg(x) => {
                let v = self.check(x)?;
                let (a, dim, c) = self.value(v)?;
                Ok(self.emit_value(Op::Neg(a), dim, c.map(|c| -c)))
            }
            Node::Call(func, x) => self.call(func, x, e.span.start),
            Node::Binary {
                op,
                at: position,
                left,
                right,
            } => self.binary(op, position, left, right),
        }
    }

    /// An input written at `position`, scaled to coherent SI; an affine temperature is kept
    /// apart until it meets the other side of its difference.
    fn input(&mut self, name: &str, position: usize) -> Checked<Val> {
        let i = self
            .names
            .iter()
            .position(|n| super::parser::same_name(n, name))
            .ok_or_else(|| at(position, format!("'{name}' is not an input")))?;
        let scale = self.scales[i];
        if scale.is_affine() {
            return Ok(Val::Affine { input: i, position });
        }
        let load = self.emit(Op::Input(i));
        let reg = if scale.factor == 1.0 {
            load
        } else {
            self.emit(Op::Scale(load, scale.factor))
        };
        Ok(Val::Reg {
            reg,
            dim: scale.dimension,
            constant: None,
        })
    }

    /// `func(x)`, the call written at `position`; a constant argument is folded. Every function
    /// takes a dimensionless argument (DESIGN 5b), sqrt and abs included.
    fn call(&mut self, func: Func, x: ExprId, position: usize) -> Checked<Val> {
        let v = self.check(x)?;
        let (a, dim, c) = self.value(v)?;
        if !dim.is_dimensionless() {
            return Err(at(
                self.tree.get(x).span.start,
                dimensioned_argument(func, dim),
            ));
        }
        let constant = c.map(|c| apply(func, c)).filter(|v| v.is_finite());
        if c.is_some() && constant.is_none() {
            return Err(at(
                position,
                format!(
                    "{}({}) is not a finite number",
                    func.name(),
                    c.unwrap_or(0.0)
                ),
            ));
        }
        Ok(self.emit_value(Op::Call(func, a), Dimension::DIMENSIONLESS, constant))
    }

    /// t − t0 of two affine inputs (°C, °F) on t's scale, times t's factor: an
    /// interval, exact when both are in the same unit.
    fn temperature_difference(&mut self, i: usize, j: usize) -> Val {
        let (si, sj) = (self.scales[i], self.scales[j]);
        let a = self.emit(Op::Input(i));
        let b = self.emit(Op::Input(j));
        let ratio = sj.factor / si.factor;
        let shift = (sj.offset - si.offset) / si.factor;
        let b = if ratio == 1.0 && shift == 0.0 {
            b
        } else {
            self.emit(Op::Affine(b, ratio, shift))
        };
        let d = self.emit(Op::Sub(a, b));
        let reg = if si.factor == 1.0 {
            d
        } else {
            self.emit(Op::Scale(d, si.factor))
        };
        Val::Reg {
            reg,
            dim: si.dimension,
            constant: None,
        }
    }

    /// base ^ exponent: a dimensionless exponent; a dimensioned base only to a
    /// constant power that leaves integer exponents (m^0.5 is no unit).
    fn power(
        &mut self,
        (a, da, ca): (usize, Dimension, Option<f64>),
        (b, db, cb): (usize, Dimension, Option<f64>),
        position: usize,
        exponent_at: usize,
    ) -> Checked<Val> {
        if !db.is_dimensionless() {
            return Err(at(
                exponent_at,
                format!("an exponent must be dimensionless, found {}", db.describe()),
            ));
        }
        let both = ca.zip(cb);
        let c = both.map(|(x, y)| x.powf(y)).filter(|v| v.is_finite());
        if both.is_some() && c.is_none() {
            return Err(at(position, "a constant power in the model is not finite"));
        }
        if da.is_dimensionless() {
            let ir = match cb {
                Some(p) if p == p.trunc() && p.abs() <= 64.0 => Op::Powi(a, p as i32),
                Some(p) => Op::Powf(a, p),
                None => Op::Pow(a, b),
            };
            return Ok(self.emit_value(ir, da, c));
        }
        let Some(p) = cb else {
            return Err(at(
                exponent_at,
                format!(
                    "the exponent of a base of dimension {} must be a constant (no input in it)",
                    da.describe()
                ),
            ));
        };
        let mut out = [0i8; 7];
        for (o, e) in out.iter_mut().zip(da.0) {
            let x = f64::from(e) * p;
            if (x - x.round()).abs() > 1e-9 || x.abs() > 127.0 {
                return Err(at(
                    exponent_at,
                    format!(
                        "{} to the power {p} has no dimension with integer exponents",
                        da.describe()
                    ),
                ));
            }
            *o = x.round() as i8;
        }
        let ir = if p == p.trunc() && p.abs() <= 64.0 {
            Op::Powi(a, p as i32)
        } else {
            Op::Powf(a, p)
        };
        Ok(self.emit_value(ir, Dimension(out), c))
    }

    fn binary(&mut self, op: BinOp, position: usize, left: ExprId, right: ExprId) -> Checked<Val> {
        let l = self.check(left)?;
        let r = self.check(right)?;
        if op == BinOp::Sub {
            if let (Val::Affine { input: i, .. }, Val::Affine { input: j, .. }) = (l, r) {
                return Ok(self.temperature_difference(i, j));
            }
        }
        let (a, da, ca) = self.value(l)?;
        let (b, db, cb) = self.value(r)?;
        let both = ca.zip(cb);
        let fold = |f: fn(f64, f64) -> f64| both.map(|(x, y)| f(x, y));
        match op {
            BinOp::Add | BinOp::Sub => {
                if da != db {
                    return Err(at(
                        position,
                        format!(
                            "'{}' needs operands of one dimension: the left is {}, the right {}",
                            op.symbol(),
                            da.describe(),
                            db.describe()
                        ),
                    ));
                }
                let (ir, c) = if op == BinOp::Add {
                    (Op::Add(a, b), fold(|x, y| x + y))
                } else {
                    (Op::Sub(a, b), fold(|x, y| x - y))
                };
                Ok(self.emit_value(ir, da, c))
            }
            BinOp::Mul | BinOp::Div => {
                let dim = if op == BinOp::Mul {
                    da.checked_mul(db)
                } else {
                    da.checked_div(db)
                }
                .ok_or_else(|| at(position, "the dimension's exponents are out of range"))?;
                let (ir, c) = if op == BinOp::Mul {
                    (Op::Mul(a, b), fold(|x, y| x * y))
                } else {
                    (Op::Div(a, b), fold(|x, y| x / y))
                };
                if let Some(c) = c {
                    if !c.is_finite() {
                        return Err(at(position, "a constant part of the model is not finite"));
                    }
                }
                Ok(self.emit_value(ir, dim, c))
            }
            BinOp::Pow => {
                let exponent_at = self.tree.get(right).span.start;
                self.power((a, da, ca), (b, db, cb), position, exponent_at)
            }
        }
    }
}

/// Why a function refuses an argument of dimension `dim`. A power is how a metrologist takes
/// the root of a quantity with a unit (`(a^2 + b^2)^(1/2)`, checked by the power rule), so sqrt
/// and abs say so.
fn dimensioned_argument(func: Func, dim: Dimension) -> String {
    let hint = match func {
        Func::Sqrt => "; for the square root of a quantity with a unit write (…)^(1/2)",
        Func::Abs => "; for |x| of a quantity with a unit write (x^2)^(1/2)",
        _ => "",
    };
    format!(
        "the argument of {} must be dimensionless (angles in radians), found {}{hint}",
        func.name(),
        dim.describe()
    )
}

/// Checks units through `tree` and compiles it. `names[i]` and `scales[i]` describe input i;
/// the result must have `measurand.dimension`, and is expressed in the measurand's unit.
pub fn compile(
    tree: &Tree,
    names: &[&str],
    scales: &[InputScale],
    measurand: Dimension,
    measurand_factor: f64,
) -> Result<Program, CheckError> {
    let mut compiler = Compiler {
        tree,
        scales,
        names,
        // Mostly an operation per node; kept under a kilobyte for a model of a line or two,
        // where glibc's malloc would first consolidate its free lists.
        ops: Vec::with_capacity(tree.len() + 1),
    };
    let (reg, dim, _) = compiler
        .check(tree.root())
        .and_then(|v| compiler.value(v))
        .map_err(|e| *e)?;
    if dim != measurand {
        return Err(CheckError {
            position: None,
            message: format!(
                "the model gives a quantity of dimension {}; the measurand's unit needs {}",
                dim.describe(),
                measurand.describe()
            ),
        });
    }
    if measurand_factor != 1.0 {
        compiler.emit(Op::Scale(reg, 1.0 / measurand_factor));
    } else if reg + 1 != compiler.ops.len() {
        compiler.emit(Op::Scale(reg, 1.0));
    }
    Ok(Program {
        ops: compiler.ops,
        inputs: names.len(),
    })
}

pub fn apply(f: Func, x: f64) -> f64 {
    match f {
        Func::Sqrt => x.sqrt(),
        Func::Exp => x.exp(),
        Func::Ln => x.ln(),
        Func::Log10 => x.log10(),
        Func::Sin => x.sin(),
        Func::Cos => x.cos(),
        Func::Tan => x.tan(),
        Func::Asin => x.asin(),
        Func::Acos => x.acos(),
        Func::Atan => x.atan(),
        Func::Abs => x.abs(),
    }
}

/// A dual number v + d·ε (ε² = 0): forward-mode automatic differentiation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Dual {
    pub v: f64,
    pub d: f64,
}

impl Dual {
    /// Operation `op` of a program on the registers computed so far, at the inputs `x`;
    /// the input `wrt` is the one differentiated by.
    fn operation(op: Op, x: &[f64], wrt: Option<usize>, regs: &[Dual]) -> Dual {
        let r = |i: usize| regs[i];
        match op {
            Op::Input(i) => Dual {
                v: x[i],
                d: if Some(i) == wrt { 1.0 } else { 0.0 },
            },
            Op::Const(c) => Dual { v: c, d: 0.0 },
            Op::Add(a, b) => Dual {
                v: r(a).v + r(b).v,
                d: r(a).d + r(b).d,
            },
            Op::Sub(a, b) => Dual {
                v: r(a).v - r(b).v,
                d: r(a).d - r(b).d,
            },
            Op::Mul(a, b) => Dual {
                v: r(a).v * r(b).v,
                d: r(a).d * r(b).v + r(a).v * r(b).d,
            },
            Op::Div(a, b) => {
                let (p, q) = (r(a), r(b));
                let v = p.v / q.v;
                Dual {
                    v,
                    d: (p.d - v * q.d) / q.v,
                }
            }
            Op::Neg(a) => Dual {
                v: -r(a).v,
                d: -r(a).d,
            },
            Op::Scale(a, k) => Dual {
                v: r(a).v * k,
                d: r(a).d * k,
            },
            Op::Affine(a, k, m) => Dual {
                v: r(a).v * k + m,
                d: r(a).d * k,
            },
            Op::Powi(a, n) => Dual::powi(r(a), n),
            Op::Powf(a, e) => Dual::powf(r(a), e),
            Op::Pow(a, b) => Dual::pow(r(a), r(b)),
            Op::Call(f, a) => Dual::call(f, r(a)),
        }
    }

    /// p^n for a constant integer n; a constant base keeps a derivative of exactly zero.
    fn powi(p: Dual, n: i32) -> Dual {
        Dual {
            v: p.v.powi(n),
            d: if p.d == 0.0 || n == 0 {
                0.0
            } else {
                f64::from(n) * p.v.powi(n - 1) * p.d
            },
        }
    }

    /// p^e for a constant real e.
    fn powf(p: Dual, e: f64) -> Dual {
        Dual {
            v: p.v.powf(e),
            d: if p.d == 0.0 {
                0.0
            } else {
                e * p.v.powf(e - 1.0) * p.d
            },
        }
    }

    /// p^q with both computed: each term only where its operand varies, so that a negative
    /// base to a constant exponent (no ln) or a 0·∞ does not make the derivative NaN.
    fn pow(p: Dual, q: Dual) -> Dual {
        let v = p.v.powf(q.v);
        let mut d = 0.0;
        if p.d != 0.0 {
            d += q.v * p.v.powf(q.v - 1.0) * p.d;
        }
        if q.d != 0.0 {
            d += v * p.v.ln() * q.d;
        }
        Dual { v, d }
    }

    fn call(f: Func, x: Dual) -> Dual {
        let v = apply(f, x.v);
        let slope = slope(f, x.v, v);
        Dual {
            v,
            d: if x.d == 0.0 { 0.0 } else { slope * x.d },
        }
    }
}

/// f′(x) where v = f(x).
fn slope(f: Func, x: f64, v: f64) -> f64 {
    match f {
        Func::Sqrt => 0.5 / v,
        Func::Exp => v,
        Func::Ln => 1.0 / x,
        Func::Log10 => 1.0 / (x * std::f64::consts::LN_10),
        Func::Sin => x.cos(),
        Func::Cos => -x.sin(),
        Func::Tan => 1.0 + v * v,
        Func::Asin => 1.0 / (1.0 - x * x).sqrt(),
        Func::Acos => -1.0 / (1.0 - x * x).sqrt(),
        Func::Atan => 1.0 / (1.0 + x * x),
        Func::Abs => {
            if x > 0.0 {
                1.0
            } else if x < 0.0 {
                -1.0
            } else {
                0.0
            }
        }
    }
}

/// Where [`Program::eval_gradient`] keeps an operation's value and derivatives.
#[derive(Debug, Default)]
pub struct GradientRegisters {
    values: Vec<f64>,
    /// Row k holds ∂(register k)/∂x for each input differentiated by.
    derivatives: Vec<f64>,
}

impl GradientRegisters {
    pub const fn new() -> Self {
        GradientRegisters {
            values: Vec::new(),
            derivatives: Vec::new(),
        }
    }
}

impl Program {
    /// Value and ∂y/∂x_wrt at `x` (the inputs in their own units), by dual numbers.
    pub fn eval_dual(&self, x: &[f64], wrt: Option<usize>, regs: &mut Vec<Dual>) -> Dual {
        regs.clear();
        for op in &self.ops {
            let out = Dual::operation(*op, x, wrt, regs);
            regs.push(out);
        }
        *regs.last().expect("a program has at least one operation")
    }

    /// y and ∂y/∂x_i for each i of `wrt` (written to `gradient`) at `x`, in one pass: forward
    /// mode with a row of derivatives per register, so that each operation's value and local
    /// slope (a sin, a power) are computed once rather than once per input. Every derivative
    /// is formed as `eval_dual` forms it, so the two agree bit for bit.
    pub fn eval_gradient(
        &self,
        x: &[f64],
        wrt: &[usize],
        regs: &mut GradientRegisters,
        gradient: &mut [f64],
    ) -> f64 {
        let m = wrt.len();
        regs.values.clear();
        regs.derivatives.clear();
        regs.derivatives.resize(self.ops.len() * m, 0.0);
        for (k, op) in self.ops.iter().enumerate() {
            let (done, rest) = regs.derivatives.split_at_mut(k * m);
            let v = gradient_step(*op, x, wrt, &regs.values, done, &mut rest[..m]);
            regs.values.push(v);
        }
        let last = self.ops.len() - 1;
        gradient[..m].copy_from_slice(&regs.derivatives[last * m..last * m + m]);
        regs.values[last]
    }

    /// Evaluates `n` trials at once. `x` holds the inputs input-major: input i of trial t at
    /// `x[i * stride + t]`; `regs` has room for `ops.len() * stride` values; the results are
    /// written to `out[..n]`. Allocates nothing.
    pub fn eval_block(
        &self,
        x: &[f64],
        stride: usize,
        n: usize,
        regs: &mut [f64],
        out: &mut [f64],
    ) {
        debug_assert!(regs.len() >= self.ops.len() * stride && n <= stride);
        for (k, op) in self.ops.iter().enumerate() {
            let (done, rest) = regs.split_at_mut(k * stride);
            let done: &[f64] = done;
            let dst = &mut rest[..n];
            let src = |i: usize| &done[i * stride..i * stride + n];
            match *op {
                Op::Input(i) => dst.copy_from_slice(&x[i * stride..i * stride + n]),
                Op::Const(c) => dst.fill(c),
                Op::Add(a, b) => zip2(dst, src(a), src(b), |p, q| p + q),
                Op::Sub(a, b) => zip2(dst, src(a), src(b), |p, q| p - q),
                Op::Mul(a, b) => zip2(dst, src(a), src(b), |p, q| p * q),
                Op::Div(a, b) => zip2(dst, src(a), src(b), |p, q| p / q),
                Op::Pow(a, b) => zip2(dst, src(a), src(b), f64::powf),
                Op::Neg(a) => zip1(dst, src(a), |p| -p),
                Op::Scale(a, k) => zip1(dst, src(a), |p| p * k),
                Op::Affine(a, k, m) => zip1(dst, src(a), |p| p * k + m),
                Op::Powi(a, 2) => zip1(dst, src(a), |p| p * p),
                Op::Powi(a, e) => zip1(dst, src(a), |p| p.powi(e)),
                Op::Powf(a, e) => zip1(dst, src(a), |p| p.powf(e)),
                Op::Call(f, a) => match f {
                    Func::Sqrt => zip1(dst, src(a), f64::sqrt),
                    Func::Exp => zip1(dst, src(a), f64::exp),
                    Func::Ln => zip1(dst, src(a), f64::ln),
                    Func::Log10 => zip1(dst, src(a), f64::log10),
                    Func::Sin => zip1(dst, src(a), f64::sin),
                    Func::Cos => zip1(dst, src(a), f64::cos),
                    Func::Tan => zip1(dst, src(a), f64::tan),
                    Func::Asin => zip1(dst, src(a), f64::asin),
                    Func::Acos => zip1(dst, src(a), f64::acos),
                    Func::Atan => zip1(dst, src(a), f64::atan),
                    Func::Abs => zip1(dst, src(a), f64::abs),
                },
            }
        }
        let last = self.ops.len() - 1;
        out[..n].copy_from_slice(&regs[last * stride..last * stride + n]);
    }
}

/// Operation `op`'s value, and its derivatives written to `row`, from the earlier registers'
/// `values` and derivative rows `done` (row width `wrt.len()`). Each derivative only where its
/// operand varies, as in [`Dual`], so that a constant's 0·∞ stays 0.
fn gradient_step(
    op: Op,
    x: &[f64],
    wrt: &[usize],
    values: &[f64],
    done: &[f64],
    row: &mut [f64],
) -> f64 {
    let m = wrt.len();
    let d = |i: usize| &done[i * m..i * m + m];
    match op {
        Op::Input(i) => {
            for (r, &w) in row.iter_mut().zip(wrt) {
                *r = if w == i { 1.0 } else { 0.0 };
            }
            x[i]
        }
        Op::Const(c) => {
            row.fill(0.0);
            c
        }
        Op::Add(a, b) => {
            zip2(row, d(a), d(b), |p, q| p + q);
            values[a] + values[b]
        }
        Op::Sub(a, b) => {
            zip2(row, d(a), d(b), |p, q| p - q);
            values[a] - values[b]
        }
        Op::Mul(a, b) => {
            let (va, vb) = (values[a], values[b]);
            zip2(row, d(a), d(b), |p, q| p * vb + va * q);
            va * vb
        }
        Op::Div(a, b) => {
            let vb = values[b];
            let v = values[a] / vb;
            zip2(row, d(a), d(b), |p, q| (p - v * q) / vb);
            v
        }
        Op::Neg(a) => {
            zip1(row, d(a), |p| -p);
            -values[a]
        }
        Op::Scale(a, k) => {
            zip1(row, d(a), |p| p * k);
            values[a] * k
        }
        Op::Affine(a, k, shift) => {
            zip1(row, d(a), |p| p * k);
            values[a] * k + shift
        }
        Op::Powi(a, n) => {
            let va = values[a];
            let f = if n == 0 {
                0.0
            } else {
                f64::from(n) * va.powi(n - 1)
            };
            zip1(row, d(a), |p| if p == 0.0 || n == 0 { 0.0 } else { f * p });
            va.powi(n)
        }
        Op::Powf(a, e) => {
            let va = values[a];
            let f = e * va.powf(e - 1.0);
            zip1(row, d(a), |p| if p == 0.0 { 0.0 } else { f * p });
            va.powf(e)
        }
        Op::Pow(a, b) => gradient_pow(values[a], values[b], d(a), d(b), row),
        Op::Call(f, a) => {
            let va = values[a];
            let v = apply(f, va);
            let s = slope(f, va, v);
            zip1(row, d(a), |p| if p == 0.0 { 0.0 } else { s * p });
            v
        }
    }
}

/// p^q with both computed, as [`Dual::pow`]: each term only where its operand varies.
fn gradient_pow(p: f64, q: f64, dp: &[f64], dq: &[f64], row: &mut [f64]) -> f64 {
    let v = p.powf(q);
    let (by_base, by_exponent) = (q * p.powf(q - 1.0), v * p.ln());
    zip2(row, dp, dq, |a, b| {
        let mut d = 0.0;
        if a != 0.0 {
            d += by_base * a;
        }
        if b != 0.0 {
            d += by_exponent * b;
        }
        d
    });
    v
}

#[inline(always)]
fn zip1(dst: &mut [f64], a: &[f64], f: impl Fn(f64) -> f64) {
    for (d, &p) in dst.iter_mut().zip(a) {
        *d = f(p);
    }
}

#[inline(always)]
fn zip2(dst: &mut [f64], a: &[f64], b: &[f64], f: impl Fn(f64, f64) -> f64) {
    for ((d, &p), &q) in dst.iter_mut().zip(a).zip(b) {
        *d = f(p, q);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::model::parser::parse;
    use crate::domain::quantity::parse_unit;

    fn scale(symbol: &str) -> InputScale {
        let u = parse_unit(symbol).unwrap();
        InputScale {
            dimension: u.dimension,
            factor: u.factor,
            offset: u.offset,
        }
    }

    fn build(model: &str, inputs: &[(&str, &str)], measurand: &str) -> Result<Program, CheckError> {
        let names: Vec<&str> = inputs.iter().map(|(n, _)| *n).collect();
        let scales: Vec<InputScale> = inputs.iter().map(|(_, u)| scale(u)).collect();
        let m = parse_unit(measurand).unwrap();
        compile(
            &parse(model).unwrap(),
            &names,
            &scales,
            m.dimension,
            m.factor,
        )
    }

    fn value(p: &Program, x: &[f64]) -> f64 {
        p.eval_dual(x, None, &mut Vec::new()).v
    }

    #[test]
    fn the_design_power_model_checks_and_converts() {
        let inputs = [
            ("V", "V"),
            ("R0", "ohm"),
            ("alpha", "1/K"),
            ("t", "degC"),
            ("t0", "degC"),
        ];
        let p = build("V^2 / R0 / (1 + alpha * (t - t0))", &inputs, "mW").unwrap();
        let x = [1.0, 100.0, 0.0039, 23.0, 20.0];
        let expected = 1000.0 / 100.0 / (1.0 + 0.0039 * 3.0);
        assert!((value(&p, &x) - expected).abs() < 1e-12);
        // ∂P/∂V = 2V/(R0(1 + α(t − t0))) in mW/V
        let d = p.eval_dual(&x, Some(0), &mut Vec::new()).d;
        assert!((d - 2.0 * expected).abs() < 1e-12);
        // in °F the same temperatures give the same power
        let inputs_f = [
            ("V", "V"),
            ("R0", "ohm"),
            ("alpha", "1/K"),
            ("t", "degF"),
            ("t0", "degC"),
        ];
        let p = build("V^2 / R0 / (1 + alpha * (t - t0))", &inputs_f, "mW").unwrap();
        let x = [1.0, 100.0, 0.0039, 73.4, 20.0];
        assert!(
            (value(&p, &x) - expected).abs() < 1e-12,
            "{}",
            value(&p, &x)
        );
    }

    #[test]
    fn unit_errors_point_at_the_operator() {
        let e = build("a + b", &[("a", "m"), ("b", "s")], "m").unwrap_err();
        assert_eq!(e.position, Some(3));
        assert!(e.message.contains("length (m)"), "{}", e.message);
        let e = build("sin(a)", &[("a", "m")], "1").unwrap_err();
        assert_eq!(e.position, Some(5));
        let e = build("a^b", &[("a", "m"), ("b", "1")], "m").unwrap_err();
        assert_eq!(e.position, Some(3));
        assert!(e.message.contains("constant"));
        let e = build("a*b", &[("a", "m"), ("b", "m")], "m").unwrap_err();
        assert_eq!(e.position, None);
        assert!(e.message.contains("area"), "{}", e.message);
        assert!(build("a^(1/2)", &[("a", "m^2")], "mm").is_ok());
        assert!(build("(a*b)^0.5", &[("a", "m"), ("b", "m")], "mm").is_ok());
        assert!(build("a^0.5", &[("a", "m")], "mm").is_err());
        assert!(build("2^b", &[("b", "1")], "1").is_ok());
        assert!(build("sqrt(a/b)", &[("a", "m"), ("b", "mm")], "1").is_ok());
        assert!(build("abs(a/b)", &[("a", "kPa"), ("b", "Pa")], "1").is_ok());
        assert!(build("ln(-1 + 0*a)", &[("a", "1")], "1").is_ok());
        assert!(build("ln(-1)*a", &[("a", "1")], "1").is_err());
    }

    /// DESIGN 5b: function arguments must be dimensionless; sqrt and abs are no exception (a
    /// power is the way to a root of a quantity with a unit).
    #[test]
    fn sqrt_and_abs_take_only_dimensionless_arguments() {
        for (model, at_char, found) in [
            ("sqrt(a*b)", 6, "area (m²)"),
            ("2 * sqrt(a)", 10, "length (m)"),
            ("abs(p)", 5, "pressure"),
            ("1 + abs(a*b - a*b)", 9, "area (m²)"),
        ] {
            let inputs = [("a", "m"), ("b", "m"), ("p", "kPa")];
            let e = build(model, &inputs, "1").unwrap_err();
            assert_eq!(e.position, Some(at_char), "{model}: {}", e.message);
            assert!(e.message.contains("must be dimensionless"), "{}", e.message);
            assert!(e.message.contains(found), "{model}: {}", e.message);
            assert!(e.message.contains("^(1/2)"), "{}", e.message);
        }
    }

    #[test]
    fn affine_temperatures_only_in_differences() {
        let two = [("t", "degC"), ("t0", "°F")];
        assert!(build("t - t0", &two, "K").is_ok());
        assert!(build("(t) - (t0)", &two, "mK").is_ok());
        for model in [
            "t + t0",
            "t",
            "2*t - t0",
            "-t - t0",
            "t - t0 - t",
            "sqrt(t)",
        ] {
            let e = build(model, &two, "K").unwrap_err();
            assert!(e.message.contains("give t"), "{model}: {}", e.message);
        }
        let e = build("t - T", &[("t", "degC"), ("T", "K")], "K").unwrap_err();
        assert_eq!(e.position, Some(1));
        // in a compound unit a temperature is an interval
        assert!(build("a*d", &[("a", "mm/degC"), ("d", "K")], "um").is_ok());
        let p = build("t - t0", &two, "K").unwrap();
        assert!((value(&p, &[100.0, 32.0]) - 100.0).abs() < 1e-12);
        let p = build("t - t0", &[("t", "degF"), ("t0", "degF")], "K").unwrap();
        assert!((value(&p, &[212.0, 32.0]) - 100.0).abs() < 1e-12);
    }

    #[test]
    fn block_evaluation_equals_dual_evaluation() {
        let inputs = [("x", "1"), ("y", "m"), ("z", "mm")];
        let model =
            "exp(x)^2 * y / (z - y) * y + abs(y/z)*z*sin(x)^3/cos(x) - y*x^x + sqrt(y/z)*(y*z)^(1/2)*atan(x)";
        let p = build(model, &inputs, "um").unwrap();
        let n = 7;
        let stride = 8;
        let mut x = vec![0.0; 3 * stride];
        for t in 0..n {
            x[t] = 0.1 + 0.1 * t as f64;
            x[stride + t] = 0.002 + 0.001 * t as f64;
            x[2 * stride + t] = 5.0 + t as f64;
        }
        let mut regs = vec![0.0; p.ops.len() * stride];
        let mut out = vec![0.0; stride];
        p.eval_block(&x, stride, n, &mut regs, &mut out);
        for t in 0..n {
            let v = value(&p, &[x[t], x[stride + t], x[2 * stride + t]]);
            assert_eq!(out[t], v);
        }
    }

    /// One pass for every derivative gives the numbers of one dual pass per input, exactly.
    #[test]
    fn gradient_equals_dual_evaluation_bit_for_bit() {
        let inputs = [
            ("x", "1"),
            ("y", "m"),
            ("z", "mm"),
            ("t", "degC"),
            ("t0", "degF"),
        ];
        let model = "exp(x)^2 * y / (z - y) * y + abs(y/z)*z*sin(x)^3/cos(x) - y*x^x + sqrt(y/z)*(y*z)^(1/2)*atan(x) + 2^x*y*ln(x)^-2 + -y*(t - t0)/1K + 0*x^0.5*y";
        let model = model.replace("1K", "(t - t0)");
        let p = build(&model, &inputs, "um").unwrap();
        let x = [0.7, 0.003, 5.0, 21.5, 70.1];
        let wrt = [4, 0, 2, 1, 3];
        let mut regs = GradientRegisters::default();
        let mut gradient = [0.0; 5];
        let y = p.eval_gradient(&x, &wrt, &mut regs, &mut gradient);
        assert_eq!(y.to_bits(), value(&p, &x).to_bits());
        for (&i, g) in wrt.iter().zip(gradient) {
            let d = p.eval_dual(&x, Some(i), &mut Vec::new()).d;
            assert_eq!(g.to_bits(), d.to_bits(), "input {i}: {g} vs {d}");
        }
    }

    #[test]
    fn dual_derivatives_match_finite_differences() {
        let inputs = [("a", "1"), ("b", "1")];
        let models = [
            "sqrt(a)*exp(b)",
            "ln(a)/log10(b+2)",
            "sin(a)*cos(b)*tan(a*b)",
            "asin(a/3)+acos(b/3)+atan(a*b)",
            "a^b",
            "a^2.5 - b^-3",
            "abs(a-b)/(a+b)",
            "-a^2",
        ];
        let x = [0.7, 1.3];
        for model in models {
            let p = build(model, &inputs, "1").unwrap();
            for i in 0..2 {
                let d = p.eval_dual(&x, Some(i), &mut Vec::new()).d;
                let h = 1e-6;
                let mut hi = x;
                hi[i] += h;
                let mut lo = x;
                lo[i] -= h;
                let fd = (value(&p, &hi) - value(&p, &lo)) / (2.0 * h);
                assert!(
                    (d - fd).abs() <= 1e-7 * (1.0 + fd.abs()),
                    "{model} ∂/∂x{i}: {d} vs {fd}"
                );
            }
        }
    }
}
