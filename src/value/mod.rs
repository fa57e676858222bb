//! The values an engine's namespace holds, and their types.
//!
//! A namespace maps names to [`Value`]s: scalars (integers, floats, complex, bool, strings),
//! numeric arrays of any dimension ([`ArrayValue`]; vectors are 1-D arrays) and serde objects
//! ([`Serde`]). Rust types enter and leave a namespace through [`NamespaceValue`]: pushing an
//! `f64` stores a float, pulling it as `f64` gives it back, pulling it as a `String` is a
//! wrong-type error that names both types.

mod element;
mod spec;

pub use element::{DType, Element};
pub use spec::{NamespaceValue, Serde, TypeSpec};

use ndarray::ArrayD;
use num_complex::Complex64;
use serde::{Deserialize, Serialize};

/// A value in an engine's namespace.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// A boolean.
    Bool(bool),
    /// A signed integer (every signed Rust integer type is stored widened to `i64`).
    Int(i64),
    /// An unsigned integer (every unsigned Rust integer type is stored widened to `u64`).
    UInt(u64),
    /// A float (`f32` is stored widened to `f64`).
    Float(f64),
    /// A complex number.
    Complex(Complex64),
    /// A string.
    Str(String),
    /// A numeric array of any dimension.
    Array(ArrayValue),
    /// Any serde value, stored encoded, with its Rust type name.
    Object {
        /// `std::any::type_name` of the stored type.
        type_name: String,
        /// The postcard encoding of the value.
        bytes: Vec<u8>,
    },
}

/// A numeric array of one of the [`Element`] types.
#[derive(Clone, Debug, PartialEq)]
#[allow(missing_docs)]
pub enum ArrayValue {
    F64(ArrayD<f64>),
    F32(ArrayD<f32>),
    I64(ArrayD<i64>),
    I32(ArrayD<i32>),
    U8(ArrayD<u8>),
    U16(ArrayD<u16>),
    C64(ArrayD<Complex64>),
}

impl ArrayValue {
    /// The element type.
    pub fn dtype(&self) -> DType {
        match self {
            ArrayValue::F64(_) => DType::F64,
            ArrayValue::F32(_) => DType::F32,
            ArrayValue::I64(_) => DType::I64,
            ArrayValue::I32(_) => DType::I32,
            ArrayValue::U8(_) => DType::U8,
            ArrayValue::U16(_) => DType::U16,
            ArrayValue::C64(_) => DType::C64,
        }
    }

    /// The shape.
    pub fn shape(&self) -> &[usize] {
        match self {
            ArrayValue::F64(a) => a.shape(),
            ArrayValue::F32(a) => a.shape(),
            ArrayValue::I64(a) => a.shape(),
            ArrayValue::I32(a) => a.shape(),
            ArrayValue::U8(a) => a.shape(),
            ArrayValue::U16(a) => a.shape(),
            ArrayValue::C64(a) => a.shape(),
        }
    }

    /// Calls `visitor` with the elements as one contiguous slice in standard (row-major) order,
    /// copying them first only when the array's layout is not that.
    pub(crate) fn visit_elements(&self, visitor: impl ElementsVisitor) {
        fn contiguous<T: Element>(a: &ArrayD<T>) -> std::borrow::Cow<'_, [T]> {
            match a.as_slice() {
                Some(s) => std::borrow::Cow::Borrowed(s),
                None => std::borrow::Cow::Owned(a.iter().copied().collect()),
            }
        }
        match self {
            ArrayValue::F64(a) => visitor.visit(&contiguous(a)),
            ArrayValue::F32(a) => visitor.visit(&contiguous(a)),
            ArrayValue::I64(a) => visitor.visit(&contiguous(a)),
            ArrayValue::I32(a) => visitor.visit(&contiguous(a)),
            ArrayValue::U8(a) => visitor.visit(&contiguous(a)),
            ArrayValue::U16(a) => visitor.visit(&contiguous(a)),
            ArrayValue::C64(a) => visitor.visit(&contiguous(a)),
        }
    }

    /// The same array in standard (row-major, contiguous) layout: itself when it already is,
    /// a copy otherwise.
    pub(crate) fn into_standard_layout(self) -> ArrayValue {
        fn standard<T: Element>(a: ArrayD<T>) -> ArrayD<T> {
            if a.is_standard_layout() {
                a
            } else {
                a.as_standard_layout().into_owned()
            }
        }
        match self {
            ArrayValue::F64(a) => ArrayValue::F64(standard(a)),
            ArrayValue::F32(a) => ArrayValue::F32(standard(a)),
            ArrayValue::I64(a) => ArrayValue::I64(standard(a)),
            ArrayValue::I32(a) => ArrayValue::I32(standard(a)),
            ArrayValue::U8(a) => ArrayValue::U8(standard(a)),
            ArrayValue::U16(a) => ArrayValue::U16(standard(a)),
            ArrayValue::C64(a) => ArrayValue::C64(standard(a)),
        }
    }

    /// The header that describes this array on the wire.
    pub fn header(&self) -> ArrayHeader {
        ArrayHeader {
            dtype: self.dtype(),
            shape: self.shape().iter().map(|&d| d as u64).collect(),
        }
    }
}

