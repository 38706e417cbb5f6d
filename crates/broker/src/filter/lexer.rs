//! Tokens of Apache's SQL92 selector grammar (features.md §3.3), cut with `nom`.
//!
//! Keywords are case-insensitive; whitespace is space, tab, CR, LF and FF; `-- …` runs to the end
//! of the line and `/* … */` is skipped. Numbers follow JavaCC's longest match: a float needs a
//! `.` or an exponent, a decimal is `0` or starts with 1-9 (so `05` is `0` then `5`). Every token
//! keeps its byte position for error messages. Nothing here panics on any input.

use nom::branch::alt;
use nom::bytes::complete::{tag, take_until, take_while};
use nom::character::complete::{char, digit0, digit1, one_of, satisfy};
use nom::combinator::opt;
use nom::sequence::pair;
use nom::{IResult, Parser};

use super::CompileError;

/// A keyword (matched case-insensitively).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keyword {
    And,
    Or,
    Not,
    Between,
    In,
    Is,
    Null,
    True,
    False,
}

/// One token.
#[derive(Debug, Clone, PartialEq)]
pub enum Tok<'a> {
    /// A property name.
    Ident(&'a str),
    /// A string literal with `''` already turned into `'`.
    Str(String),
    /// A decimal literal's digits (any `l`/`L` suffix removed).
    Decimal(&'a str),
    /// A floating literal as written.
    Float(&'a str),
    /// A keyword.
    Kw(Keyword),
    /// `=`, `<>`, `<`, `<=`, `>`, `>=`, `(`, `)`, `,`, `+`, `-`.
    Sym(&'static str),
}

/// A token and the byte position it starts at.
pub type Spanned<'a> = (Tok<'a>, usize);

const SYMBOLS: [&str; 11] = ["<>", "<=", ">=", "=", "<", ">", "(", ")", ",", "+", "-"];

/// Splits `src` into tokens.
pub fn tokenize(src: &str) -> Result<Vec<Spanned<'_>>, CompileError> {
    let mut out = Vec::new();
    let mut rest = src;
    loop {
        rest = skip_blanks(rest).map_err(|at| {
            CompileError::new(format!(
                "unterminated comment at position {}",
                src.len() - at.len() + 1
            ))
        })?;
        if rest.is_empty() {
            return Ok(out);
        }
        let pos = src.len() - rest.len();
        let (next, tok) = token(rest).map_err(|_| {
            let c = rest.chars().next().unwrap_or(' ');
            let what = if c == '\'' {
                "unterminated string literal".to_string()
            } else {
                format!("unexpected character '{c}'")
            };
            CompileError::new(format!("{what} at position {}", pos + 1))
        })?;
        out.push((tok, pos));
        rest = next;
    }
}

/// Skips whitespace and comments; an unterminated `/*` comes back as the error.
fn skip_blanks(mut s: &str) -> Result<&str, &str> {
    loop {
        let t = s.trim_start_matches([' ', '\t', '\r', '\n', '\u{c}']);
        if let Some(line) = t.strip_prefix("--") {
            s = line.find('\n').map_or("", |n| &line[n + 1..]);
        } else if let Some(block) = t.strip_prefix("/*") {
            let end: IResult<&str, &str> = take_until("*/").parse(block);
            match end {
                Ok((after, _)) => s = &after[2..],
                Err(_) => return Err(t),
            }
        } else {
            return Ok(t);
        }
    }
}

fn token(s: &str) -> IResult<&str, Tok<'_>> {
    alt((number, string, word, symbol)).parse(s)
}

fn symbol(s: &str) -> IResult<&str, Tok<'_>> {
    for sym in SYMBOLS {
        if let Some(rest) = s.strip_prefix(sym) {
            return Ok((rest, Tok::Sym(sym)));
        }
    }
    Err(nom::Err::Error(nom::error::Error::new(
        s,
        nom::error::ErrorKind::Tag,
    )))
}

fn word(s: &str) -> IResult<&str, Tok<'_>> {
    let ident_start = |c: char| c.is_ascii_alphabetic() || c == '_' || c == '$';
    let ident_char = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '$';
    let (rest, w) = taken(s, pair(satisfy(ident_start), take_while(ident_char)).parse(s))?;
    let kw = [
        ("AND", Keyword::And),
        ("OR", Keyword::Or),
        ("NOT", Keyword::Not),
        ("BETWEEN", Keyword::Between),
        ("IN", Keyword::In),
        ("IS", Keyword::Is),
        ("NULL", Keyword::Null),
        ("TRUE", Keyword::True),
        ("FALSE", Keyword::False),
    ]
    .into_iter()
    .find(|(k, _)| k.eq_ignore_ascii_case(w));
    Ok((rest, kw.map_or(Tok::Ident(w), |(_, k)| Tok::Kw(k))))
}

