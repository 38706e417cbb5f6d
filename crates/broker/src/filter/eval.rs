//! Evaluation of a compiled selector against one message's raw properties string, with Apache's
//! typing rules (features.md §3.4; `ComparisonExpression` with string conversion on, as
//! RocketMQ's `SelectorParser` sets it).
//!
//! Values borrow from the expression and the properties string, so evaluating allocates nothing.
//! Property values are strings; a missing property is null. SQL three-valued logic: a result is
//! TRUE, FALSE or null, and a failed conversion (`"abc" > 5`) is an [`EvalError`] that makes the
//! whole selector fail, as Java's exception does. Only TRUE delivers a message.

use std::cmp::Ordering;

use rmq_remoting::message::properties;

use super::ast::{CmpOp, Expr, Lit};

/// A value during evaluation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Val<'a> {
    Null,
    Bool(bool),
    Int(i32),
    Long(i64),
    Double(f64),
    Str(&'a str),
}

/// A conversion Java would have thrown on; the message is not delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EvalError;

type Res<'a> = Result<Val<'a>, EvalError>;

/// The value of a literal.
pub fn lit_val(l: &Lit) -> Val<'_> {
    match l {
        Lit::Null => Val::Null,
        Lit::Bool(b) => Val::Bool(*b),
        Lit::Int(i) => Val::Int(*i),
        Lit::Long(i) => Val::Long(*i),
        Lit::Double(d) => Val::Double(*d),
        Lit::Str(s) => Val::Str(s),
    }
}

/// Evaluates `e` with the properties of one message (`k\u1v\u2k\u1v…`).
pub fn eval<'a>(e: &'a Expr, props: &'a str) -> Res<'a> {
    Ok(match e {
        Expr::Lit(l) => lit_val(l),
        Expr::Prop(name) => properties::find(props, name).map_or(Val::Null, Val::Str),
        Expr::Neg(inner) => match eval(inner, props)? {
            Val::Int(i) => Val::Int(i.wrapping_neg()),
            Val::Long(i) => Val::Long(i.wrapping_neg()),
            Val::Double(d) => Val::Double(-d),
            _ => Val::Null,
        },
        Expr::Cast(inner) => match eval(inner, props)? {
            Val::Null => Val::Null,
            Val::Bool(b) => Val::Bool(b),
            _ => Val::Bool(false),
        },
        Expr::Not(inner) => match truth(eval(inner, props)?)? {
            Some(b) => Val::Bool(!b),
            None => Val::Null,
        },
        Expr::And(l, r) => {
            let lv = truth(eval(l, props)?)?;
            if lv == Some(false) {
                return Ok(Val::Bool(false));
            }
            match (lv, truth(eval(r, props)?)?) {
                (_, Some(false)) => Val::Bool(false),
                (Some(true), Some(true)) => Val::Bool(true),
                _ => Val::Null,
            }
        }
        Expr::Or(l, r) => {
            let lv = truth(eval(l, props)?)?;
            if lv == Some(true) {
                return Ok(Val::Bool(true));
            }
            match (lv, truth(eval(r, props)?)?) {
                (_, Some(true)) => Val::Bool(true),
                (Some(false), Some(false)) => Val::Bool(false),
                _ => Val::Null,
            }
        }
        Expr::Eq(l, r) => equal(eval(l, props)?, eval(r, props)?)?,
        Expr::Cmp(op, l, r) => ordered(*op, eval(l, props)?, eval(r, props)?)?,
        Expr::In { prop, list, negated } => match properties::find(props, prop) {
            None => Val::Null,
            Some(v) => Val::Bool(list.iter().any(|s| &**s == v) != *negated),
        },
    })
}

/// A logic operand: null, or a boolean (anything else is Java's ClassCastException).
fn truth(v: Val<'_>) -> Result<Option<bool>, EvalError> {
    match v {
        Val::Null => Ok(None),
        Val::Bool(b) => Ok(Some(b)),
        _ => Err(EvalError),
    }
}

/// `doCreateEqual`: both null is TRUE, a null left is null, a null right FALSE.
fn equal<'a>(l: Val<'a>, r: Val<'a>) -> Res<'a> {
    Ok(match (l, r) {
        (Val::Null, Val::Null) => Val::Bool(true),
        (Val::Null, _) => Val::Null,
        (_, Val::Null) => Val::Bool(false),
        _ => Val::Bool(java_compare(l, r)? == Ordering::Equal),
    })
}

/// `>`, `>=`, `<`, `<=`: null if a side is null; two strings are both read as doubles.
fn ordered<'a>(op: CmpOp, l: Val<'a>, r: Val<'a>) -> Res<'a> {
    let ord = match (l, r) {
        (Val::Null, _) | (_, Val::Null) => return Ok(Val::Null),
        (Val::Str(a), Val::Str(b)) => java_double_cmp(java_double(a)?, java_double(b)?),
        _ => java_compare(l, r)?,
    };
    Ok(Val::Bool(match op {
        CmpOp::Gt => ord == Ordering::Greater,
        CmpOp::Ge => ord != Ordering::Less,
        CmpOp::Lt => ord == Ordering::Less,
        CmpOp::Le => ord != Ordering::Greater,
    }))
}

