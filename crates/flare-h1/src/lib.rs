//! A strict sans-IO HTTP/1.1 codec.
#![forbid(unsafe_code)]
