//! [`Text`]: a string that keeps up to 22 bytes in place.
//!
//! A budget's answer repeats the request's names and unit symbols (a component's name and three
//! units, the measurand's name and unit): some twenty strings per budget, nearly all a few bytes
//! long ("c0", "kPa", "1"). As `String`s each was an allocation, and building them took a third
//! of a component budget's evaluation (bench/gum_vs_gtc.py). In place they are copies of 24
//! bytes; a longer string is kept on the heap as before. It reads, compares, prints and
//! (de)serialises as the string it holds.

use std::borrow::Borrow;
use std::fmt;
use std::ops::Deref;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Bytes kept in place: with the length byte and the tag the whole is as large as a `String`.
const INLINE: usize = 22;

#[derive(Clone)]
enum Repr {
    Inline { len: u8, bytes: [u8; INLINE] },
    Heap(Box<str>),
}

/// A string, short ones without an allocation. See the module documentation.
#[derive(Clone)]
pub struct Text(Repr);

impl Text {
    pub fn new(s: &str) -> Text {
        if s.len() <= INLINE {
            let mut bytes = [0; INLINE];
            bytes[..s.len()].copy_from_slice(s.as_bytes());
            // Fits: at most INLINE bytes.
            let len = s.len() as u8;
            Text(Repr::Inline { len, bytes })
        } else {
            Text(Repr::Heap(s.into()))
        }
    }

    pub fn as_str(&self) -> &str {
        match &self.0 {
            Repr::Inline { len, bytes } => {
                std::str::from_utf8(&bytes[..usize::from(*len)]).expect("copied from a str")
            }
            Repr::Heap(s) => s,
        }
    }
}

impl Default for Text {
    fn default() -> Text {
        Text::new("")
    }
}

impl Deref for Text {
    type Target = str;

    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for Text {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl Borrow<str> for Text {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl From<&str> for Text {
    fn from(s: &str) -> Text {
        Text::new(s)
    }
}

impl From<&String> for Text {
    fn from(s: &String) -> Text {
        Text::new(s)
    }
}

impl From<String> for Text {
    /// A long string keeps its buffer.
    fn from(s: String) -> Text {
        if s.len() <= INLINE {
            Text::new(&s)
        } else {
            Text(Repr::Heap(s.into_boxed_str()))
        }
    }
}

impl From<Text> for String {
    fn from(t: Text) -> String {
        match t.0 {
            Repr::Heap(s) => s.into(),
            Repr::Inline { .. } => t.as_str().to_owned(),
        }
    }
}

impl PartialEq for Text {
    fn eq(&self, other: &Text) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for Text {}

impl PartialEq<str> for Text {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Text {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<String> for Text {
    fn eq(&self, other: &String) -> bool {
        self.as_str() == other.as_str()
    }
}

impl PartialEq<Text> for String {
    fn eq(&self, other: &Text) -> bool {
        self.as_str() == other.as_str()
    }
}

impl PartialEq<Text> for &str {
    fn eq(&self, other: &Text) -> bool {
        *self == other.as_str()
    }
}

impl std::hash::Hash for Text {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl fmt::Debug for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Text {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Text, D::Error> {
        deserializer.deserialize_str(TextVisitor)
    }
}

/// Reads a JSON string in place when it is short: no `String` is made on the way.
struct TextVisitor;

impl serde::de::Visitor<'_> for TextVisitor {
    type Value = Text;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string")
    }

    fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<Text, E> {
        Ok(Text::new(s))
    }

    fn visit_string<E: serde::de::Error>(self, s: String) -> Result<Text, E> {
        Ok(Text::from(s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_and_long_strings_read_back() {
        for s in [
            "",
            "1",
            "kPa",
            "Gauge block length dev",
            "Gauge block length deviation",
            "µm·K⁻¹",
        ] {
            let t = Text::new(s);
            assert_eq!(t.as_str(), s);
            assert_eq!(t, s);
            assert_eq!(String::from(t.clone()), s);
            assert_eq!(Text::from(s.to_string()), t);
            let json = serde_json::to_string(&t).unwrap();
            assert_eq!(json, serde_json::to_string(s).unwrap());
            assert_eq!(serde_json::from_str::<Text>(&json).unwrap(), t);
            assert_eq!(format!("{t}/{t:?}"), format!("{s}/{s:?}"));
        }
    }

    #[test]
    fn a_string_escaped_in_json_reads_back() {
        let t: Text = serde_json::from_str(r#""a\"b\u00b5""#).unwrap();
        assert_eq!(t, "a\"bµ");
    }

    #[test]
    fn twenty_two_bytes_stay_in_place() {
        assert!(matches!(Text::new(&"x".repeat(22)).0, Repr::Inline { .. }));
        assert!(matches!(Text::new(&"x".repeat(23)).0, Repr::Heap(_)));
        assert_eq!(std::mem::size_of::<Text>(), std::mem::size_of::<String>());
    }
}
