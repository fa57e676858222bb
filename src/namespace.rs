//! An engine's namespace: named, typed values that live between requests.

use std::collections::HashMap;

use ndarray::ArrayD;

use crate::value::{Element, NamespaceValue, TypeSpec, Value};

/// Why a namespace lookup failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum NamespaceError {
    /// No value has this name.
    #[error("no value named `{0}`")]
    Missing(String),
    /// The value has another type.
    #[error("`{name}` is {found}, not {wanted}")]
    WrongType {
        /// The name looked up.
        name: String,
        /// The stored value's type.
        found: String,
        /// The type asked for.
        wanted: String,
    },
}

/// Named values on one engine. Registered functions reach it through
/// [`Context`](crate::Context), which dereferences to it.
#[derive(Debug, Default)]
pub struct Namespace {
    values: HashMap<String, Value>,
}

impl Namespace {
    /// An empty namespace.
    pub fn new() -> Namespace {
        Namespace::default()
    }

    /// Stores `value` under `name`, replacing what was there.
    ///
    /// ```
    /// let mut ns = mpiview::Namespace::new();
    /// ns.set("a", 10i64);
    /// assert_eq!(ns.get::<i64>("a").unwrap(), 10);
    /// ```
    pub fn set(&mut self, name: impl Into<String>, value: impl NamespaceValue) {
        self.values.insert(name.into(), value.into_value());
    }

    /// Stores an untyped value; returns the value it replaces.
    pub fn set_value(&mut self, name: impl Into<String>, value: Value) -> Option<Value> {
        self.values.insert(name.into(), value)
    }

    /// A copy of the value under `name`, as `T`.
    ///
    /// For large arrays prefer [`array`](Self::array), which borrows.
    pub fn get<T: NamespaceValue>(&self, name: &str) -> Result<T, NamespaceError> {
        let v = self.checked(name, &T::spec())?;
        T::from_value(v.clone()).map_err(|why| NamespaceError::WrongType {
            name: name.into(),
            found: why,
            wanted: T::spec().describe(),
        })
    }

    /// Removes the value under `name` and returns it as `T`; on a type mismatch the value stays.
    pub fn take<T: NamespaceValue>(&mut self, name: &str) -> Result<T, NamespaceError> {
        self.checked(name, &T::spec())?;
        let v = self.values.remove(name).expect("checked above");
        T::from_value(v).map_err(|why| NamespaceError::WrongType {
            name: name.into(),
            found: why,
            wanted: T::spec().describe(),
        })
    }

    /// The untyped value under `name`.
    pub fn value(&self, name: &str) -> Result<&Value, NamespaceError> {
        self.values
            .get(name)
            .ok_or_else(|| NamespaceError::Missing(name.into()))
    }

    /// The value under `name`, checked against `spec`.
    pub fn checked(&self, name: &str, spec: &TypeSpec) -> Result<&Value, NamespaceError> {
        let v = self.value(name)?;
        if spec.matches(v) {
            Ok(v)
        } else {
            Err(NamespaceError::WrongType {
                name: name.into(),
                found: v.describe(),
                wanted: spec.describe(),
            })
        }
    }

    /// Borrows the array of `T` under `name` (any dimension).
    ///
    /// ```
    /// let mut ns = mpiview::Namespace::new();
    /// ns.set("x", vec![1.0f64, 2.0, 3.0]);
    /// assert_eq!(ns.array::<f64>("x").unwrap().sum(), 6.0);
    /// assert!(ns.array::<f32>("x").is_err());
    /// ```
    pub fn array<T: Element>(&self, name: &str) -> Result<&ArrayD<T>, NamespaceError> {
        match self.value(name)? {
            Value::Array(a) => T::peek(a).ok_or_else(|| self.wrong_array::<T>(name)),
            _ => Err(self.wrong_array::<T>(name)),
        }
    }

    /// Mutably borrows the array of `T` under `name`.
    pub fn array_mut<T: Element>(&mut self, name: &str) -> Result<&mut ArrayD<T>, NamespaceError> {
        let err = self.wrong_array::<T>(name);
        match self.values.get_mut(name) {
            None => Err(NamespaceError::Missing(name.into())),
            Some(Value::Array(a)) => T::peek_mut(a).ok_or(err),
            Some(_) => Err(err),
        }
    }

    fn wrong_array<T: Element>(&self, name: &str) -> NamespaceError {
        match self.values.get(name) {
            None => NamespaceError::Missing(name.into()),
            Some(v) => NamespaceError::WrongType {
                name: name.into(),
                found: v.describe(),
                wanted: format!("array of {}", T::DTYPE),
            },
        }
    }

    /// Removes `name`; returns the value it had.
    pub fn remove(&mut self, name: &str) -> Option<Value> {
        self.values.remove(name)
    }

    /// Whether `name` is bound.
    pub fn contains(&self, name: &str) -> bool {
        self.values.contains_key(name)
    }

    /// The bound names, sorted.
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.values.keys().cloned().collect();
        names.sort();
        names
    }

    /// Number of bound names.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// Whether nothing is bound.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Removes every value.
    pub fn clear(&mut self) {
        self.values.clear();
    }

    /// Removes every value and hands them over.
    pub(crate) fn drain(&mut self) -> impl Iterator<Item = Value> + '_ {
        self.values.drain().map(|(_, v)| v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_and_wrong_type_are_distinct_errors() {
        let mut ns = Namespace::new();
        ns.set("s", "text".to_string());
        assert_eq!(
            ns.get::<f64>("nope").unwrap_err(),
            NamespaceError::Missing("nope".into())
        );
        let err = ns.get::<f64>("s").unwrap_err();
        assert_eq!(err.to_string(), "`s` is string, not float");
        let err = ns.take::<i64>("s").unwrap_err();
        assert!(matches!(err, NamespaceError::WrongType { .. }));
        assert!(ns.contains("s"), "a failed take leaves the value");
        assert_eq!(ns.take::<String>("s").unwrap(), "text");
        assert!(ns.is_empty());
    }

    #[test]
    fn arrays_borrow_and_mutate_in_place() {
        let mut ns = Namespace::new();
        ns.set("v", vec![1i64, 2, 3]);
        ns.array_mut::<i64>("v").unwrap().mapv_inplace(|x| x * 10);
        assert_eq!(ns.get::<Vec<i64>>("v").unwrap(), vec![10, 20, 30]);
        assert!(ns.array_mut::<f64>("v").is_err());
        assert_eq!(ns.names(), vec!["v".to_string()]);
        ns.clear();
        assert_eq!(ns.len(), 0);
    }
}
