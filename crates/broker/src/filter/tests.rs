//! Grammar and evaluation tests of the SQL92 selector, from the rules in features.md §3.3–3.4.

use super::{Selector, SelectorCache};

/// A raw properties string from pairs.
fn props(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{k}\u{1}{v}"))
        .collect::<Vec<_>>()
        .join("\u{2}")
}

fn eval(sql: &str, pairs: &[(&str, &str)]) -> Option<bool> {
    Selector::compile(sql)
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .evaluate(&props(pairs))
}

fn compile_err(sql: &str) -> String {
    match Selector::compile(sql) {
        Ok(s) => panic!("{sql} compiled to {s}"),
        Err(e) => e.message,
    }
}

#[test]
fn numeric_comparisons_convert_the_property_to_the_constant_type() {
    let a6 = [("a", "6")];
    assert_eq!(eval("a > 5", &a6), Some(true));
    assert_eq!(eval("a >= 6", &a6), Some(true));
    assert_eq!(eval("a < 6", &a6), Some(false));
    assert_eq!(eval("a <= 5.5", &a6), Some(false));
    assert_eq!(eval("5 < a", &a6), Some(true));
    assert_eq!(
        eval("a > 3000000000", &[("a", "3000000001")]),
        Some(true),
        "i64 constant"
    );
    assert_eq!(
        eval("a > 5", &[("a", "5.5")]),
        None,
        "an int constant reads the property as int"
    );
    assert_eq!(eval("a > 5.0", &[("a", "5.5")]), Some(true));
    assert_eq!(
        eval("a > 5", &[("a", "abc")]),
        None,
        "a failed conversion filters out"
    );
    assert_eq!(eval("a > -5", &[("a", "-4")]), Some(true));
    assert_eq!(
        eval("a > b", &[("a", "2.5"), ("b", "10")]),
        Some(false),
        "two properties compare as doubles"
    );
    assert_eq!(eval("a > b", &[("a", "x"), ("b", "10")]), None);
}

#[test]
fn equality_of_strings_and_numbers() {
    assert_eq!(eval("b = 'x'", &[("b", "x")]), Some(true));
    assert_eq!(eval("b = 'x'", &[("b", "X")]), Some(false));
    assert_eq!(eval("b <> 'x'", &[("b", "y")]), Some(true));
    assert_eq!(eval("a = 3", &[("a", "03")]), Some(true));
    assert_eq!(eval("a = 3", &[("a", "3.0")]), None, "int conversion fails");
    assert_eq!(eval("a = 3.0", &[("a", "3")]), Some(true));
    assert_eq!(eval("a = b", &[("a", "1"), ("b", "1")]), Some(true));
    assert_eq!(
        eval("a = b", &[("a", "1"), ("b", "01")]),
        Some(false),
        "two strings: exact match"
    );
    assert_eq!(eval("a = TRUE", &[("a", "true")]), Some(true));
    assert_eq!(eval("'x' = 'x'", &[]), Some(true));
}

#[test]
fn null_semantics() {
    assert_eq!(eval("a > 5", &[]), None);
    assert_eq!(eval("a = 5", &[]), None, "a null left side is null");
    assert_eq!(eval("5 = a", &[]), Some(false), "a null right side is FALSE");
    assert_eq!(eval("a <> 5", &[]), None);
    assert_eq!(
        eval("a = b", &[]),
        Some(true),
        "two missing properties are equal, as in Java"
    );
    assert_eq!(eval("a IS NULL", &[]), Some(true));
    assert_eq!(eval("a IS NULL", &[("a", "1")]), Some(false));
    assert_eq!(eval("a IS NOT NULL", &[("a", "1")]), Some(true));
    assert_eq!(
        eval("a IS NOT NULL", &[("a", "")]),
        Some(false),
        "an empty value is no value"
    );
    assert_eq!(eval("NOT (a > 5)", &[]), None);
    assert_eq!(
        eval("a > 5 AND b = 'x'", &[("b", "y")]),
        Some(false),
        "FALSE dominates AND"
    );
    assert_eq!(eval("a > 5 AND b = 'x'", &[("b", "x")]), None);
    assert_eq!(
        eval("a > 5 OR b = 'x'", &[("b", "x")]),
        Some(true),
        "TRUE dominates OR"
    );
    assert_eq!(eval("a > 5 OR b = 'x'", &[("b", "y")]), None);
    assert_eq!(eval("NULL", &[]), None);
    assert_eq!(eval("a", &[]), None, "a bare missing property is null");
    assert_eq!(
        eval("a", &[("a", "true")]),
        Some(false),
        "strings are never booleans"
    );
    assert_eq!(eval("NOT a", &[("a", "x")]), Some(true));
    assert_eq!(eval("-a > 1", &[("a", "5")]), None, "negating a string is null");
}

