//! [`Client`]: what the driver holds, the counterpart of IPython Parallel's `Client`.

use std::rc::Rc;

use crate::error::{Result, TargetsError};
use crate::hub::Hub;
use crate::ids::EngineId;
use crate::nodes::{EngineInfo, Node};
use crate::result::One;
use crate::targets::{EngineIndex, Targets};
use crate::view::{DirectView, LoadBalancedView};

/// The driver's handle on the engines. Controller only: [`Cluster::run`](crate::Cluster::run)
/// passes it to the driver closure on rank 0.
///
/// ```no_run
/// # fn demo(client: &mpiview::Client) -> mpiview::Result<()> {
/// use mpiview::Targets;
/// let all = client.direct_view();                     // client[:]
/// let last = client.engine(-1)?;                      // client[-1]
/// let even = client.view(Targets::slice(None, None, 2))?; // client[::2]
/// let some = client.view([0, 2])?;                    // client[[0, 2]]
/// let heads = client.one_per_node();                  // one engine per node
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Client {
    pub(crate) hub: Rc<Hub>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("engines", &self.hub.n_engines())
            .field("nodes", &self.hub.nodes.len())
            .field("local", &self.hub.is_local())
            .finish()
    }
}

impl Client {
    pub(crate) fn new(hub: Hub) -> Client {
        Client { hub: Rc::new(hub) }
    }

    /// The engine ids, `0..n_engines()` (`client.ids`).
    pub fn ids(&self) -> Vec<EngineId> {
        (0..self.hub.n_engines()).collect()
    }

    /// Number of engines.
    pub fn n_engines(&self) -> usize {
        self.hub.n_engines()
    }

    /// What the controller knows of each engine (pid, host, node), by id.
    pub fn engines(&self) -> &[EngineInfo] {
        &self.hub.engines
    }

    /// The nodes and which engines run on each.
    pub fn nodes(&self) -> &[Node] {
        &self.hub.nodes
    }

    /// Whether this is a one-rank run with an in-process engine (no `mpirun`).
    pub fn is_local(&self) -> bool {
        self.hub.is_local()
    }

    /// A view of every engine (`client[:]`, `client.direct_view()`).
    pub fn direct_view(&self) -> DirectView {
        DirectView::new(self.hub.clone(), self.ids())
    }

    /// A view of the engines `targets` selects, in its order: a range (`0..2`), a list
    /// (`[0, 2]`), or a [`Targets`] slice with a step. Out-of-range, repeated or no engines are
    /// [`Error::Targets`](crate::Error::Targets).
    pub fn view(&self, targets: impl Into<Targets>) -> Result<DirectView> {
        let ids = targets.into().resolve(self.n_engines())?;
        Ok(DirectView::new(self.hub.clone(), ids))
    }

    /// A view of one engine by index (`client[0]`, `client[-1]`): its requests return the value
    /// itself, not a list of one. Any integer type: an engine id (`usize`) or a Python-style
    /// index (negative counts from the end).
    ///
    /// ```no_run
    /// # fn demo(client: &mpiview::Client) -> mpiview::Result<()> {
    /// let last = client.engine(-1)?;
    /// for id in 0..client.n_engines() {
    ///     let one = client.engine(id)?;
    ///     assert_eq!(one.targets(), &[id]);
    /// }
    /// # Ok(()) }
    /// ```
    pub fn engine(&self, index: impl EngineIndex) -> Result<DirectView<One>> {
        let ids = Targets::index(index).resolve(self.n_engines())?;
        Ok(DirectView::new(self.hub.clone(), ids))
    }

    /// A view of the first (lowest-id) engine of every node, in node order.
    pub fn one_per_node(&self) -> DirectView {
        let ids = self.hub.nodes.iter().map(|n| n.engines[0]).collect();
        DirectView::new(self.hub.clone(), ids)
    }

    /// A load-balanced view of every engine (`client.load_balanced_view()`).
    pub fn load_balanced_view(&self) -> LoadBalancedView {
        LoadBalancedView::new(self.hub.clone(), self.ids())
    }

    /// A load-balanced view of the engines `targets` selects.
    pub fn load_balanced_view_of(&self, targets: impl Into<Targets>) -> Result<LoadBalancedView> {
        let ids = targets.into().resolve(self.n_engines())?;
        Ok(LoadBalancedView::new(self.hub.clone(), ids))
    }

    /// A view of the engines on node `node` (an index into [`nodes`](Self::nodes)).
    pub fn node_view(&self, node: usize) -> Result<DirectView> {
        let n = self.hub.nodes.get(node).ok_or(TargetsError::NoSuchNode {
            node,
            nodes: self.hub.nodes.len(),
        })?;
        Ok(DirectView::new(self.hub.clone(), n.engines.clone()))
    }
}
