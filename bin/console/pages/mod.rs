//! One module per page family; each handler renders a whole [`crate::console::html::Page`].

pub mod charts;
pub mod cluster;
pub mod groups;
pub mod messages;
pub mod topics;
