//! Sans-IO HTTP/2 (RFC 9113).
//!
//! This crate will hold the frame codec (one module per frame type), the connection
//! state machine for server and client roles with an explicit `now`, stream states,
//! flow control, and the limits against known HTTP/2 attacks. It is filled by the
//! HTTP/2 issue; nothing here yet.
#![forbid(unsafe_code)]
