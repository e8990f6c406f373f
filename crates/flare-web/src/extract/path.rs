//! `Path<T>`: the route's parameters as a value, a tuple or a struct.

use serde::de::{self, DeserializeOwned, IntoDeserializer, Visitor};
use serde::forward_to_deserialize_any;

use super::{FromRequest, Rejection, RejectionKind};
use crate::request::Request;

/// The path parameters the router captured (already percent-decoded), deserialized
/// into `T`:
///
/// - one value: `Path<u64>` for `/users/{id}`;
/// - a tuple, in pattern order: `Path<(String, u32)>` for `/{name}/{n}`;
/// - a struct or map, by name: `Path<Params>` with `#[derive(Deserialize)]`.
///
/// A value that does not parse (`/users/abc` for a `u64`) is `400`; a `T` that wants
/// another number of parameters than the route has is a program error, `500`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Path<T>(pub T);

impl<S, T: DeserializeOwned> FromRequest<S> for Path<T> {
    type Rejection = Rejection;
    fn from_request(req: &Request, _state: &S) -> Result<Self, Rejection> {
        T::deserialize(ParamsDe { req })
            .map(Path)
            .map_err(|e| match e {
                PathError::Shape => Rejection::new(
                    RejectionKind::PathShape,
                    "route parameters do not match the handler",
                ),
                PathError::Value => {
                    Rejection::new(RejectionKind::InvalidPathParam, "invalid path parameter")
                }
            })
    }
}

/// Why deserializing failed; the details stay here (they may hold request bytes).
#[derive(Debug)]
enum PathError {
    Shape,
    Value,
}

impl std::fmt::Display for PathError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            PathError::Shape => "shape",
            PathError::Value => "value",
        })
    }
}

impl std::error::Error for PathError {}

impl de::Error for PathError {
    fn custom<M: std::fmt::Display>(_msg: M) -> Self {
        PathError::Value
    }
    fn invalid_length(_len: usize, _exp: &dyn de::Expected) -> Self {
        PathError::Shape
    }
    fn missing_field(_field: &'static str) -> Self {
        PathError::Shape
    }
}

/// The whole parameter list.
struct ParamsDe<'a> {
    req: &'a Request,
}

impl<'a> ParamsDe<'a> {
    fn single(&self) -> Result<ValueDe<'a>, PathError> {
        let mut it = self.req.params();
        match (it.next(), it.next()) {
            (Some((_, v)), None) => Ok(ValueDe(v)),
            _ => Err(PathError::Shape),
        }
    }
}

macro_rules! single_value {
    ($($method:ident)*) => {
        $(
            fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, PathError> {
                self.single()?.$method(visitor)
            }
        )*
    };
}

impl<'de> de::Deserializer<'de> for ParamsDe<'de> {
    type Error = PathError;

    single_value! {
        deserialize_bool deserialize_i8 deserialize_i16 deserialize_i32 deserialize_i64
        deserialize_i128 deserialize_u8 deserialize_u16 deserialize_u32 deserialize_u64
        deserialize_u128 deserialize_f32 deserialize_f64 deserialize_char deserialize_str
        deserialize_string deserialize_bytes deserialize_byte_buf deserialize_unit
        deserialize_identifier deserialize_ignored_any deserialize_option
    }

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, PathError> {
        self.deserialize_map(visitor)
    }
    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, PathError> {
        visitor.visit_unit()
    }
    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, PathError> {
        visitor.visit_newtype_struct(self)
    }
    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, PathError> {
        self.single()?.deserialize_enum(name, variants, visitor)
    }
    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, PathError> {
        visitor.visit_seq(de::value::SeqDeserializer::new(
            self.req.params().map(|(_, v)| ValueDe(v)),
        ))
    }
    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, PathError> {
        if self.req.params().count() != len {
            return Err(PathError::Shape);
        }
        self.deserialize_seq(visitor)
    }
    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, PathError> {
        self.deserialize_tuple(len, visitor)
    }
    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, PathError> {
        visitor.visit_map(de::value::MapDeserializer::new(
            self.req.params().map(|(k, v)| (KeyDe(k), ValueDe(v))),
        ))
    }
    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, PathError> {
        self.deserialize_map(visitor)
    }
}

/// A parameter name (a map key).
struct KeyDe<'a>(&'a str);

impl<'de> IntoDeserializer<'de, PathError> for KeyDe<'de> {
    type Deserializer = de::value::BorrowedStrDeserializer<'de, PathError>;
    fn into_deserializer(self) -> Self::Deserializer {
        de::value::BorrowedStrDeserializer::new(self.0)
    }
}

