//! Typed entry and exit of values: [`NamespaceValue`] and the [`TypeSpec`] an engine checks a
//! value against before sending it.

use ndarray::{Array, ArrayD, Dimension, Ix1, Ix2, Ix3, Ix4, Ix5, Ix6, IxDyn};
use num_complex::Complex64;
use serde::{Deserialize, Serialize, de::DeserializeOwned};

use super::{DType, Element, Value};

/// The type a pull asks for; the engine checks it before anything is sent, so that a wrong-type
/// pull is a remote error naming the engine, the name and both types.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TypeSpec {
    /// Any value.
    Any,
    /// `bool`.
    Bool,
    /// Any integer (signed or unsigned; the range is checked on conversion).
    Integer,
    /// A float.
    Float,
    /// A complex number.
    Complex,
    /// A string.
    Str,
    /// An array of `dtype` with `ndim` dimensions (`None`: any dimension).
    Array {
        /// Element type.
        dtype: DType,
        /// Number of dimensions, if fixed.
        ndim: Option<usize>,
    },
    /// A serde object of this Rust type.
    Object {
        /// `std::any::type_name` of the type.
        type_name: String,
    },
}

impl TypeSpec {
    /// Whether `v` has this type.
    pub fn matches(&self, v: &Value) -> bool {
        match (self, v) {
            (TypeSpec::Any, _) => true,
            (TypeSpec::Bool, Value::Bool(_)) => true,
            (TypeSpec::Integer, Value::Int(_) | Value::UInt(_)) => true,
            (TypeSpec::Float, Value::Float(_)) => true,
            (TypeSpec::Complex, Value::Complex(_)) => true,
            (TypeSpec::Str, Value::Str(_)) => true,
            (TypeSpec::Array { dtype, ndim }, Value::Array(a)) => {
                a.dtype() == *dtype && ndim.is_none_or(|n| n == a.shape().len())
            }
            (TypeSpec::Object { type_name }, Value::Object { type_name: t, .. }) => type_name == t,
            _ => false,
        }
    }

    /// A short description for error messages.
    pub fn describe(&self) -> String {
        match self {
            TypeSpec::Any => "any value".into(),
            TypeSpec::Bool => "bool".into(),
            TypeSpec::Integer => "integer".into(),
            TypeSpec::Float => "float".into(),
            TypeSpec::Complex => "complex".into(),
            TypeSpec::Str => "string".into(),
            TypeSpec::Array { dtype, ndim: None } => format!("array of {dtype}"),
            TypeSpec::Array {
                dtype,
                ndim: Some(n),
            } => format!("{n}-D array of {dtype}"),
            TypeSpec::Object { type_name } => format!("object {type_name}"),
        }
    }
}

/// A Rust type that can be stored in, and taken out of, an engine's namespace.
///
/// Implemented for `bool`, the integer types, `f32`, `f64`, `Complex<f64>`, `String`, `Vec<T>`
/// and ndarray arrays of any [`Element`] `T` (fixed or dynamic dimension), [`Value`] itself, and
/// any serde type wrapped in [`Serde`].
pub trait NamespaceValue: Sized + 'static {
    /// The type an engine checks the stored value against.
    fn spec() -> TypeSpec;
    /// This value as a namespace value.
    fn into_value(self) -> Value;
    /// Converts a value that matched [`spec`](Self::spec); `Err` says why it does not fit (an
    /// integer out of range).
    fn from_value(v: Value) -> Result<Self, String>;
}

impl NamespaceValue for Value {
    fn spec() -> TypeSpec {
        TypeSpec::Any
    }
    fn into_value(self) -> Value {
        self
    }
    fn from_value(v: Value) -> Result<Self, String> {
        Ok(v)
    }
}

impl NamespaceValue for bool {
    fn spec() -> TypeSpec {
        TypeSpec::Bool
    }
    fn into_value(self) -> Value {
        Value::Bool(self)
    }
    fn from_value(v: Value) -> Result<Self, String> {
        match v {
            Value::Bool(b) => Ok(b),
            other => Err(mismatch::<Self>(&other)),
        }
    }
}

