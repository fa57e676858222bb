//! Non-blocking forms of a direct view's data calls (IPython Parallel's `block=False`):
//! [`DirectView::push_async`], [`scatter_async`](DirectView::scatter_async),
//! [`gather_async`](DirectView::gather_async); `pull_async` and `execute` are in `direct.rs`.

use ndarray::{ArcArray, ArrayD, Dimension};

use super::DirectView;
use crate::error::{Error, Result};
use crate::result::{Multiplicity, TransferResult};
use crate::value::{Element, NamespaceValue, Value};

impl<M: Multiplicity> DirectView<M> {
    /// [`push`](Self::push) without waiting for an array's data to leave: the request reaches
    /// the engines at once (later requests run after the store), and the arrays move when the
    /// driver next calls into mpiview. Controller only.
    pub fn push_async(&self, name: &str, value: impl NamespaceValue) -> Result<TransferResult<()>> {
        self.push_values_async(vec![(name.to_string(), value.into_value())])
    }

    /// [`push_values`](Self::push_values) without waiting: see
    /// [`push_async`](Self::push_async).
    pub fn push_values_async(&self, values: Vec<(String, Value)>) -> Result<TransferResult<()>> {
        let what = match values.as_slice() {
            [(name, _)] => format!("push of `{name}`"),
            _ => format!("push of {} values", values.len()),
        };
        let id = self.hub.push_async(&self.targets, values)?;
        Ok(TransferResult::new(self.hub.clone(), id, what))
    }

    /// [`scatter`](Self::scatter) without waiting: splits `data` along axis 0 by the block rule
    /// over the view's engines and stores each part under `name`, the data moving while the
    /// driver does other things and while other engines compute (IPython Parallel's
    /// `scatter(..., block=False)`).
    ///
    /// `data` is taken as a shared array (an `Array` moves in without a copy; pass
    /// `a.clone()` to keep `a`, or an `ArcArray` clone, which is cheap) because the controller
    /// sends straight from it until the scatter is done; an array not in standard layout is
    /// copied into it first. The request reaches the engines at once: a request sent to them
    /// afterwards sees `name`. Controller only.
    ///
    /// ```no_run
    /// # fn demo(client: &mpiview::Client) -> mpiview::Result<()> {
    /// use ndarray::Array1;
    /// let dview = client.direct_view();
    /// let pending = dview.scatter_async("x", Array1::from_iter(0..1_000_000i64))?;
    /// // ... other work ...
    /// pending.get()?;
    /// # Ok(()) }
    /// ```
    pub fn scatter_async<T: Element, D: Dimension>(
        &self,
        name: &str,
        data: impl Into<ArcArray<T, D>>,
    ) -> Result<TransferResult<()>> {
        self.scatter_async_impl(name, data.into(), false)
    }

    /// [`scatter_flattened`](Self::scatter_flattened) without waiting: see
    /// [`scatter_async`](Self::scatter_async).
    pub fn scatter_flattened_async<T: Element, D: Dimension>(
        &self,
        name: &str,
        data: impl Into<ArcArray<T, D>>,
    ) -> Result<TransferResult<()>> {
        self.scatter_async_impl(name, data.into(), true)
    }

    fn scatter_async_impl<T: Element, D: Dimension>(
        &self,
        name: &str,
        data: ArcArray<T, D>,
        flatten: bool,
    ) -> Result<TransferResult<()>> {
        if data.ndim() == 0 {
            return Err(Error::Invalid(format!(
                "cannot scatter `{name}`: a 0-d array has no axis to split (push it instead)"
            )));
        }
        let id = self
            .hub
            .scatter_async(&self.targets, name, data.into_dyn(), flatten)?;
        Ok(TransferResult::new(
            self.hub.clone(),
            id,
            format!("scatter of `{name}`"),
        ))
    }

    /// [`gather`](Self::gather) without waiting (`gather(..., block=False)`): the engines are
    /// asked at once what they hold; the data moves once all have answered, whenever the driver
    /// calls into mpiview. `get()` returns the array, or the errors `gather` would return.
    /// Controller only.
    ///
    /// ```no_run
    /// # fn demo(client: &mpiview::Client) -> mpiview::Result<()> {
    /// let pending = client.direct_view().gather_async::<f64>("y")?;
    /// // ... other work ...
    /// let y = pending.get()?;
    /// # Ok(()) }
    /// ```
    pub fn gather_async<T: Element>(&self, name: &str) -> Result<TransferResult<ArrayD<T>>> {
        let id = self.hub.gather_async::<T>(&self.targets, name)?;
        Ok(TransferResult::new(
            self.hub.clone(),
            id,
            format!("gather of `{name}`"),
        ))
    }
}