/// Java's `__compare` with string conversion: the right side converts to the left's type
/// (or a string side to the other's type), numbers widen, and types that do not meet compare
/// as "less" (-1), as Java answers them.
pub fn java_compare(l: Val<'_>, r: Val<'_>) -> Result<Ordering, EvalError> {
    use Val::*;
    Ok(match (l, r) {
        (Bool(a), Bool(b)) => a.cmp(&b),
        (Bool(a), Str(s)) => a.cmp(&java_bool(s)),
        (Str(s), Bool(b)) => java_bool(s).cmp(&b),
        (Int(a), Int(b)) => a.cmp(&b),
        (Int(a), Long(b)) => i64::from(a).cmp(&b),
        (Long(a), Int(b)) => a.cmp(&i64::from(b)),
        (Long(a), Long(b)) => a.cmp(&b),
        (Int(a), Double(b)) => java_double_cmp(f64::from(a), b),
        (Long(a), Double(b)) => java_double_cmp(a as f64, b),
        (Double(a), Int(b)) => java_double_cmp(a, f64::from(b)),
        (Double(a), Long(b)) => java_double_cmp(a, b as f64),
        (Double(a), Double(b)) => java_double_cmp(a, b),
        (Int(a), Str(s)) => a.cmp(&s.parse::<i32>().map_err(|_| EvalError)?),
        (Long(a), Str(s)) => a.cmp(&s.parse::<i64>().map_err(|_| EvalError)?),
        (Double(a), Str(s)) => java_double_cmp(a, java_double(s)?),
        (Str(s), Int(b)) => s.parse::<i32>().map_err(|_| EvalError)?.cmp(&b),
        (Str(s), Long(b)) => s.parse::<i64>().map_err(|_| EvalError)?.cmp(&b),
        (Str(s), Double(b)) => java_double_cmp(java_double(s)?, b),
        (Str(a), Str(b)) => a.cmp(b),
        _ => Ordering::Less,
    })
}

/// `Boolean.valueOf(String)`.
fn java_bool(s: &str) -> bool {
    s.eq_ignore_ascii_case("true")
}

/// `Double.compare`: -0.0 below 0.0, NaN equal to itself and above everything.
fn java_double_cmp(a: f64, b: f64) -> Ordering {
    let bits = |f: f64| {
        if f.is_nan() {
            0x7ff8_0000_0000_0000
        } else {
            f.to_bits() as i64
        }
    };
    match a.partial_cmp(&b) {
        Some(Ordering::Equal) | None => bits(a).cmp(&bits(b)),
        Some(o) => o,
    }
}

/// `Double.valueOf(String)` for decimal input: surrounding blanks, a sign, `NaN`, `Infinity`
/// and a trailing `d`/`f` are accepted; Rust's own spellings (`inf`, `nan`) are not.
pub fn java_double(s: &str) -> Result<f64, EvalError> {
    let t = s.trim_matches(|c: char| c <= ' ');
    let unsigned = t.strip_prefix(['+', '-']).unwrap_or(t);
    if unsigned == "NaN" || unsigned == "Infinity" {
        return Ok(if unsigned == "NaN" {
            f64::NAN
        } else if t.starts_with('-') {
            f64::NEG_INFINITY
        } else {
            f64::INFINITY
        });
    }
    let body = match t.strip_suffix(['d', 'D', 'f', 'F']) {
        Some(b) if b.ends_with(|c: char| c.is_ascii_digit() || c == '.') => b,
        _ => t,
    };
    let digits = body.strip_prefix(['+', '-']).unwrap_or(body);
    if !digits.starts_with(|c: char| c.is_ascii_digit() || c == '.') {
        return Err(EvalError);
    }
    body.parse::<f64>().map_err(|_| EvalError)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_number_parsing() {
        assert_eq!(java_double(" 1.5 "), Ok(1.5));
        assert_eq!(java_double("2d"), Ok(2.0));
        assert_eq!(java_double("-Infinity"), Ok(f64::NEG_INFINITY));
        assert!(java_double("NaN").unwrap().is_nan());
        assert_eq!(java_double("inf"), Err(EvalError));
        assert_eq!(java_double("nan"), Err(EvalError));
        assert_eq!(java_double("abc"), Err(EvalError));
        assert_eq!(java_double(""), Err(EvalError));
        assert_eq!(java_double(".5e1"), Ok(5.0));
    }

    #[test]
    fn compare_converts_like_java() {
        assert_eq!(java_compare(Val::Int(3), Val::Str("03")), Ok(Ordering::Equal));
        assert_eq!(java_compare(Val::Int(3), Val::Str("3.0")), Err(EvalError));
        assert_eq!(java_compare(Val::Double(3.0), Val::Str("3")), Ok(Ordering::Equal));
        assert_eq!(java_compare(Val::Int(3), Val::Long(4)), Ok(Ordering::Less));
        assert_eq!(
            java_compare(Val::Long(5), Val::Double(4.5)),
            Ok(Ordering::Greater)
        );
        assert_eq!(
            java_compare(Val::Str("TRUE"), Val::Bool(true)),
            Ok(Ordering::Equal)
        );
        assert_eq!(java_compare(Val::Int(1), Val::Bool(true)), Ok(Ordering::Less));
        assert_eq!(java_double_cmp(-0.0, 0.0), Ordering::Less);
        assert_eq!(java_double_cmp(f64::NAN, f64::INFINITY), Ordering::Greater);
    }
}
