//! The compiled form of a selector: an expression tree whose node kinds mirror Apache's
//! expression classes, because its compile-time checks depend on them (a constant, a property,
//! or a boolean expression). `Display` renders a node the way Apache's `toString` does, for
//! error messages.

use std::fmt;

/// A literal as the parser built it (`createFromDecimal`: an `i64` that fits an `i32` is one).
#[derive(Debug, Clone, PartialEq)]
pub enum Lit {
    /// `NULL`.
    Null,
    /// `TRUE` / `FALSE`.
    Bool(bool),
    /// A decimal literal in `i32` range.
    Int(i32),
    /// A decimal literal outside `i32` range.
    Long(i64),
    /// A floating literal.
    Double(f64),
    /// A string literal.
    Str(Box<str>),
}

/// `>`, `>=`, `<`, `<=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    Gt,
    Ge,
    Lt,
    Le,
}

impl CmpOp {
    fn symbol(self) -> &'static str {
        match self {
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
        }
    }
}

/// One node.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// A constant.
    Lit(Lit),
    /// A message property, looked up by exact name.
    Prop(Box<str>),
    /// Unary minus.
    Neg(Box<Expr>),
    /// A property used as a boolean (`createBooleanCast`).
    Cast(Box<Expr>),
    /// `NOT`.
    Not(Box<Expr>),
    /// `AND`.
    And(Box<Expr>, Box<Expr>),
    /// `OR`.
    Or(Box<Expr>, Box<Expr>),
    /// `=` (also `IS NULL` against the `NULL` constant).
    Eq(Box<Expr>, Box<Expr>),
    /// An ordering comparison.
    Cmp(CmpOp, Box<Expr>, Box<Expr>),
    /// `[NOT] IN` over string constants.
    In {
        /// The property tested.
        prop: Box<str>,
        /// The strings it may equal.
        list: Box<[Box<str>]>,
        /// `NOT IN`.
        negated: bool,
    },
}

impl Expr {
    /// Apache's `BooleanExpression`: what may stand where a condition is expected.
    pub fn is_boolean(&self) -> bool {
        !matches!(
            self,
            Expr::Prop(_)
                | Expr::Neg(_)
                | Expr::Lit(Lit::Int(_) | Lit::Long(_) | Lit::Double(_) | Lit::Str(_))
        )
    }

    /// The constant this node is, if it is one.
    pub fn constant(&self) -> Option<&Lit> {
        match self {
            Expr::Lit(l) => Some(l),
            _ => None,
        }
    }
}

impl fmt::Display for Lit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Lit::Null => f.write_str("NULL"),
            Lit::Bool(true) => f.write_str("TRUE"),
            Lit::Bool(false) => f.write_str("FALSE"),
            Lit::Int(i) => write!(f, "{i}"),
            Lit::Long(i) => write!(f, "{i}"),
            Lit::Double(d) => write!(f, "{d:?}"),
            Lit::Str(s) => write!(f, "'{}'", s.replace('\'', "''")),
        }
    }
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expr::Lit(l) => write!(f, "{l}"),
            Expr::Prop(p) => f.write_str(p),
            Expr::Neg(e) => write!(f, "(- {e})"),
            Expr::Cast(e) => write!(f, "{e}"),
            Expr::Not(e) => write!(f, "NOT {e}"),
            Expr::And(l, r) => write!(f, "({l} AND {r})"),
            Expr::Or(l, r) => write!(f, "({l} OR {r})"),
            Expr::Eq(l, r) => write!(f, "({l} == {r})"),
            Expr::Cmp(op, l, r) => write!(f, "({l} {} {r})", op.symbol()),
            Expr::In { prop, list, negated } => {
                let items: Vec<String> = list.iter().map(|s| format!("'{s}'")).collect();
                let not = if *negated { "NOT " } else { "" };
                write!(f, "{prop} {not}IN ({})", items.join(", "))
            }
        }
    }
}
