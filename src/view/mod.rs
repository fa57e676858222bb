//! Views: [`DirectView`] (a fixed list of engines) and [`LoadBalancedView`] (whichever engine is
//! free).

mod balanced;
mod direct;
mod gather_layout;

pub use balanced::LoadBalancedView;
pub use direct::DirectView;
