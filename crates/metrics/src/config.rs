//! [`MetricsConfig`]: RocketMQ 5's metrics keys, read from `broker.conf` (and, as an
//! extension, from `namesrv.conf`) with Apache's names and defaults.
//!
//! | key | default | here |
//! |---|---|---|
//! | `metricsExporterType` | `DISABLE` | `DISABLE`/0 or `PROM`/2; `OTLP_GRPC`/1 and `LOG`/3 are refused with an error |
//! | `metricsPromExporterHost` | "" | address to bind; "" = `brokerIP1` (nameserver: every interface) |
//! | `metricsPromExporterPort` | 5557 | port of the HTTP server (`/metrics`) |
//! | `metricsLabel` | "" | `k1:v1,k2:v2`, extra labels on every series |
//! | `metricsInDelta` | false | adds `aggregation="delta"` to every series, as RocketMQ 5 does |
//! | `metricsOtelCardinalityLimit` | 50000 | most series per metric |

use crate::family::DEFAULT_CARDINALITY_LIMIT;

/// `metricsExporterType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ExporterType {
    /// No metrics (Apache's default).
    #[default]
    Disable,
    /// A Prometheus `/metrics` page.
    Prom,
}

/// The metrics settings of one server.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricsConfig {
    /// `metricsExporterType`.
    pub exporter_type: ExporterType,
    /// `metricsPromExporterHost`; empty = the server's default address.
    pub prom_host: String,
    /// `metricsPromExporterPort` (0 = any free port, for tests).
    pub prom_port: u16,
    /// `metricsLabel` pairs.
    pub labels: Vec<(String, String)>,
    /// `metricsInDelta`.
    pub in_delta: bool,
    /// `metricsOtelCardinalityLimit`.
    pub cardinality_limit: usize,
}

/// Apache's default `metricsPromExporterPort`.
pub const DEFAULT_PROM_PORT: u16 = 5557;

impl Default for MetricsConfig {
    fn default() -> Self {
        MetricsConfig {
            exporter_type: ExporterType::Disable,
            prom_host: String::new(),
            prom_port: DEFAULT_PROM_PORT,
            labels: Vec::new(),
            in_delta: false,
            cardinality_limit: DEFAULT_CARDINALITY_LIMIT,
        }
    }
}

/// RocketMQ 5 metrics keys for the OTLP and logging exporters: accepted and ignored (only the
/// Prometheus exporter exists here).
pub const IGNORED_KEYS: &[&str] = &[
    "metricsGrpcExporterTarget",
    "metricsGrpcExporterHeader",
    "metricGrpcExporterTimeOutInMills",
    "metricGrpcExporterIntervalInMills",
    "metricLoggingExporterIntervalInMills",
    "metricsExportBatchSize",
];

/// Keys [`MetricsConfig::set`] reads.
pub const KEYS: &[&str] = &[
    "metricsExporterType",
    "metricsPromExporterHost",
    "metricsPromExporterPort",
    "metricsLabel",
    "metricsInDelta",
    "metricsOtelCardinalityLimit",
];

impl MetricsConfig {
    /// Whether the `/metrics` page is served.
    pub fn enabled(&self) -> bool {
        self.exporter_type == ExporterType::Prom
    }

