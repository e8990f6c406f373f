//! Sans-IO WebSocket (RFC 6455).
//!
//! This crate will hold the frame codec, masking, fragmentation and close handshake,
//! UTF-8 validation of text messages, and permessage-deflate. It is filled by the
//! WebSocket issue; nothing here yet.
#![forbid(unsafe_code)]
