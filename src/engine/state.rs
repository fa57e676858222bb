//! What an engine does with a request, independent of how the request arrived: the same code
//! serves MPI engines and the in-process engine of a one-rank run.

use mpi::topology::SimpleCommunicator;
use ndarray::{ArrayD, Axis, IxDyn};

use super::pool::BufferPool;
use crate::error::RemoteErrorKind;
use crate::namespace::{Namespace, NamespaceError};
use crate::protocol::ReplyBody;
use crate::registry::{Context, Failure, Registry, Report};
use crate::targets::EngineId;
use crate::value::{ArrayValue, DType, Element, TypeSpec, Value, WireValue};

/// One engine's state: its id, namespace, and the buffers it keeps for reuse.
pub(crate) struct EngineState {
    pub id: EngineId,
    pub n_engines: usize,
    pub namespace: Namespace,
    pub pool: BufferPool,
    /// Every engine's rank, without the controller (`None` outside a running job).
    pub engines: Option<SimpleCommunicator>,
    /// Where calls that asked for it print.
    pub capture: super::capture::Capture,
}

impl EngineState {
    /// Engine `id` of `n_engines`, keeping up to `pool_bytes` of receive buffers for reuse.
    pub(crate) fn new(id: EngineId, n_engines: usize, pool_bytes: u64) -> EngineState {
        EngineState {
            id,
            n_engines,
            namespace: Namespace::new(),
            pool: BufferPool::with_limit(usize::try_from(pool_bytes).unwrap_or(usize::MAX)),
            engines: None,
            capture: Default::default(),
        }
    }

    fn context<'s>(&'s mut self, reporter: Option<&'s mut dyn Report>) -> Context<'s> {
        Context::new(self.id, self.n_engines, &mut self.namespace)
            .with_engines(self.engines.as_ref())
            .with_reporter(reporter)
    }

    /// Runs function `func` on `args`; `reporter` takes the call's progress reports.
    pub(crate) fn apply(
        &mut self,
        registry: &Registry,
        func: u32,
        args: &[u8],
        reporter: Option<&mut dyn Report>,
    ) -> ReplyBody {
        match registry.call(
            func,
            &mut self.context(reporter.map(|r| &mut *r as _)),
            args,
        ) {
            Ok(bytes) => ReplyBody::Value(bytes),
            Err(failure) => failed(registry.name(func), failure),
        }
    }

    /// Runs task `task`; `reporter` takes its progress reports.
    pub(crate) fn execute(
        &mut self,
        registry: &Registry,
        task: u32,
        reporter: Option<&mut dyn Report>,
    ) -> ReplyBody {
        match registry.call(task, &mut self.context(reporter.map(|r| &mut *r as _)), &[]) {
            Ok(_) => ReplyBody::Ack,
            Err(failure) => failed(registry.name(task), failure),
        }
    }

    pub(crate) fn map(&mut self, registry: &Registry, func: u32, items: &[u8]) -> ReplyBody {
        match registry.map(func, &mut self.context(None), items) {
            Ok(mapped) => ReplyBody::Mapped(mapped),
            Err(failure) => failed(registry.name(func), failure),
        }
    }

    /// Checks each name against its type; the wire form of each value that passes.
    pub(crate) fn pull(&self, names: &[(String, TypeSpec)]) -> Vec<Result<WireValue, Failure>> {
        names
            .iter()
            .map(|(name, spec)| {
                self.namespace
                    .checked(name, spec)
                    .map(|v| v.to_wire().0)
                    .map_err(namespace_failure)
            })
            .collect()
    }