    /// Applies one property. `Ok(false)` when `key` is not a metrics key; `Err` says what is
    /// wrong with the value (the caller adds the key and line).
    pub fn set(&mut self, key: &str, raw: &str) -> Result<bool, String> {
        let v = raw.trim();
        match key {
            "metricsExporterType" => {
                self.exporter_type = match v.to_ascii_uppercase().as_str() {
                    "DISABLE" | "0" | "" => ExporterType::Disable,
                    "PROM" | "2" => ExporterType::Prom,
                    "OTLP_GRPC" | "1" | "LOG" | "3" => {
                        return Err(format!(
                            "{v:?}: only the Prometheus exporter exists here; use PROM (or DISABLE)"
                        ))
                    }
                    _ => return Err(format!("{v:?} is not DISABLE, PROM, OTLP_GRPC or LOG")),
                }
            }
            "metricsPromExporterHost" => self.prom_host = v.to_string(),
            "metricsPromExporterPort" => {
                self.prom_port = v
                    .parse()
                    .map_err(|_| format!("{v:?} is not a port number (0-65535)"))?
            }
            "metricsLabel" => self.labels = parse_labels(v)?,
            "metricsInDelta" => {
                self.in_delta = match v {
                    "true" => true,
                    "false" => false,
                    _ => return Err(format!("{v:?} is not true or false")),
                }
            }
            "metricsOtelCardinalityLimit" => {
                self.cardinality_limit = v
                    .parse()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| format!("{v:?} is not a positive number"))?
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// The keys and their effective values, for `-p` and GET_BROKER_CONFIG.
    pub fn to_properties(&self) -> Vec<(&'static str, String)> {
        vec![
            (
                "metricsExporterType",
                match self.exporter_type {
                    ExporterType::Disable => "DISABLE",
                    ExporterType::Prom => "PROM",
                }
                .to_string(),
            ),
            ("metricsPromExporterHost", self.prom_host.clone()),
            ("metricsPromExporterPort", self.prom_port.to_string()),
            (
                "metricsLabel",
                self.labels
                    .iter()
                    .map(|(k, v)| format!("{k}:{v}"))
                    .collect::<Vec<_>>()
                    .join(","),
            ),
            ("metricsInDelta", self.in_delta.to_string()),
            ("metricsOtelCardinalityLimit", self.cardinality_limit.to_string()),
        ]
    }

    /// The common labels after the server's own (`cluster`, `node_type`, `node_id`):
    /// `metricsLabel` pairs, then `aggregation="delta"` with `metricsInDelta`.
    pub fn extra_labels(&self) -> Vec<(&str, &str)> {
        let mut out: Vec<(&str, &str)> = self
            .labels
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        if self.in_delta {
            out.push(("aggregation", "delta"));
        }
        out
    }
}

/// Parses `k1:v1,k2:v2`; names must be Prometheus label names.
fn parse_labels(raw: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    for pair in raw.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let Some((k, v)) = pair.split_once(':') else {
            return Err(format!("{pair:?} is not key:value (write k1:v1,k2:v2)"));
        };
        let k = k.trim();
        let valid = k
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && !k.starts_with("__");
        if !valid {
            return Err(format!(
                "{k:?} is not a Prometheus label name (letters, digits and _, not starting with a digit or __)"
            ));
        }
        out.push((k.to_string(), v.trim().to_string()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_apache_names_and_numbers() {
        let mut c = MetricsConfig::default();
        assert!(!c.enabled());
        assert_eq!(c.set("metricsExporterType", "2"), Ok(true));
        assert!(c.enabled());
        assert_eq!(c.set("metricsExporterType", "prom"), Ok(true));
        assert!(c
            .set("metricsExporterType", "OTLP_GRPC")
            .unwrap_err()
            .contains("PROM"));
        assert!(c.set("metricsExporterType", "x").is_err());
        assert_eq!(c.set("metricsPromExporterPort", "19999"), Ok(true));
        assert_eq!(c.prom_port, 19999);
        assert!(c.set("metricsPromExporterPort", "70000").is_err());
        assert_eq!(c.set("metricsLabel", "env:prod, dc:eu-1"), Ok(true));
        assert_eq!(c.set("metricsInDelta", "true"), Ok(true));
        assert_eq!(
            c.extra_labels(),
            vec![("env", "prod"), ("dc", "eu-1"), ("aggregation", "delta")]
        );
        assert!(c.set("metricsLabel", "9x:1").is_err());
        assert!(c.set("metricsLabel", "novalue").is_err());
        assert_eq!(c.set("listenPort", "1"), Ok(false));
        let props = c.to_properties();
        assert!(props.contains(&("metricsExporterType", "PROM".to_string())));
        assert!(props.contains(&("metricsLabel", "env:prod,dc:eu-1".to_string())));
    }
}