fn string(s: &str) -> IResult<&str, Tok<'_>> {
    let (mut rest, _) = char('\'').parse(s)?;
    let mut value = String::new();
    loop {
        let (after, part) = take_while(|c| c != '\'').parse(rest)?;
        value.push_str(part);
        let (after, _) = char('\'').parse(after)?;
        match after.strip_prefix('\'') {
            Some(more) => {
                value.push('\'');
                rest = more;
            }
            None => return Ok((after, Tok::Str(value))),
        }
    }
}

/// The text a parser consumed. (nom 8.0.0's `recognize` loses a trailing `digit0` match at the
/// end of the input, so slices are taken by offset instead.)
fn taken<'a, O>(s: &'a str, r: IResult<&'a str, O>) -> IResult<&'a str, &'a str> {
    r.map(|(rest, _)| (rest, &s[..s.len() - rest.len()]))
}

fn exponent(s: &str) -> IResult<&str, &str> {
    taken(s, (one_of("eE"), opt(one_of("+-")), digit1).parse(s))
}

fn number(s: &str) -> IResult<&str, Tok<'_>> {
    let float = alt((
        (digit1, tag("."), digit0, opt(exponent)).map(|_| ()),
        (tag("."), digit1, opt(exponent)).map(|_| ()),
        (digit1, exponent).map(|_| ()),
    ))
    .parse(s);
    if let Ok((rest, f)) = taken(s, float) {
        return Ok((rest, Tok::Float(f)));
    }
    let decimal = alt((
        pair(
            satisfy(|c| ('1'..='9').contains(&c)),
            take_while(|c: char| c.is_ascii_digit()),
        )
        .map(|_| ()),
        tag("0").map(|_| ()),
    ))
    .parse(s);
    let (rest, d) = taken(s, decimal)?;
    let (rest, _) = opt(one_of("lL")).parse(rest)?;
    Ok((rest, Tok::Decimal(d)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(s: &str) -> Vec<Tok<'_>> {
        tokenize(s).unwrap().into_iter().map(|(t, _)| t).collect()
    }

    #[test]
    fn splits_every_kind() {
        assert_eq!(
            toks("a >= 5 AND b<>'it''s' or NOT c between 1.5e3 and 7L in ('x',.5)"),
            vec![
                Tok::Ident("a"),
                Tok::Sym(">="),
                Tok::Decimal("5"),
                Tok::Kw(Keyword::And),
                Tok::Ident("b"),
                Tok::Sym("<>"),
                Tok::Str("it's".into()),
                Tok::Kw(Keyword::Or),
                Tok::Kw(Keyword::Not),
                Tok::Ident("c"),
                Tok::Kw(Keyword::Between),
                Tok::Float("1.5e3"),
                Tok::Kw(Keyword::And),
                Tok::Decimal("7"),
                Tok::Kw(Keyword::In),
                Tok::Sym("("),
                Tok::Str("x".into()),
                Tok::Sym(","),
                Tok::Float(".5"),
                Tok::Sym(")"),
            ]
        );
    }

    #[test]
    fn comments_blanks_and_longest_match() {
        assert_eq!(
            toks("-- note\n a/* x */=\t05 -- end"),
            vec![
                Tok::Ident("a"),
                Tok::Sym("="),
                Tok::Decimal("0"),
                Tok::Decimal("5")
            ]
        );
        assert_eq!(
            toks("0.0 10.25 1e-2 a1"),
            vec![
                Tok::Float("0.0"),
                Tok::Float("10.25"),
                Tok::Float("1e-2"),
                Tok::Ident("a1")
            ]
        );
        assert_eq!(
            toks("nota $x_1 1e5 2."),
            vec![
                Tok::Ident("nota"),
                Tok::Ident("$x_1"),
                Tok::Float("1e5"),
                Tok::Float("2.")
            ]
        );
    }

    #[test]
    fn bad_input_names_the_position() {
        assert_eq!(
            tokenize("a = 'x").unwrap_err().message,
            "unterminated string literal at position 5"
        );
        assert_eq!(
            tokenize("a != 1").unwrap_err().message,
            "unexpected character '!' at position 3"
        );
        assert_eq!(
            tokenize("a /* x").unwrap_err().message,
            "unterminated comment at position 3"
        );
        assert_eq!(
            tokenize("a = é").unwrap_err().message,
            "unexpected character 'é' at position 5"
        );
    }
}
