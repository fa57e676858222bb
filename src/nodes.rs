//! Which engines share a node: discovered at start-up from `MPI_COMM_TYPE_SHARED` (every rank
//! reports the lowest world rank on its node), or assigned by an override so that per-node views
//! can be tested on one machine.
//!
//! Override: `MPIVIEW_NODES=<k>` splits the engines into `k` pretend nodes by the block rule;
//! `MPIVIEW_NODES=0,0,1,1,2` gives each engine's node explicitly.

use crate::error::{Error, Result};
use crate::partition::block_range;
use crate::targets::EngineId;

/// A node and the engines on it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Node {
    /// Index of the node (nodes are numbered in order of their lowest engine id).
    pub index: usize,
    /// The node's name (`MPI_Get_processor_name` of its first engine, or `node<i>` when
    /// pretend nodes are in use).
    pub name: String,
    /// The engines on this node, ascending.
    pub engines: Vec<EngineId>,
}

/// What the controller knows of one engine.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EngineInfo {
    /// The engine's id.
    pub id: EngineId,
    /// Its process id on its node.
    pub pid: u32,
    /// Its host (`MPI_Get_processor_name`).
    pub host: String,
    /// The index of its node in [`Client::nodes`](crate::Client::nodes).
    pub node: usize,
}

/// Groups engines into nodes by a per-engine key (equal keys share a node); nodes are numbered
/// by their lowest engine.
pub(crate) fn group_by_key<K: PartialEq + Clone>(
    keys: &[K],
    name_of: impl Fn(&K, EngineId) -> String,
) -> (Vec<usize>, Vec<Node>) {
    let mut node_keys: Vec<K> = Vec::new();
    let mut nodes: Vec<Node> = Vec::new();
    let mut node_of = Vec::with_capacity(keys.len());
    for (engine, key) in keys.iter().enumerate() {
        let index = match node_keys.iter().position(|k| k == key) {
            Some(i) => i,
            None => {
                node_keys.push(key.clone());
                nodes.push(Node {
                    index: nodes.len(),
                    name: name_of(key, engine),
                    engines: Vec::new(),
                });
                nodes.len() - 1
            }
        };
        nodes[index].engines.push(engine);
        node_of.push(index);
    }
    (node_of, nodes)
}

/// Parses a `MPIVIEW_NODES` override into a node key per engine.
pub(crate) fn parse_override(spec: &str, n_engines: usize) -> Result<Vec<usize>> {
    let spec = spec.trim();
    let bad = |why: String| Error::Usage(format!("MPIVIEW_NODES={spec:?}: {why}"));
    if spec.contains(',') {
        let keys = spec
            .split(',')
            .map(|s| {
                s.trim()
                    .parse::<usize>()
                    .map_err(|e| bad(format!("{s:?}: {e}")))
            })
            .collect::<Result<Vec<_>>>()?;
        if keys.len() != n_engines {
            return Err(bad(format!(
                "{} entries for {n_engines} engines",
                keys.len()
            )));
        }
        Ok(keys)
    } else {
        let k: usize = spec.parse().map_err(|e| bad(format!("{e}")))?;
        if k == 0 || k > n_engines.max(1) {
            return Err(bad(format!("needs 1..={} nodes", n_engines.max(1))));
        }
        let mut keys = vec![0; n_engines];
        for node in 0..k {
            for e in block_range(n_engines, k, node) {
                keys[e] = node;
            }
        }
        Ok(keys)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grouping_numbers_nodes_by_first_engine() {
        let (node_of, nodes) = group_by_key(&[5, 5, 9, 5, 9, 2], |k, _| format!("h{k}"));
        assert_eq!(node_of, vec![0, 0, 1, 0, 1, 2]);
        assert_eq!(nodes[0].engines, vec![0, 1, 3]);
        assert_eq!(nodes[1].engines, vec![2, 4]);
        assert_eq!(nodes[2].name, "h2");
    }

    #[test]
    fn overrides_split_or_list() {
        assert_eq!(parse_override("2", 5).unwrap(), vec![0, 0, 0, 1, 1]);
        assert_eq!(parse_override("1,0,1", 3).unwrap(), vec![1, 0, 1]);
        assert!(parse_override("0", 3).is_err());
        assert!(parse_override("4", 3).is_err());
        assert!(parse_override("1,2", 3).is_err());
        assert!(parse_override("x", 3).is_err());
    }
}