#[test]
fn between_and_in() {
    let a = |v| [("a", v)];
    assert_eq!(eval("a BETWEEN 1 AND 3", &a("1")), Some(true));
    assert_eq!(eval("a BETWEEN 1 AND 3", &a("3")), Some(true));
    assert_eq!(eval("a BETWEEN 1 AND 3", &a("4")), Some(false));
    assert_eq!(eval("a NOT BETWEEN 1 AND 3", &a("4")), Some(true));
    assert_eq!(eval("a NOT BETWEEN 1 AND 3", &a("2")), Some(false));
    assert_eq!(eval("a BETWEEN 1 AND 3", &[]), None);
    assert_eq!(
        eval("a BETWEEN 1 AND 3 AND b = 'x'", &[("a", "2"), ("b", "x")]),
        Some(true)
    );
    assert_eq!(eval("a IN ('x', 'y')", &a("y")), Some(true));
    assert_eq!(eval("a IN ('x', 'y')", &a("z")), Some(false));
    assert_eq!(eval("a NOT IN ('x', 'y')", &a("z")), Some(true));
    assert_eq!(
        eval("a NOT IN ('x')", &[]),
        None,
        "missing is null, also for NOT IN"
    );
    assert_eq!(eval("a in ('it''s')", &a("it's")), Some(true));
}

#[test]
fn keywords_comments_and_system_properties() {
    let p = [("TAGS", "TagA"), ("KEYS", "k1"), ("a", "7")];
    assert_eq!(eval("TAGS = 'TagA' and a between 5 and 10", &p), Some(true));
    assert_eq!(
        eval("tags = 'TagA'", &p),
        None,
        "property names are case-sensitive"
    );
    assert_eq!(eval("/* c */ KEYS IS NOT NULL -- trailing", &p), Some(true));
    assert_eq!(eval("TRUE or a > 1000", &p), Some(true));
    assert_eq!(eval("(a > 5) = TRUE", &p), Some(true));
    assert_eq!(eval("a > 5L", &p), Some(true));
}

#[test]
fn compile_errors_name_the_problem() {
    assert_eq!(compile_err("a > 'x'"), "Value ''x'' cannot be compared.");
    assert_eq!(compile_err("a > TRUE"), "Value 'TRUE' cannot be compared.");
    assert_eq!(compile_err("NOT a > 5"), "Value 'NOT a' cannot be compared.");
    assert_eq!(compile_err("a = NULL"), "'NULL' cannot be compared.");
    assert_eq!(compile_err("TRUE = 5"), "'TRUE' cannot be compared with '5'");
    assert_eq!(
        compile_err("5"),
        "Expression will not result in a boolean value: 5"
    );
    assert_eq!(
        compile_err("'x'"),
        "Expression will not result in a boolean value: 'x'"
    );
    assert_eq!(
        compile_err("a BETWEEN 5 AND 1"),
        "Illegal values of between, left value(5) must less than or equal to right value(1)"
    );
    assert_eq!(
        compile_err("a BETWEEN NULL AND 1"),
        "Illegal values of between, values can not be null!"
    );
    assert_eq!(
        compile_err("a IN (1, 2)"),
        "Encountered \"1\" at position 7, expected a string literal"
    );
    assert_eq!(
        compile_err("'a' IN ('x')"),
        "Expected a property for In expression, got: 'a'"
    );
    assert_eq!(compile_err("a > 0.0"), "0.0 is less than 4.9E-324");
    assert_eq!(
        compile_err("a > 1e999"),
        "1e999 is greater than 1.7976931348623157E308"
    );
    assert_eq!(
        compile_err("a > 99999999999999999999"),
        "number 99999999999999999999 is outside the 64-bit integer range"
    );
    assert_eq!(compile_err("a != 1"), "unexpected character '!' at position 3");
    assert_eq!(
        compile_err("a > 5 AND"),
        "Encountered the end of the expression at position 10, expected a value"
    );
    assert_eq!(
        compile_err("(a > 5"),
        "Encountered the end of the expression at position 7, expected ')'"
    );
    assert_eq!(
        compile_err("a > 5 b"),
        "Encountered \"b\" at position 7, expected end of expression"
    );
    assert_eq!(
        compile_err("a IS 5"),
        "Encountered \"5\" at position 6, expected NULL"
    );
    assert_eq!(compile_err("   "), "the expression is empty");
    assert_eq!(
        compile_err("a CONTAINS 'x'"),
        "Encountered \"CONTAINS\" at position 3, expected end of expression"
    );
}