impl Value {
    /// A short description of the value's type for error messages (`f64`, `array of f64 with
    /// shape [3, 2]`, `object MyParams`).
    pub fn describe(&self) -> String {
        match self {
            Value::Bool(_) => "bool".into(),
            Value::Int(_) => "signed integer".into(),
            Value::UInt(_) => "unsigned integer".into(),
            Value::Float(_) => "float".into(),
            Value::Complex(_) => "complex".into(),
            Value::Str(_) => "string".into(),
            Value::Array(a) => format!("array of {} with shape {:?}", a.dtype(), a.shape()),
            Value::Object { type_name, .. } => format!("object {type_name}"),
        }
    }

    /// Splits a value into what travels serialized and, for arrays, the array that travels as
    /// native MPI data.
    pub fn to_wire(&self) -> (WireValue, Option<&ArrayValue>) {
        match self {
            Value::Array(a) => (WireValue::Array(a.header()), Some(a)),
            other => (WireValue::Inline(InlineValue::from_value(other)), None),
        }
    }
}

/// Something done with an array's elements, whatever their type (see
/// [`ArrayValue::visit_elements`]).
pub(crate) trait ElementsVisitor {
    fn visit<T: Element>(self, data: &[T]);
}

/// Shape and element type of an array that travels as native MPI data.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArrayHeader {
    /// Element type.
    pub dtype: DType,
    /// Shape (u64 so that headers are the same on every platform).
    pub shape: Vec<u64>,
}

impl ArrayHeader {
    /// Number of elements; `None` if it overflows `usize`.
    pub fn element_count(&self) -> Option<usize> {
        self.shape
            .iter()
            .try_fold(1usize, |acc, &d| acc.checked_mul(usize::try_from(d).ok()?))
    }

    /// The shape as `usize`s; `None` if a dimension overflows `usize`.
    pub fn dims(&self) -> Option<Vec<usize>> {
        self.shape
            .iter()
            .map(|&d| usize::try_from(d).ok())
            .collect()
    }
}

/// A value as it is described in a message: small values inline, arrays by header only.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum WireValue {
    /// A serialized non-array value.
    Inline(InlineValue),
    /// An array whose data follows as a native MPI message.
    Array(ArrayHeader),
}

/// The non-array values, serializable.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub enum InlineValue {
    Bool(bool),
    Int(i64),
    UInt(u64),
    Float(f64),
    Complex(f64, f64),
    Str(String),
    Object {
        type_name: String,
        #[serde(with = "serde_bytes")]
        bytes: Vec<u8>,
    },
}

impl InlineValue {
    /// # Panics
    /// Panics on an array value (arrays never travel inline).
    fn from_value(v: &Value) -> InlineValue {
        match v {
            Value::Bool(b) => InlineValue::Bool(*b),
            Value::Int(i) => InlineValue::Int(*i),
            Value::UInt(u) => InlineValue::UInt(*u),
            Value::Float(x) => InlineValue::Float(*x),
            Value::Complex(c) => InlineValue::Complex(c.re, c.im),
            Value::Str(s) => InlineValue::Str(s.clone()),
            Value::Object { type_name, bytes } => InlineValue::Object {
                type_name: type_name.clone(),
                bytes: bytes.clone(),
            },
            Value::Array(_) => unreachable!("arrays travel as native MPI data"),
        }
    }

    /// The namespace value.
    pub fn into_value(self) -> Value {
        match self {
            InlineValue::Bool(b) => Value::Bool(b),
            InlineValue::Int(i) => Value::Int(i),
            InlineValue::UInt(u) => Value::UInt(u),
            InlineValue::Float(x) => Value::Float(x),
            InlineValue::Complex(re, im) => Value::Complex(Complex64::new(re, im)),
            InlineValue::Str(s) => Value::Str(s),
            InlineValue::Object { type_name, bytes } => Value::Object { type_name, bytes },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{Array2, IxDyn};

    #[test]
    fn headers_describe_arrays() {
        let a = Value::Array(ArrayValue::F64(Array2::<f64>::zeros((3, 2)).into_dyn()));
        let (wire, data) = a.to_wire();
        assert_eq!(
            wire,
            WireValue::Array(ArrayHeader {
                dtype: DType::F64,
                shape: vec![3, 2]
            })
        );
        assert!(data.is_some());
        assert_eq!(a.describe(), "array of f64 with shape [3, 2]");
        let h = ArrayHeader {
            dtype: DType::U8,
            shape: vec![u64::MAX, 2],
        };
        assert_eq!(h.element_count(), None);
    }

    #[test]
    fn inline_values_round_trip() {
        for v in [
            Value::Bool(true),
            Value::Int(-3),
            Value::UInt(7),
            Value::Float(2.5),
            Value::Complex(Complex64::new(1.0, -1.0)),
            Value::Str("hi".into()),
        ] {
            let (wire, data) = v.to_wire();
            assert!(data.is_none());
            let bytes = postcard::to_stdvec(&wire).unwrap();
            let back: WireValue = postcard::from_bytes(&bytes).unwrap();
            match back {
                WireValue::Inline(i) => assert_eq!(i.into_value(), v),
                WireValue::Array(_) => panic!("scalar came back as array"),
            }
        }
        let _ = ArrayD::<u8>::zeros(IxDyn(&[0]));
    }
}