    /// The arrays among the pulled values, in order (their data follows the reply).
    pub(crate) fn pulled_arrays<'a>(
        &'a self,
        names: &'a [(String, TypeSpec)],
    ) -> impl Iterator<Item = &'a ArrayValue> + 'a {
        names
            .iter()
            .filter_map(|(name, spec)| match self.namespace.checked(name, spec) {
                Ok(Value::Array(a)) => Some(a),
                _ => None,
            })
    }

    pub(crate) fn clear(&mut self, names: Option<&[String]>) {
        match names {
            None => {
                let removed: Vec<Value> = self.namespace.drain().collect();
                for v in removed {
                    self.pool.recycle(Some(v));
                }
            }
            Some(names) => {
                for n in names {
                    let old = self.namespace.remove(n);
                    self.pool.recycle(old);
                }
            }
        }
    }

    /// Stores `value` under `name`; a large array it replaces goes to the buffer pool.
    pub(crate) fn store(&mut self, name: String, value: Value) {
        let old = self.namespace.set_value(name, value);
        self.pool.recycle(old);
    }

    /// A buffer of `n` elements for receiving a new value of `name`: the value `name` holds now
    /// is given up first (it is about to be replaced), so its buffer can be reused.
    pub(crate) fn receive_buffer<T: Element>(&mut self, name: &str, n: usize) -> Vec<T> {
        let old = self.namespace.remove(name);
        self.pool.recycle(old);
        self.pool.take(n)
    }

    /// Stores a scattered partition (`rows` × item shape), flattening a single item if asked.
    pub(crate) fn store_partition<T: Element>(
        &mut self,
        name: String,
        data: Vec<T>,
        rows: usize,
        item_shape: &[usize],
        flatten: bool,
    ) {
        let mut shape = Vec::with_capacity(item_shape.len() + 1);
        shape.push(rows);
        shape.extend_from_slice(item_shape);
        let array = ArrayD::from_shape_vec(IxDyn(&shape), data)
            .expect("partition length matches its shape");
        let value = if flatten && rows == 1 {
            let item = array.index_axis_move(Axis(0), 0);
            if item.ndim() == 0 {
                item.into_iter().next().expect("one element").into_scalar()
            } else {
                Value::Array(T::wrap(item))
            }
        } else {
            Value::Array(T::wrap(array))
        };
        self.store(name, value);
    }

    /// The shape this engine contributes to a gather of `name` as `dtype` (a scalar is a 0-d
    /// array), or why it cannot.
    pub(crate) fn gather_shape(&self, name: &str, dtype: DType) -> Result<Vec<u64>, Failure> {
        let value = self.namespace.value(name).map_err(namespace_failure)?;
        let wrong = || {
            namespace_failure(NamespaceError::WrongType {
                name: name.into(),
                found: value.describe(),
                wanted: format!("array or scalar of {dtype}"),
            })
        };
        match value {
            Value::Array(a) if a.dtype() == dtype => Ok(a.header().shape),
            Value::Array(_) => Err(wrong()),
            scalar => {
                let fits = crate::with_dtype!(dtype, T => T::from_scalar(scalar).is_some());
                if fits { Ok(Vec::new()) } else { Err(wrong()) }
            }
        }
    }

    /// The contiguous elements of `name` for a gather (a scalar becomes one element). Only
    /// called after [`gather_shape`](Self::gather_shape) succeeded for `T`.
    pub(crate) fn gather_data<T: Element>(&self, name: &str) -> std::borrow::Cow<'_, [T]> {
        match self.namespace.value(name) {
            Ok(Value::Array(a)) => {
                let a = T::peek(a).expect("dtype checked by gather_shape");
                match a.as_slice() {
                    Some(s) => std::borrow::Cow::Borrowed(s),
                    None => std::borrow::Cow::Owned(a.iter().copied().collect()),
                }
            }
            Ok(scalar) => std::borrow::Cow::Owned(vec![
                T::from_scalar(scalar).expect("checked by gather_shape"),
            ]),
            Err(_) => unreachable!("checked by gather_shape"),
        }
    }
}

/// A whole-request failure.
pub(crate) fn failed(function: &str, failure: Failure) -> ReplyBody {
    ReplyBody::Failed {
        function: function.to_string(),
        failure,
    }
}

pub(crate) fn namespace_failure(e: NamespaceError) -> Failure {
    let kind = match e {
        NamespaceError::Missing(_) => RemoteErrorKind::MissingName,
        NamespaceError::WrongType { .. } => RemoteErrorKind::WrongType,
    };
    Failure {
        kind,
        message: e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::NamespaceValue;

    #[test]
    fn flattening_stores_single_items_as_items() {
        let mut s = EngineState::new(0, 4, 1 << 30);
        s.store_partition("one".into(), vec![7.0f64], 1, &[], true);
        assert_eq!(s.namespace.value("one").unwrap(), &Value::Float(7.0));
        s.store_partition("row".into(), vec![1i32, 2, 3], 1, &[3], true);
        assert_eq!(s.namespace.get::<Vec<i32>>("row").unwrap(), vec![1, 2, 3]);
        s.store_partition("two".into(), vec![1.0f64, 2.0], 2, &[], true);
        assert_eq!(s.namespace.get::<Vec<f64>>("two").unwrap(), vec![1.0, 2.0]);
        s.store_partition("none".into(), Vec::<f64>::new(), 0, &[2], true);
        assert_eq!(
            s.namespace.value("none").unwrap().describe(),
            "array of f64 with shape [0, 2]"
        );
    }

    #[test]
    fn gather_shapes_accept_arrays_and_matching_scalars() {
        let mut s = EngineState::new(0, 1, 1 << 30);
        s.namespace.set("a", vec![1.0f64, 2.0]);
        s.namespace.set("b", 12i64);
        s.namespace.set("c", "text".to_string());
        assert_eq!(s.gather_shape("a", DType::F64).unwrap(), vec![2]);
        assert_eq!(s.gather_shape("b", DType::I64).unwrap(), Vec::<u64>::new());
        assert_eq!(
            s.gather_shape("b", DType::F64).unwrap_err().kind,
            RemoteErrorKind::WrongType
        );
        assert_eq!(
            s.gather_shape("c", DType::F64).unwrap_err().kind,
            RemoteErrorKind::WrongType
        );
        assert_eq!(
            s.gather_shape("z", DType::F64).unwrap_err().kind,
            RemoteErrorKind::MissingName
        );
        assert_eq!(s.gather_data::<i64>("b").as_ref(), &[12]);
        assert_eq!(s.gather_data::<f64>("a").as_ref(), &[1.0, 2.0]);
        let pulled = s.pull(&[("a".into(), Vec::<f64>::spec()), ("c".into(), f64::spec())]);
        assert!(pulled[0].is_ok());
        assert_eq!(
            pulled[1].as_ref().unwrap_err().kind,
            RemoteErrorKind::WrongType
        );
        assert_eq!(
            s.pulled_arrays(&[("a".into(), Vec::<f64>::spec())]).count(),
            1
        );
    }
}