#[test]
fn deep_or_long_selectors_are_refused_not_overflowed() {
    let deep = format!("{}a > 1{}", "(".repeat(10_000), ")".repeat(10_000));
    assert!(compile_err(&deep).contains("nested deeper"));
    let nots = format!("{}a", "NOT ".repeat(10_000));
    assert!(compile_err(&nots).contains("nested deeper"));
    let long = vec!["a = 1"; 5000].join(" AND ");
    assert!(compile_err(&long).contains("more than 1000 operators"));
    let ok = vec!["a = 1"; 500].join(" OR ");
    assert_eq!(eval(&ok, &[("a", "1")]), Some(true));
}

#[test]
fn cache_returns_the_same_compilation() {
    let cache = SelectorCache::default();
    let a = cache.compile("a > 5").unwrap();
    let b = cache.compile("a > 5").unwrap();
    assert!(std::sync::Arc::ptr_eq(&a, &b));
    assert!(cache.compile("a >").is_err());
    for i in 0..(SelectorCache::CAPACITY * 2) {
        assert!(cache.compile(&format!("a > {i}")).is_ok());
    }
    assert!(cache.map.lock().unwrap().len() <= SelectorCache::CAPACITY);
}

mod fuzz {
    use proptest::prelude::*;

    use super::super::Selector;

    /// Pieces that make selectors which often parse, so evaluation is exercised too.
    fn fragment() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("a".to_string()),
            Just("b".to_string()),
            Just("TAGS".to_string()),
            Just("AND".to_string()),
            Just("OR".to_string()),
            Just("NOT".to_string()),
            Just("IS NULL".to_string()),
            Just("IS NOT NULL".to_string()),
            Just("BETWEEN 1 AND 5".to_string()),
            Just("NOT IN ('x', 'y')".to_string()),
            Just("IN ('1')".to_string()),
            Just("(".to_string()),
            Just(")".to_string()),
            Just("-".to_string()),
            prop::sample::select(vec!["=", "<>", "<", "<=", ">", ">="]).prop_map(str::to_string),
            any::<i64>().prop_map(|n| n.to_string()),
            any::<f64>().prop_map(|f| format!("{f:?}")),
            "[a-z' ]{0,4}".prop_map(|s| format!("'{}'", s.replace('\'', "''"))),
            Just("TRUE".to_string()),
            Just("NULL".to_string()),
        ]
    }

    fn properties() -> impl Strategy<Value = String> {
        let value = prop_oneof![
            any::<i32>().prop_map(|n| n.to_string()),
            any::<f64>().prop_map(|f| f.to_string()),
            Just("NaN".to_string()),
            Just(String::new()),
            "\\PC{0,6}",
        ];
        prop::collection::vec((prop::sample::select(vec!["a", "b", "TAGS", ""]), value), 0..5).prop_map(
            |pairs| {
                pairs
                    .into_iter()
                    .map(|(k, v)| format!("{k}\u{1}{v}"))
                    .collect::<Vec<_>>()
                    .join("\u{2}")
            },
        )
    }

    proptest! {
        #[test]
        fn any_text_compiles_or_fails_cleanly(sql in "\\PC{0,64}", props in "\\PC{0,32}") {
            if let Ok(s) = Selector::compile(&sql) {
                let _ = s.evaluate(&props);
            }
        }

        #[test]
        fn token_soup_evaluates_without_panicking(
            parts in prop::collection::vec(fragment(), 1..12),
            props in properties(),
        ) {
            let sql = parts.join(" ");
            if let Ok(s) = Selector::compile(&sql) {
                let r = s.evaluate(&props);
                prop_assert_eq!(s.matches(&props), r == Some(true));
            }
        }
    }
}
