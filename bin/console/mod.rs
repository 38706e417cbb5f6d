//! `mqconsole`'s modules: a web console over the admin library. Pages are rendered on the
//! server ([`html`], [`pages`]); [`state`] holds the admin connection and what the console
//! remembers (brokers seen, [`liveness`]; TPS histories, [`series`]); [`sampler`] fills them
//! every few seconds; [`server`] routes requests; [`forms`] checks what the browser sends.

pub mod forms;
pub mod html;
pub mod liveness;
pub mod pages;
pub mod sampler;
pub mod series;
pub mod server;
pub mod state;
pub mod system;
