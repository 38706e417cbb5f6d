//! `broker.conf` parsing: the Java properties reader and `BrokerConfig::from_properties`.

use std::sync::Arc;

use proptest::prelude::*;
use rmq_broker::config::BrokerConfig;
use rmq_fuzz::mutate::hostile;
use rmq_fuzz::seeds::broker_conf_corpus;
use rmq_remoting::java_properties::JavaProperties;

/// Whether the text made a valid config.
fn check(input: &[u8]) -> Result<bool, TestCaseError> {
    let text = String::from_utf8_lossy(input);
    let props = JavaProperties::parse(&text);
    // Escapes only ever shorten: keys and values fit in the text they came from.
    let held: usize = props.iter().map(|(k, v)| k.len() + v.len()).sum();
    prop_assert!(held <= text.len(), "{held} bytes held from {}", text.len());
    match BrokerConfig::from_properties(&props) {
        Ok(config) => {
            // The printed effective config (`mqbroker -p`) reads back as the same config.
            let printed = config.to_properties();
            let again = BrokerConfig::from_properties(&JavaProperties::parse(&printed));
            prop_assert!(again.is_ok(), "{printed} does not read back: {again:?}");
            prop_assert_eq!(again.map(|c| c.to_properties()).unwrap_or_default(), printed);
            Ok(true)
        }
        Err(e) => {
            prop_assert!(e.to_string().contains(e.key), "{e} does not name its key");
            Ok(false)
        }
    }
}

#[test]
fn broker_conf() {
    let corpus = Arc::new(broker_conf_corpus());
    crate::fuzz("broker_conf", hostile(corpus), |input| check(&input));
}