macro_rules! integer {
    ($variant:ident as $wide:ty: $($t:ty),*) => {$(
        impl NamespaceValue for $t {
            fn spec() -> TypeSpec {
                TypeSpec::Integer
            }
            fn into_value(self) -> Value {
                Value::$variant(self as $wide)
            }
            fn from_value(v: Value) -> Result<Self, String> {
                let fits = |x: Option<$t>, shown: String| {
                    x.ok_or_else(|| format!("{shown} does not fit in {}", stringify!($t)))
                };
                match v {
                    Value::Int(i) => fits(<$t>::try_from(i).ok(), i.to_string()),
                    Value::UInt(u) => fits(<$t>::try_from(u).ok(), u.to_string()),
                    other => Err(mismatch::<Self>(&other)),
                }
            }
        }
    )*};
}
integer!(Int as i64: i8, i16, i32, i64, isize);
integer!(UInt as u64: u32, u64, usize);

// `u8` and `u16` are also array element types; as scalars they are unsigned integers.
integer!(UInt as u64: u8, u16);

impl NamespaceValue for f64 {
    fn spec() -> TypeSpec {
        TypeSpec::Float
    }
    fn into_value(self) -> Value {
        Value::Float(self)
    }
    fn from_value(v: Value) -> Result<Self, String> {
        match v {
            Value::Float(x) => Ok(x),
            other => Err(mismatch::<Self>(&other)),
        }
    }
}

impl NamespaceValue for f32 {
    fn spec() -> TypeSpec {
        TypeSpec::Float
    }
    fn into_value(self) -> Value {
        Value::Float(self as f64)
    }
    fn from_value(v: Value) -> Result<Self, String> {
        match v {
            Value::Float(x) => Ok(x as f32),
            other => Err(mismatch::<Self>(&other)),
        }
    }
}

impl NamespaceValue for Complex64 {
    fn spec() -> TypeSpec {
        TypeSpec::Complex
    }
    fn into_value(self) -> Value {
        Value::Complex(self)
    }
    fn from_value(v: Value) -> Result<Self, String> {
        match v {
            Value::Complex(c) => Ok(c),
            other => Err(mismatch::<Self>(&other)),
        }
    }
}

impl NamespaceValue for String {
    fn spec() -> TypeSpec {
        TypeSpec::Str
    }
    fn into_value(self) -> Value {
        Value::Str(self)
    }
    fn from_value(v: Value) -> Result<Self, String> {
        match v {
            Value::Str(s) => Ok(s),
            other => Err(mismatch::<Self>(&other)),
        }
    }
}

impl<T: Element> NamespaceValue for Vec<T> {
    fn spec() -> TypeSpec {
        TypeSpec::Array {
            dtype: T::DTYPE,
            ndim: Some(1),
        }
    }
    fn into_value(self) -> Value {
        Value::Array(T::wrap(
            ArrayD::from_shape_vec(IxDyn(&[self.len()]), self).expect("1-D"),
        ))
    }
    fn from_value(v: Value) -> Result<Self, String> {
        let a = Array::<T, Ix1>::from_value(v)?;
        Ok(if a.is_standard_layout() {
            a.into_raw_vec_and_offset().0
        } else {
            a.to_vec()
        })
    }
}

fn array_from_value<T: Element, D: Dimension>(
    v: Value,
    spec: TypeSpec,
) -> Result<Array<T, D>, String> {
    let wrong = |v: &Value| format!("{} is not {}", v.describe(), spec.describe());
    match v {
        Value::Array(a) => {
            let shown = format!("array of {} with shape {:?}", a.dtype(), a.shape());
            let a = T::unwrap(a).map_err(|a| wrong(&Value::Array(a)))?;
            a.into_dimensionality::<D>()
                .map_err(|_| format!("{shown} is not a {}", spec.describe()))
        }
        other => Err(wrong(&other)),
    }
}

