//! HPACK (RFC 7541) header compression for HTTP/2: sans-IO, bounded, fast.
//!
//! - [`Decoder`] takes one complete header block at a time and hands each
//!   field to a callback (or fills a reusable [`HeaderList`]) without
//!   allocating per field. It enforces the acknowledged table size, the
//!   rules for dynamic table size updates, and `max_header_list_size`
//!   *while* decoding (HPACK bomb defence).
//! - [`Encoder`] appends blocks to a `Vec<u8>`, indexing repeated fields,
//!   Huffman coding strings when that is shorter, never indexing sensitive
//!   fields, and keeping its table at most 4 KiB whatever the peer allows.
//!
//! ```
//! use flare_hpack::{Decoder, Encoder, Field, HeaderList};
//!
//! let mut encoder = Encoder::new();
//! let mut block = Vec::new();
//! encoder.encode(
//!     [
//!         Field::new(b":method", b"GET"),
//!         Field::new(b":path", b"/index.html"),
//!         Field::sensitive(b"x-api-key", b"secret"),
//!     ],
//!     &mut block,
//! );
//!
//! let mut decoder = Decoder::new().with_max_header_list_size(16 * 1024);
//! let mut list = HeaderList::new();
//! decoder.decode_into(&block, &mut list).unwrap();
//! assert_eq!(list.get(1).unwrap().value, b"/index.html");
//! assert!(list.get(2).unwrap().sensitive); // the never-indexed flag survives
//! ```
//!
//! # Using it from HTTP/2
//!
//! - Decoder: concatenate HEADERS/PUSH_PROMISE and CONTINUATION fragments
//!   (bounding that buffer is the caller's job), then call
//!   [`Decoder::decode`] once per block. Map [`DecodeError`] to
//!   `COMPRESSION_ERROR`, except [`DecodeError::HeaderListBomb`] which is
//!   `ENHANCE_YOUR_CALM` ([`DecodeError::is_compression_error`]); answer a
//!   block with [`BlockInfo::over_limit`] set with 431. Call
//!   [`Decoder::set_max_table_size`] when the peer ACKs our
//!   `SETTINGS_HEADER_TABLE_SIZE`.
//! - Encoder: call [`Encoder::set_peer_max_table_size`] on the peer's
//!   `SETTINGS_HEADER_TABLE_SIZE`, and [`Encoder::encode`] once per block;
//!   split the output into frames afterwards.
//!
//! # Limits and threat model
//!
//! | limit | default | what it prevents |
//! |---|---|---|
//! | [`Decoder::with_max_header_list_size`] | 64 KiB | a block that expands to a huge header list (the HPACK bomb: one large entry referenced many times); past 4x the limit decoding stops |
//! | [`Decoder::set_max_table_size`] | 4096 | the peer growing our dynamic table past what we advertised; updates above it, or missing after we lowered it, are errors |
//! | [`MAX_ENCODER_TABLE_SIZE`] | 4096 | a peer advertising a huge table making our encoder allocate for it |
//! | integers | 32 bits, 5 continuation bytes | overflow, and long runs of continuation bytes |
//!
//! Memory per decoder: at most twice the table size for entries, plus one
//! scratch buffer the size of the largest decoded string of a block. Secrets
//! (`authorization`, `proxy-authorization`, `set-cookie`, short `cookie`s,
//! and fields the caller marks) are never put in the encoder's table, which
//! closes the compression side channel of RFC 7541 section 7.1 for them.
//!
//! # Speed
//!
//! The Huffman decoder looks 12 bits ahead through a table built at compile
//! time, resolving one or two symbols per lookup with no branch on which;
//! codes longer than 12 bits are found through the canonical-code property.
//! Decoded strings go to one reusable buffer, table entries to one arena, so
//! steady-state decoding allocates nothing. The encoder finds dynamic
//! entries through two hash maps rather than by scanning the table.
#![forbid(unsafe_code)]

mod decoder;
mod encoder;
mod error;
mod field;
mod huffman;
mod index;
mod integer;
mod static_table;
mod table;

pub use decoder::{BlockInfo, Decoder, Origin, DEFAULT_MAX_HEADER_LIST_SIZE, DEFAULT_TABLE_SIZE};
pub use encoder::{Encoder, MAX_ENCODER_TABLE_SIZE};
pub use error::DecodeError;
pub use field::{Field, HeaderList};
