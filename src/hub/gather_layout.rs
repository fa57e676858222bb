//! How the engines' pieces of a gather fit together (pure logic).
//!
//! Pieces are concatenated along axis 0 in target order. A piece with one dimension fewer than
//! the largest counts as a single item (what `scatter_flattened` leaves on an engine that got
//! one item), and when every piece is a scalar the result is the 1-D array of them (IPython
//! Parallel's `gather` of per-engine sums).

/// Elements each engine sends, and the shape of the gathered array.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct GatherLayout {
    pub counts: Vec<usize>,
    pub shape: Vec<usize>,
}

impl GatherLayout {
    pub(crate) fn total(&self) -> usize {
        self.counts.iter().sum()
    }
}

/// Lays out pieces of the given shapes (`shapes[i]` is engine `i`'s, in target order).
pub(crate) fn gather_layout(shapes: &[Vec<u64>]) -> Result<GatherLayout, String> {
    let to_usize =
        |d: u64| usize::try_from(d).map_err(|_| format!("dimension {d} overflows usize"));
    let ndim = shapes.iter().map(Vec::len).max().unwrap_or(0);
    if ndim == 0 {
        return Ok(GatherLayout {
            counts: vec![1; shapes.len()],
            shape: vec![shapes.len()],
        });
    }
    let mut item: Option<(usize, &[u64])> = None;
    let mut counts = Vec::with_capacity(shapes.len());
    let mut rows_total = 0usize;
    for (engine, s) in shapes.iter().enumerate() {
        let (rows, item_shape) = if s.len() == ndim {
            (to_usize(s[0])?, &s[1..])
        } else if s.len() + 1 == ndim {
            (1, &s[..])
        } else {
            return Err(format!(
                "engine {engine} holds a {}-D value but others hold {ndim}-D arrays",
                s.len()
            ));
        };
        match item {
            None => item = Some((engine, item_shape)),
            Some((first, shape)) if shape != item_shape => {
                return Err(format!(
                    "items of engine {first} have shape {shape:?} but those of engine {engine} have shape {item_shape:?}"
                ));
            }
            Some(_) => {}
        }
        let item_len = item_shape
            .iter()
            .try_fold(1usize, |acc, &d| acc.checked_mul(to_usize(d).ok()?))
            .ok_or("item size overflows usize")?;
        counts.push(
            rows.checked_mul(item_len)
                .ok_or("piece size overflows usize")?,
        );
        rows_total = rows_total
            .checked_add(rows)
            .ok_or("row count overflows usize")?;
    }
    let mut shape = vec![rows_total];
    for &d in item.map_or(&[][..], |(_, s)| s) {
        shape.push(to_usize(d)?);
    }
    counts
        .iter()
        .try_fold(0usize, |acc, &c| acc.checked_add(c))
        .ok_or("total size overflows usize")?;
    Ok(GatherLayout { counts, shape })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalars_become_a_vector() {
        let l = gather_layout(&[vec![], vec![], vec![], vec![]]).unwrap();
        assert_eq!(
            l,
            GatherLayout {
                counts: vec![1; 4],
                shape: vec![4]
            }
        );
    }

    #[test]
    fn arrays_concatenate_along_axis_0() {
        let l = gather_layout(&[vec![3, 2], vec![3, 2], vec![2, 2], vec![0, 2]]).unwrap();
        assert_eq!(l.counts, vec![6, 6, 4, 0]);
        assert_eq!(l.shape, vec![8, 2]);
        assert_eq!(l.total(), 16);
    }

    #[test]
    fn flattened_items_count_as_one_row() {
        let l = gather_layout(&[vec![2], vec![], vec![]]).unwrap();
        assert_eq!((l.counts, l.shape), (vec![2, 1, 1], vec![4]));
        let l = gather_layout(&[vec![2, 3], vec![3]]).unwrap();
        assert_eq!((l.counts, l.shape), (vec![6, 3], vec![3, 3]));
    }

    #[test]
    fn mismatched_pieces_are_errors() {
        assert!(
            gather_layout(&[vec![2, 3], vec![2, 4]])
                .unwrap_err()
                .contains("shape")
        );
        assert!(
            gather_layout(&[vec![2, 3, 1], vec![2]])
                .unwrap_err()
                .contains("1-D")
        );
        assert!(gather_layout(&[vec![u64::MAX, 4]]).is_err());
    }
}
