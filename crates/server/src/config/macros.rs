//! A section of the config file is declared once, with its documentation, its defaults
//! and its serde behaviour, by `section!`: the doc comments become the struct's rustdoc
//! AND the comments of `twinmail config example`, so the two cannot drift apart.

/// What `config example` and `config check` need to know about a section.
pub trait Documented {
    /// The section's doc comment.
    const DOC: &'static str;
    /// Each field's name and doc comment, in declaration order.
    const FIELDS: &'static [(&'static str, &'static str)];
}

/// Declares a config section: a struct with `deny_unknown_fields`, every field defaulted,
/// and its docs available at run time through [`Documented`].
macro_rules! section {
    (
        $(#[doc = $sdoc:literal])*
        pub struct $name:ident {
            $(
                $(#[doc = $fdoc:literal])*
                pub $field:ident : $ty:ty = $default:expr,
            )*
        }
    ) => {
        $(#[doc = $sdoc])*
        #[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
        #[serde(deny_unknown_fields, default)]
        pub struct $name {
            $(
                $(#[doc = $fdoc])*
                #[serde(skip_serializing_if = "crate::config::macros::is_unset")]
                pub $field: $ty,
            )*
        }

        impl Default for $name {
            fn default() -> Self {
                Self { $( $field: $default, )* }
            }
        }

        impl crate::config::macros::Documented for $name {
            const DOC: &'static str = concat!($($sdoc, "\n",)*);
            const FIELDS: &'static [(&'static str, &'static str)] =
                &[ $( (stringify!($field), concat!($($fdoc, "\n",)*)) ),* ];
        }
    };
}

pub(crate) use section;

/// Unset optional values are left out of the serialized example (shown commented).
pub fn is_unset<T: IsUnset>(v: &T) -> bool {
    v.is_unset()
}

/// Lets `is_unset` accept any field type: only `Option::None` counts as unset.
pub trait IsUnset {
    /// True for a value that is not written out.
    fn is_unset(&self) -> bool {
        false
    }
}

impl<T> IsUnset for Option<T> {
    fn is_unset(&self) -> bool {
        self.is_none()
    }
}

impl IsUnset for String {}
impl IsUnset for bool {}
impl IsUnset for u32 {}
impl IsUnset for u64 {}
impl IsUnset for usize {}
impl IsUnset for std::path::PathBuf {}
impl IsUnset for std::net::SocketAddr {}
impl<T> IsUnset for Vec<T> {}
