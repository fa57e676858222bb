//! Whether a view returns one value ([`One`], a view of a single engine chosen by index) or a
//! list in target order ([`Many`]), as IPython Parallel's `client[0]` and `client[[0]]` differ.

/// How a view shapes per-engine results.
pub trait Multiplicity: 'static {
    /// What a request returns when each engine gives a `T`.
    type Out<T>;
    /// Shapes the per-engine values (in target order).
    fn collect<T>(values: Vec<T>) -> Self::Out<T>;
}

/// A single-engine view (`client.engine(i)`): results are the engine's value itself.
#[derive(Clone, Copy, Debug)]
pub struct One;

/// A multi-engine view (`client.view(..)`): results are a `Vec` in target order.
#[derive(Clone, Copy, Debug)]
pub struct Many;

impl Multiplicity for One {
    type Out<T> = T;
    fn collect<T>(values: Vec<T>) -> T {
        values
            .into_iter()
            .next()
            .expect("a single-engine view has one result")
    }
}

impl Multiplicity for Many {
    type Out<T> = Vec<T>;
    fn collect<T>(values: Vec<T>) -> Vec<T> {
        values
    }
}
