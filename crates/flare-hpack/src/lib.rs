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
//! The Huffman decoder looks at 12 bits at a time through a table built at
//! compile time (one or two symbols per lookup); codes longer than 12 bits
//! are found through the canonical-code property.
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

pub use decoder::{BlockInfo, Decoder, DEFAULT_MAX_HEADER_LIST_SIZE, DEFAULT_TABLE_SIZE};
pub use encoder::{Encoder, MAX_ENCODER_TABLE_SIZE};
pub use error::DecodeError;
pub use field::{Field, HeaderList};
