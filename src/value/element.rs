//! Numeric element types that travel as native MPI datatypes.

use mpi::datatype::Equivalence;
use ndarray::ArrayD;
use num_complex::Complex64;
use serde::{Deserialize, Serialize};

use super::{ArrayValue, Value};

/// The element type of a numeric array in an engine's namespace.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum DType {
    /// `f64`
    F64,
    /// `f32`
    F32,
    /// `i64`
    I64,
    /// `i32`
    I32,
    /// `u8`
    U8,
    /// `u16`
    U16,
    /// `Complex<f64>`
    C64,
}

impl DType {
    /// The Rust name of the element type.
    pub fn name(self) -> &'static str {
        match self {
            DType::F64 => "f64",
            DType::F32 => "f32",
            DType::I64 => "i64",
            DType::I32 => "i32",
            DType::U8 => "u8",
            DType::U16 => "u16",
            DType::C64 => "Complex<f64>",
        }
    }

    /// Bytes per element.
    pub fn size(self) -> usize {
        match self {
            DType::F64 | DType::I64 => 8,
            DType::F32 | DType::I32 => 4,
            DType::U8 => 1,
            DType::U16 => 2,
            DType::C64 => 16,
        }
    }
}

impl std::fmt::Display for DType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

mod sealed {
    pub trait Sealed {}
}

/// A numeric type that arrays in a namespace can hold and MPI can move natively:
/// `f64`, `f32`, `i64`, `i32`, `u8`, `u16` and `Complex<f64>`.
///
/// Sealed: the set is fixed so that every rank agrees on the datatype of every array.
pub trait Element:
    Equivalence
    + Copy
    + Default
    + PartialEq
    + std::fmt::Debug
    + Send
    + Sync
    + Serialize
    + for<'de> Deserialize<'de>
    + sealed::Sealed
    + 'static
{
    /// The tag of this type.
    const DTYPE: DType;
    /// Wraps an array of this type.
    fn wrap(a: ArrayD<Self>) -> ArrayValue;
    /// The array, if `a` holds this type.
    fn peek(a: &ArrayValue) -> Option<&ArrayD<Self>>;
    /// The array, mutably, if `a` holds this type.
    fn peek_mut(a: &mut ArrayValue) -> Option<&mut ArrayD<Self>>;
    /// The array, if `a` holds this type; `a` back otherwise.
    fn unwrap(a: ArrayValue) -> Result<ArrayD<Self>, ArrayValue>;
    /// A scalar value as one element of this type (for gathering scalars), if it fits exactly.
    fn from_scalar(v: &Value) -> Option<Self>;
    /// This element as a scalar namespace value.
    fn into_scalar(self) -> Value;
}

macro_rules! element {
    ($t:ty, $variant:ident, |$v:ident| $from:expr, |$s:ident| $into:expr) => {
        impl sealed::Sealed for $t {}
        impl Element for $t {
            const DTYPE: DType = DType::$variant;
            fn wrap(a: ArrayD<Self>) -> ArrayValue {
                ArrayValue::$variant(a)
            }
            fn peek(a: &ArrayValue) -> Option<&ArrayD<Self>> {
                match a {
                    ArrayValue::$variant(x) => Some(x),
                    _ => None,
                }
            }
            fn peek_mut(a: &mut ArrayValue) -> Option<&mut ArrayD<Self>> {
                match a {
                    ArrayValue::$variant(x) => Some(x),
                    _ => None,
                }
            }
            fn unwrap(a: ArrayValue) -> Result<ArrayD<Self>, ArrayValue> {
                match a {
                    ArrayValue::$variant(x) => Ok(x),
                    other => Err(other),
                }
            }
            fn from_scalar($v: &Value) -> Option<Self> {
                $from
            }
            fn into_scalar(self) -> Value {
                let $s = self;
                $into
            }
        }
    };
}

element!(
    f64,
    F64,
    |v| match v {
        Value::Float(x) => Some(*x),
        _ => None,
    },
    |s| Value::Float(s)
);
element!(
    f32,
    F32,
    |v| match v {
        Value::Float(x) if (*x as f32) as f64 == *x || x.is_nan() => Some(*x as f32),
        _ => None,
    },
    |s| Value::Float(s as f64)
);
element!(
    i64,
    I64,
    |v| match v {
        Value::Int(x) => Some(*x),
        Value::UInt(x) => i64::try_from(*x).ok(),
        _ => None,
    },
    |s| Value::Int(s)
);
element!(
    i32,
    I32,
    |v| match v {
        Value::Int(x) => i32::try_from(*x).ok(),
        Value::UInt(x) => i32::try_from(*x).ok(),
        _ => None,
    },
    |s| Value::Int(s as i64)
);
element!(
    u8,
    U8,
    |v| match v {
        Value::Int(x) => u8::try_from(*x).ok(),
        Value::UInt(x) => u8::try_from(*x).ok(),
        _ => None,
    },
    |s| Value::UInt(s as u64)
);
element!(
    u16,
    U16,
    |v| match v {
        Value::Int(x) => u16::try_from(*x).ok(),
        Value::UInt(x) => u16::try_from(*x).ok(),
        _ => None,
    },
    |s| Value::UInt(s as u64)
);
element!(
    Complex64,
    C64,
    |v| match v {
        Value::Complex(x) => Some(*x),
        _ => None,
    },
    |s| Value::Complex(s)
);

/// Calls `$body` with the type alias `$T` bound to the Rust element type of `$dtype`.
///
/// ```ignore
/// with_dtype!(dtype, T => std::mem::size_of::<T>())
/// ```
#[macro_export]
#[doc(hidden)]
macro_rules! with_dtype {
    ($dtype:expr, $T:ident => $body:expr) => {
        match $dtype {
            $crate::value::DType::F64 => {
                type $T = f64;
                $body
            }
            $crate::value::DType::F32 => {
                type $T = f32;
                $body
            }
            $crate::value::DType::I64 => {
                type $T = i64;
                $body
            }
            $crate::value::DType::I32 => {
                type $T = i32;
                $body
            }
            $crate::value::DType::U8 => {
                type $T = u8;
                $body
            }
            $crate::value::DType::U16 => {
                type $T = u16;
                $body
            }
            $crate::value::DType::C64 => {
                type $T = ::num_complex::Complex64;
                $body
            }
        }
    };
}
