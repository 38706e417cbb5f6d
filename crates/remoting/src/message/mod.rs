//! Message encodings shared by the broker's store, the wire and the clients: the commit-log record
//! ([`record`]), the properties string ([`properties`]), message ids ([`id`]), the client half of key queries ([`key_query`]), the batch body
//! ([`batch`]), tag hash codes ([`tags`]) and the `sysFlag` bits ([`sys_flag`]).

pub mod batch;
pub mod id;
pub mod key_query;
pub mod properties;
pub mod record;
pub mod sys_flag;
pub mod tags;

pub use properties::Properties;
pub use record::{MessageRecord, RecordError};
