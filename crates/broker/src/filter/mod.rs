//! SQL92 property filters (`expressionType` `SQL92`, features.md §3): Apache RocketMQ 4.9's
//! selector grammar compiled once into a [`Selector`] and evaluated on the broker against each
//! message's properties (user and system, `TAGS` included).
//!
//! `lexer` cuts tokens (with `nom`), `parser` builds the tree with Apache's build-time checks
//! (`ast`), `eval` runs it with Apache's typing rules. A selector that fails to compile is a
//! [`CompileError`] whose text names the problem (the remark of SUBSCRIPTION_PARSE_FAILED). A
//! message is delivered only when the selector is exactly TRUE; null, FALSE or a failed
//! conversion filter it out. Nothing here panics on any input.

mod ast;
mod eval;
mod lexer;
mod parser;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};

pub use rmq_remoting::body::heartbeat::{EXPRESSION_TYPE_SQL92, EXPRESSION_TYPE_TAG};

/// Apache's `ExpressionType.isTagType`: null, empty or `TAG`.
pub fn is_tag_type(expression_type: Option<&str>) -> bool {
    match expression_type {
        None => true,
        Some(t) => t.is_empty() || t.eq_ignore_ascii_case(EXPRESSION_TYPE_TAG),
    }
}

/// Why a selector does not compile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompileError {
    /// What is wrong, and where.
    pub message: String,
}

impl CompileError {
    fn new(message: impl Into<String>) -> Self {
        CompileError {
            message: message.into(),
        }
    }
}

impl fmt::Display for CompileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for CompileError {}

/// A compiled SQL92 selector.
#[derive(Debug, Clone, PartialEq)]
pub struct Selector {
    expr: ast::Expr,
}

impl Selector {
    /// Compiles `sql`, refusing what Apache's parser refuses (features.md §3.3).
    pub fn compile(sql: &str) -> Result<Selector, CompileError> {
        let tokens = lexer::tokenize(sql)?;
        if tokens.is_empty() {
            return Err(CompileError::new("the expression is empty"));
        }
        Ok(Selector {
            expr: parser::parse(&tokens, sql.len())?,
        })
    }

    /// Whether a message with this raw properties string (`k\u1v\u2k\u1v…`) is delivered.
    pub fn matches(&self, properties: &str) -> bool {
        self.evaluate(properties) == Some(true)
    }

    /// The three-valued result: `None` is null or a failed conversion.
    pub fn evaluate(&self, properties: &str) -> Option<bool> {
        match eval::eval(&self.expr, properties) {
            Ok(eval::Val::Bool(b)) => Some(b),
            _ => None,
        }
    }
}

impl fmt::Display for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.expr)
    }
}

/// Compiled selectors (and failures) by source text, as Apache keeps them: pulls that carry
/// their expression do not re-parse it each time. Holds at most [`SelectorCache::CAPACITY`]
/// entries; when full it starts over, so a client cycling through expressions cannot grow it.
#[derive(Debug, Default)]
pub struct SelectorCache {
    // Guards the map only; held for one lookup or insert, never while compiling.
    map: Mutex<HashMap<String, Result<Arc<Selector>, CompileError>>>,
}

impl SelectorCache {
    /// Most entries kept (Apache's parse cache holds 100).
    pub const CAPACITY: usize = 100;

    /// The compiled form of `sql`.
    pub fn compile(&self, sql: &str) -> Result<Arc<Selector>, CompileError> {
        if let Some(hit) = self.map.lock().unwrap_or_else(|e| e.into_inner()).get(sql) {
            return hit.clone();
        }
        let compiled = Selector::compile(sql).map(Arc::new);
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= Self::CAPACITY {
            map.clear();
        }
        map.insert(sql.to_string(), compiled.clone());
        compiled
    }
}
