//! `MessageSysFlag` bits carried in a record and in send headers.

/// The body is compressed (zlib unless bits 8-10 say otherwise).
pub const COMPRESSED: i32 = 0x1;
/// Several tags.
pub const MULTI_TAGS: i32 = 0x2;
/// Not a transaction message (and END_TRANSACTION's "state unknown").
pub const TRANSACTION_NOT_TYPE: i32 = 0;
/// Transaction prepared (half message).
pub const TRANSACTION_PREPARED: i32 = 0x4;
/// Transaction commit.
pub const TRANSACTION_COMMIT: i32 = 0x8;
/// Transaction rollback.
pub const TRANSACTION_ROLLBACK: i32 = 0xC;
/// Mask of the 2-bit transaction field.
pub const TRANSACTION_MASK: i32 = 0xC;
/// The born host is IPv6.
pub const BORNHOST_V6: i32 = 0x10;
/// The store host is IPv6.
pub const STOREHOST_V6: i32 = 0x20;
/// Compression type field (bits 8-10): ZLIB.
pub const COMPRESSION_ZLIB: i32 = 3 << 8;
/// Mask of the compression type field.
pub const COMPRESSION_MASK: i32 = 0x700;

/// The transaction type bits of `flag`.
pub fn transaction_type(flag: i32) -> i32 {
    flag & TRANSACTION_MASK
}
