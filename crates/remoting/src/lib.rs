//! RocketMQ 4.x remoting protocol, byte for byte: frames ([`codec`]), codes ([`code`]), typed
//! headers ([`header`], [`headers`]), the message encodings of the commit log and the wire
//! ([`message`]), JSON bodies ([`body`]) and an async client and server ([`net`]).
//!
//! Everything is typed at the edge: a frame's string map turns into a header struct here, so the
//! servers and clients built on this crate never handle raw `extFields`.

pub mod acl;
pub mod clip;
pub mod code;
pub mod codec;
pub mod command;
pub mod header;
pub mod message;
pub mod serialize;

pub use clip::clip;
pub use code::{LanguageCode, RequestCode, ResponseCode, CURRENT_VERSION};
pub use codec::{CodecError, RemotingCodec, DEFAULT_MAX_FRAME};
pub use command::{ExtFields, RemotingCommand, SerializeType};
pub use header::{CommandHeader, EmptyHeader, ExtValue, HeaderError, RpcRequest};
pub mod body;
pub mod headers;
pub mod java_properties;
pub mod net;