/// One parameter value: a string that parses into what the visitor asks for.
#[derive(Clone, Copy)]
struct ValueDe<'a>(&'a str);

impl<'de> IntoDeserializer<'de, PathError> for ValueDe<'de> {
    type Deserializer = Self;
    fn into_deserializer(self) -> Self {
        self
    }
}

macro_rules! parse_value {
    ($($method:ident => $visit:ident),* $(,)?) => {
        $(
            fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, PathError> {
                match self.0.parse() {
                    Ok(v) => visitor.$visit(v),
                    Err(_) => Err(PathError::Value),
                }
            }
        )*
    };
}

impl<'de> de::Deserializer<'de> for ValueDe<'de> {
    type Error = PathError;

    parse_value! {
        deserialize_bool => visit_bool,
        deserialize_i8 => visit_i8,
        deserialize_i16 => visit_i16,
        deserialize_i32 => visit_i32,
        deserialize_i64 => visit_i64,
        deserialize_i128 => visit_i128,
        deserialize_u8 => visit_u8,
        deserialize_u16 => visit_u16,
        deserialize_u32 => visit_u32,
        deserialize_u64 => visit_u64,
        deserialize_u128 => visit_u128,
        deserialize_f32 => visit_f32,
        deserialize_f64 => visit_f64,
        deserialize_char => visit_char,
    }

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, PathError> {
        visitor.visit_borrowed_str(self.0)
    }
    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, PathError> {
        visitor.visit_some(self)
    }
    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, PathError> {
        visitor.visit_newtype_struct(self)
    }
    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, PathError> {
        visitor.visit_enum(de::value::BorrowedStrDeserializer::new(self.0))
    }

    forward_to_deserialize_any! {
        str string bytes byte_buf unit unit_struct seq tuple tuple_struct map struct
        identifier ignored_any
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    fn req(params: &[(&str, &str)]) -> Request {
        let mut r = Request::default();
        for (k, v) in params {
            r.push_param(k, v);
        }
        r
    }

    #[derive(Deserialize, Debug, PartialEq)]
    struct Ids {
        user: u32,
        post: String,
    }

    #[derive(Deserialize, Debug, PartialEq)]
    #[serde(rename_all = "lowercase")]
    enum Kind {
        Admin,
        Guest,
    }

    #[test]
    fn single_tuple_struct_map_enum() {
        let r = req(&[("id", "42")]);
        assert_eq!(Path::<u64>::from_request(&r, &()).unwrap().0, 42);
        assert_eq!(Path::<String>::from_request(&r, &()).unwrap().0, "42");
        assert_eq!(Path::<(u8,)>::from_request(&r, &()).unwrap().0, (42,));
        let r = req(&[("user", "7"), ("post", "hello world")]);
        assert_eq!(
            Path::<(u32, String)>::from_request(&r, &()).unwrap().0,
            (7, "hello world".to_string())
        );
        assert_eq!(
            Path::<Ids>::from_request(&r, &()).unwrap().0,
            Ids {
                user: 7,
                post: "hello world".into()
            }
        );
        let m = Path::<std::collections::HashMap<String, String>>::from_request(&r, &())
            .unwrap()
            .0;
        assert_eq!(m.len(), 2);
        let r = req(&[("kind", "admin")]);
        assert_eq!(Path::<Kind>::from_request(&r, &()).unwrap().0, Kind::Admin);
        let r = req(&[("kind", "root")]);
        assert_eq!(
            Path::<Kind>::from_request(&r, &()).unwrap_err().status(),
            400
        );
    }

    #[test]
    fn rejections() {
        let r = req(&[("id", "abc")]);
        let e = Path::<u64>::from_request(&r, &()).unwrap_err();
        assert_eq!(e.kind(), RejectionKind::InvalidPathParam);
        assert_eq!(e.status(), 400);
        assert!(!e.reason().contains("abc"));
        let r = req(&[("id", "-1")]);
        assert_eq!(
            Path::<u64>::from_request(&r, &()).unwrap_err().status(),
            400
        );
        // Shape mistakes are the program's, not the client's.
        let r = req(&[("a", "1"), ("b", "2")]);
        let e = Path::<u64>::from_request(&r, &()).unwrap_err();
        assert_eq!(e.kind(), RejectionKind::PathShape);
        assert_eq!(e.status(), 500);
        assert_eq!(
            Path::<(u8, u8, u8)>::from_request(&r, &())
                .unwrap_err()
                .status(),
            500
        );
        assert_eq!(
            Path::<Ids>::from_request(&r, &()).unwrap_err().status(),
            500
        );
        let none = req(&[]);
        assert_eq!(
            Path::<u64>::from_request(&none, &()).unwrap_err().status(),
            500
        );
    }
}
