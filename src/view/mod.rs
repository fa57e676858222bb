//! Views: [`DirectView`] (a fixed list of engines).

mod direct;
mod gather_layout;

pub use direct::DirectView;
