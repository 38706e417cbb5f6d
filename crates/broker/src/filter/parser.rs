//! Tokens → [`Expr`], by recursive descent over Apache's grammar (features.md §3.3), applying
//! the checks Apache's expression factories make while building, so the same selectors fail:
//!
//! ```text
//! selector   := or                                   must be boolean (a property is cast)
//! or         := and (OR and)*
//! and        := equality (AND equality)*
//! equality   := comparison ('=' comparison | '<>' comparison | IS [NOT] NULL)*
//! comparison := unary (('>'|'>='|'<'|'<=') unary | [NOT] BETWEEN unary AND unary
//!                      | [NOT] IN '(' string (',' string)* ')')*
//! unary      := '+' unary | '-' unary | NOT unary | primary
//! primary    := literal | identifier | '(' or ')'
//! ```
//!
//! Nesting is capped at [`MAX_DEPTH`] and binary operators at [`MAX_OPERATORS`], so the tree
//! stays shallow enough to build, evaluate and drop recursively whatever a client sends.

use super::ast::{CmpOp, Expr, Lit};
use super::eval::{java_compare, lit_val};
use super::lexer::{Keyword, Spanned, Tok};
use super::CompileError;

/// Deepest nesting of parentheses and unary operators accepted.
pub const MAX_DEPTH: usize = 64;
/// Most binary operators (and BETWEEN / IN tests) one selector may hold.
pub const MAX_OPERATORS: usize = 1000;

/// Parses a whole selector.
pub fn parse(tokens: &[Spanned<'_>], src_len: usize) -> Result<Expr, CompileError> {
    let mut p = Parser {
        toks: tokens,
        at: 0,
        depth: 0,
        ops: 0,
        src_len,
    };
    let e = p.or()?;
    if p.at < tokens.len() {
        return Err(p.unexpected("end of expression"));
    }
    as_boolean(e)
}

struct Parser<'t, 'a> {
    toks: &'t [Spanned<'a>],
    at: usize,
    depth: usize,
    ops: usize,
    src_len: usize,
}

type Res = Result<Expr, CompileError>;

fn err(msg: impl Into<String>) -> CompileError {
    CompileError::new(msg)
}

/// `asBooleanExpression`: a property becomes a boolean cast; other non-booleans fail.
fn as_boolean(e: Expr) -> Res {
    match e {
        e if e.is_boolean() => Ok(e),
        Expr::Prop(_) => Ok(Expr::Cast(Box::new(e))),
        e => Err(err(format!("Expression will not result in a boolean value: {e}"))),
    }
}

/// `checkLessThanOperand`: numeric constants and non-boolean expressions only.
fn check_orderable(e: &Expr) -> Result<(), CompileError> {
    let ok = match e.constant() {
        Some(l) => matches!(l, Lit::Int(_) | Lit::Long(_) | Lit::Double(_)),
        None => !e.is_boolean(),
    };
    if ok {
        Ok(())
    } else {
        Err(err(format!("Value '{e}' cannot be compared.")))
    }
}

fn compare(op: CmpOp, l: Expr, r: Expr) -> Res {
    check_orderable(&l)?;
    check_orderable(&r)?;
    Ok(Expr::Cmp(op, Box::new(l), Box::new(r)))
}

/// `createEqual`: no NULL constant, and a boolean constant only against a boolean constant.
fn equal(l: Expr, r: Expr) -> Res {
    for side in [&l, &r] {
        if side.constant() == Some(&Lit::Null) {
            return Err(err(format!("'{side}' cannot be compared.")));
        }
    }
    if let (Some(Lit::Bool(_)), Some(rc)) = (l.constant(), r.constant()) {
        if !matches!(rc, Lit::Bool(_)) {
            return Err(err(format!("'{l}' cannot be compared with '{r}'")));
        }
    }
    Ok(Expr::Eq(Box::new(l), Box::new(r)))
}

/// `createBetween`: constant bounds must be non-null and in order.
fn between(v: Expr, lo: Expr, hi: Expr) -> Res {
    if let (Some(l), Some(h)) = (lo.constant(), hi.constant()) {
        if *l == Lit::Null || *h == Lit::Null {
            return Err(err("Illegal values of between, values can not be null!"));
        }
        let order = java_compare(lit_val(h), lit_val(l)).map_err(|_| {
            err(format!(
                "Illegal values of between: {lo} and {hi} cannot be compared"
            ))
        })?;
        if order.is_lt() {
            return Err(err(format!(
                "Illegal values of between, left value({lo}) must less than or equal to right value({hi})"
            )));
        }
    }
    Ok(Expr::And(
        Box::new(compare(CmpOp::Ge, v.clone(), lo)?),
        Box::new(compare(CmpOp::Le, v, hi)?),
    ))
}

