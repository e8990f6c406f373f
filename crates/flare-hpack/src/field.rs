//! Header fields as the decoder hands them out and the encoder takes them,
//! and a reusable owned list of them.

/// One header field: a name, a value, and whether it is sensitive.
///
/// `sensitive` is the never-indexed flag of RFC 7541 section 6.2.3. The
/// decoder sets it for fields that arrived as "never indexed"; the encoder
/// sends fields with it set as "never indexed" (and never adds them to its
/// table), so a proxy that decodes and re-encodes keeps the flag, as section
/// 7.1.3 requires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Field<'a> {
    /// The field name (HTTP/2 requires lowercase; HPACK does not check).
    pub name: &'a [u8],
    /// The field value.
    pub value: &'a [u8],
    /// Never index this field: it carries a secret (section 7.1.3).
    pub sensitive: bool,
}

impl<'a> Field<'a> {
    /// A field that may be indexed.
    pub fn new(name: &'a [u8], value: &'a [u8]) -> Self {
        Field {
            name,
            value,
            sensitive: false,
        }
    }

    /// A field that must never be indexed, by us or by any intermediary.
    pub fn sensitive(name: &'a [u8], value: &'a [u8]) -> Self {
        Field {
            name,
            value,
            sensitive: true,
        }
    }

    /// The field's size as RFC 7541 section 4.1 and RFC 9113
    /// `SETTINGS_MAX_HEADER_LIST_SIZE` count it: name + value + 32.
    pub fn size(&self) -> usize {
        self.name.len() + self.value.len() + 32
    }
}

/// An owned list of header fields that reuses its memory: every name and
/// value goes into one byte buffer, so after the first few blocks filling
/// it again allocates nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HeaderList {
    bytes: Vec<u8>,
    fields: Vec<FieldSpan>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FieldSpan {
    start: usize,
    name_len: usize,
    value_len: usize,
    sensitive: bool,
}

impl HeaderList {
    /// An empty list.
    pub fn new() -> Self {
        HeaderList::default()
    }

    /// Removes every field, keeping the memory.
    pub fn clear(&mut self) {
        self.bytes.clear();
        self.fields.clear();
    }

    /// Appends a copy of `field`.
    pub fn push(&mut self, field: Field<'_>) {
        let start = self.bytes.len();
        self.bytes.extend_from_slice(field.name);
        self.bytes.extend_from_slice(field.value);
        self.fields.push(FieldSpan {
            start,
            name_len: field.name.len(),
            value_len: field.value.len(),
            sensitive: field.sensitive,
        });
    }

    /// Number of fields.
    pub fn len(&self) -> usize {
        self.fields.len()
    }

    /// Whether the list has no fields.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// The field at `index`, in the order they were pushed.
    pub fn get(&self, index: usize) -> Option<Field<'_>> {
        let span = self.fields.get(index)?;
        self.field(span)
    }

    /// The fields in order.
    pub fn iter(&self) -> impl Iterator<Item = Field<'_>> + '_ {
        self.fields.iter().filter_map(|span| self.field(span))
    }

    fn field(&self, span: &FieldSpan) -> Option<Field<'_>> {
        let mid = span.start + span.name_len;
        Some(Field {
            name: self.bytes.get(span.start..mid)?,
            value: self.bytes.get(mid..mid + span.value_len)?,
            sensitive: span.sensitive,
        })
    }
}

impl<'a> Extend<Field<'a>> for HeaderList {
    fn extend<T: IntoIterator<Item = Field<'a>>>(&mut self, iter: T) {
        for field in iter {
            self.push(field);
        }
    }
}