macro_rules! array_dim {
    ($($d:ty => $ndim:expr),*) => {$(
        impl<T: Element> NamespaceValue for Array<T, $d> {
            fn spec() -> TypeSpec {
                TypeSpec::Array { dtype: T::DTYPE, ndim: $ndim }
            }
            fn into_value(self) -> Value {
                Value::Array(T::wrap(self.into_dyn()))
            }
            fn from_value(v: Value) -> Result<Self, String> {
                array_from_value(v, Self::spec())
            }
        }
    )*};
}
array_dim!(IxDyn => None, Ix1 => Some(1), Ix2 => Some(2), Ix3 => Some(3), Ix4 => Some(4),
           Ix5 => Some(5), Ix6 => Some(6));

/// Wraps any serde type so that it can live in a namespace (stored encoded, tagged with its
/// Rust type name; pulling it as another type is a wrong-type error).
///
/// ```
/// use mpiview::value::{NamespaceValue, Serde};
/// #[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
/// struct Params { n: u64, label: String }
/// let v = Serde(Params { n: 3, label: "x".into() }).into_value();
/// let back = Serde::<Params>::from_value(v).unwrap();
/// assert_eq!(back.0.n, 3);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Serde<T>(pub T);

impl<T: Serialize + DeserializeOwned + 'static> NamespaceValue for Serde<T> {
    fn spec() -> TypeSpec {
        TypeSpec::Object {
            type_name: std::any::type_name::<T>().to_string(),
        }
    }
    fn into_value(self) -> Value {
        Value::Object {
            type_name: std::any::type_name::<T>().to_string(),
            bytes: postcard::to_stdvec(&self.0).expect("serde value encodes"),
        }
    }
    fn from_value(v: Value) -> Result<Self, String> {
        match v {
            Value::Object { bytes, .. } => postcard::from_bytes(&bytes)
                .map(Serde)
                .map_err(|e| format!("cannot decode {}: {e}", std::any::type_name::<T>())),
            other => Err(mismatch::<Self>(&other)),
        }
    }
}

fn mismatch<T: NamespaceValue>(v: &Value) -> String {
    format!("{} is not {}", v.describe(), T::spec().describe())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{Array2, array};

    fn round_trip<T: NamespaceValue + PartialEq + std::fmt::Debug + Clone>(x: T) {
        let v = x.clone().into_value();
        assert!(T::spec().matches(&v), "{:?} vs {:?}", T::spec(), v);
        assert_eq!(T::from_value(v).unwrap(), x);
    }

    #[test]
    fn scalars_round_trip() {
        round_trip(true);
        round_trip(-5i32);
        round_trip(i64::MIN);
        round_trip(u64::MAX);
        round_trip(7usize);
        round_trip(255u8);
        round_trip(1.5f64);
        round_trip(0.25f32);
        round_trip(Complex64::new(0.5, -2.0));
        round_trip("engine".to_string());
    }

    #[test]
    fn arrays_round_trip() {
        round_trip(vec![1.0f64, 2.0, 3.0]);
        round_trip(vec![1u8, 2]);
        round_trip(array![[1i32, 2], [3, 4]]);
        round_trip(Array2::<Complex64>::zeros((2, 3)));
        round_trip(array![[1.0f32]].into_dyn());
    }

    #[test]
    fn mismatches_name_both_types() {
        let err = f64::from_value(Value::Str("x".into())).unwrap_err();
        assert_eq!(err, "string is not float");
        let err = i8::from_value(Value::Int(300)).unwrap_err();
        assert_eq!(err, "300 does not fit in i8");
        let err = u32::from_value(Value::Int(-1)).unwrap_err();
        assert_eq!(err, "-1 does not fit in u32");
        let v = vec![1.0f64, 2.0].into_value();
        assert!(!Vec::<f32>::spec().matches(&v));
        assert!(!Array2::<f64>::spec().matches(&v));
        assert!(ArrayD::<f64>::spec().matches(&v));
        let err = Array2::<f64>::from_value(v).unwrap_err();
        assert!(err.contains("not a 2-D array of f64"), "{err}");
        assert!(TypeSpec::Any.matches(&Value::Bool(false)));
    }

    #[test]
    fn serde_objects_check_their_type() {
        let v = Serde((1u32, "a".to_string())).into_value();
        assert!(Serde::<(u32, String)>::spec().matches(&v));
        assert!(!Serde::<(u64, String)>::spec().matches(&v));
    }
}