impl<'a> Parser<'_, 'a> {
    fn peek(&self) -> Option<&Tok<'a>> {
        self.toks.get(self.at).map(|(t, _)| t)
    }

    fn peek2(&self) -> Option<&Tok<'a>> {
        self.toks.get(self.at + 1).map(|(t, _)| t)
    }

    fn eat(&mut self, t: &Tok<'_>) -> bool {
        if self.peek() == Some(t) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, t: &Tok<'_>, what: &str) -> Result<(), CompileError> {
        if self.eat(t) {
            Ok(())
        } else {
            Err(self.unexpected(what))
        }
    }

    fn unexpected(&self, expected: &str) -> CompileError {
        match self.toks.get(self.at) {
            Some((t, pos)) => err(format!(
                "Encountered {} at position {}, expected {expected}",
                describe(t),
                pos + 1
            )),
            None => err(format!(
                "Encountered the end of the expression at position {}, expected {expected}",
                self.src_len + 1
            )),
        }
    }

    fn nested<T>(&mut self, f: impl FnOnce(&mut Self) -> Result<T, CompileError>) -> Result<T, CompileError> {
        if self.depth >= MAX_DEPTH {
            return Err(err(format!("expression nested deeper than {MAX_DEPTH} levels")));
        }
        self.depth += 1;
        let r = f(self);
        self.depth -= 1;
        r
    }

    /// Counts one more operator node.
    fn op(&mut self) -> Result<(), CompileError> {
        self.ops += 1;
        if self.ops > MAX_OPERATORS {
            return Err(err(format!(
                "expression holds more than {MAX_OPERATORS} operators"
            )));
        }
        Ok(())
    }

    fn or(&mut self) -> Res {
        let mut l = self.and()?;
        while self.eat(&Tok::Kw(Keyword::Or)) {
            self.op()?;
            let r = self.and()?;
            l = Expr::Or(Box::new(as_boolean(l)?), Box::new(as_boolean(r)?));
        }
        Ok(l)
    }

    fn and(&mut self) -> Res {
        let mut l = self.equality()?;
        while self.eat(&Tok::Kw(Keyword::And)) {
            self.op()?;
            let r = self.equality()?;
            l = Expr::And(Box::new(as_boolean(l)?), Box::new(as_boolean(r)?));
        }
        Ok(l)
    }

    fn equality(&mut self) -> Res {
        let mut l = self.comparison()?;
        loop {
            if matches!(self.peek(), Some(Tok::Sym("=" | "<>") | Tok::Kw(Keyword::Is))) {
                self.op()?;
            }
            if self.eat(&Tok::Sym("=")) {
                l = equal(l, self.comparison()?)?;
            } else if self.eat(&Tok::Sym("<>")) {
                l = Expr::Not(Box::new(equal(l, self.comparison()?)?));
            } else if self.eat(&Tok::Kw(Keyword::Is)) {
                let negated = self.eat(&Tok::Kw(Keyword::Not));
                self.expect(&Tok::Kw(Keyword::Null), "NULL")?;
                let is_null = Expr::Eq(Box::new(l), Box::new(Expr::Lit(Lit::Null)));
                l = if negated {
                    Expr::Not(Box::new(is_null))
                } else {
                    is_null
                };
            } else {
                return Ok(l);
            }
        }
    }

    fn comparison(&mut self) -> Res {
        let mut l = self.unary()?;
        loop {
            let op = match self.peek() {
                Some(Tok::Sym(">")) => Some(CmpOp::Gt),
                Some(Tok::Sym(">=")) => Some(CmpOp::Ge),
                Some(Tok::Sym("<")) => Some(CmpOp::Lt),
                Some(Tok::Sym("<=")) => Some(CmpOp::Le),
                _ => None,
            };
            if matches!(
                self.peek(),
                Some(
                    Tok::Sym(">" | ">=" | "<" | "<=")
                        | Tok::Kw(Keyword::Not | Keyword::Between | Keyword::In)
                )
            ) {
                self.op()?;
            }
            if let Some(op) = op {
                self.at += 1;
                l = compare(op, l, self.unary()?)?;
                continue;
            }
            let negated = self.peek() == Some(&Tok::Kw(Keyword::Not))
                && matches!(self.peek2(), Some(Tok::Kw(Keyword::Between | Keyword::In)));
            if negated {
                self.at += 1;
            }
            if self.eat(&Tok::Kw(Keyword::Between)) {
                let lo = self.unary()?;
                self.expect(&Tok::Kw(Keyword::And), "AND")?;
                let hi = self.unary()?;
                l = if negated {
                    Expr::Or(
                        Box::new(compare(CmpOp::Lt, l.clone(), lo)?),
                        Box::new(compare(CmpOp::Gt, l, hi)?),
                    )
                } else {
                    between(l, lo, hi)?
                };
            } else if self.eat(&Tok::Kw(Keyword::In)) {
                l = self.in_list(l, negated)?;
            } else {
                return Ok(l);
            }
        }
    }

    fn in_list(&mut self, l: Expr, negated: bool) -> Res {
        self.expect(&Tok::Sym("("), "'('")?;
        let mut list = Vec::new();
        loop {
            match self.peek() {
                Some(Tok::Str(s)) => list.push(s.as_str().into()),
                _ => return Err(self.unexpected("a string literal")),
            }
            self.at += 1;
            if !self.eat(&Tok::Sym(",")) {
                break;
            }
        }
        self.expect(&Tok::Sym(")"), "',' or ')'")?;
        match l {
            Expr::Prop(prop) => Ok(Expr::In {
                prop,
                list: list.into_boxed_slice(),
                negated,
            }),
            other => Err(err(format!(
                "Expected a property for In expression, got: {other}"
            ))),
        }
    }

    fn unary(&mut self) -> Res {
        if self.eat(&Tok::Sym("+")) {
            return self.nested(Self::unary);
        }
        if self.eat(&Tok::Sym("-")) {
            return Ok(Expr::Neg(Box::new(self.nested(Self::unary)?)));
        }
        if self.eat(&Tok::Kw(Keyword::Not)) {
            let operand = self.nested(Self::unary)?;
            return Ok(Expr::Not(Box::new(as_boolean(operand)?)));
        }
        self.primary()
    }

    fn primary(&mut self) -> Res {
        let Some((tok, _)) = self.toks.get(self.at) else {
            return Err(self.unexpected("a value"));
        };
        let e = match tok {
            Tok::Ident(name) => Expr::Prop((*name).into()),
            Tok::Str(s) => Expr::Lit(Lit::Str(s.as_str().into())),
            Tok::Decimal(d) => Expr::Lit(decimal(d)?),
            Tok::Float(f) => Expr::Lit(float(f)?),
            Tok::Kw(Keyword::True) => Expr::Lit(Lit::Bool(true)),
            Tok::Kw(Keyword::False) => Expr::Lit(Lit::Bool(false)),
            Tok::Kw(Keyword::Null) => Expr::Lit(Lit::Null),
            Tok::Sym("(") => {
                self.at += 1;
                let inner = self.nested(Self::or)?;
                self.expect(&Tok::Sym(")"), "')'")?;
                return Ok(inner);
            }
            _ => return Err(self.unexpected("a value")),
        };
        self.at += 1;
        Ok(e)
    }
}

/// `createFromDecimal`: an `i64`, narrowed to `i32` when it fits.
fn decimal(text: &str) -> Result<Lit, CompileError> {
    let v: i64 = text
        .parse()
        .map_err(|_| err(format!("number {text} is outside the 64-bit integer range")))?;
    Ok(i32::try_from(v).map_or(Lit::Long(v), Lit::Int))
}

/// `createFloat`: a finite double no smaller than `Double.MIN_VALUE` (so `0.0` is refused).
fn float(text: &str) -> Result<Lit, CompileError> {
    let v: f64 = text.parse().map_err(|_| err(format!("bad number {text}")))?;
    if v > f64::MAX {
        return Err(err(format!("{text} is greater than 1.7976931348623157E308")));
    }
    if v < 4.9e-324 {
        return Err(err(format!("{text} is less than 4.9E-324")));
    }
    Ok(Lit::Double(v))
}

fn describe(t: &Tok<'_>) -> String {
    match t {
        Tok::Ident(s) | Tok::Decimal(s) | Tok::Float(s) => format!("\"{s}\""),
        Tok::Str(s) => format!("\"'{s}'\""),
        Tok::Kw(k) => format!("\"{}\"", format!("{k:?}").to_ascii_uppercase()),
        Tok::Sym(s) => format!("\"{s}\""),
    }
}
