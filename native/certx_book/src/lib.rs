//! EXPERIMENT (issue 12, item 2): certx's listing book (src/certx/books/listing.py) in Rust, behind the same
//! Python API, so the engine's rules stay in Python and only the book is native. Price-time priority: a
//! BTreeMap of price levels per side, each a queue in time order; a cancel marks the order dead (remaining 0)
//! and the queue skips it when it reaches the front, as the Python book does. `orders` is a Python dict kept
//! by the book (order id -> Resting), as the engine and the snapshot read it.
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString};
use std::collections::{BTreeMap, VecDeque};

/// An order on the book, as certx.books.listing.Resting. `remaining == 0` means filled or cancelled.
#[pyclass(module = "certx_book", freelist = 4096)]
pub struct Resting {
    #[pyo3(get)]
    order_id: Py<PyString>,
    #[pyo3(get)]
    account: Py<PyString>,
    #[pyo3(get)]
    is_buy: bool,
    #[pyo3(get)]
    price: i64,
    #[pyo3(get, set)]
    remaining: i64,
}

#[pymethods]
impl Resting {
    #[new]
    fn new(order_id: Py<PyString>, account: Py<PyString>, is_buy: bool, price: i64, remaining: i64) -> Self {
        Resting { order_id, account, is_buy, price, remaining }
    }
}

#[derive(Default)]
struct Level {
    queue: VecDeque<Py<Resting>>,
    live: u32,
}

/// Level prices of one side, best first (a copy: for lifts and snapshots only).
#[pyclass(module = "certx_book")]
pub struct SideView {
    levels: Vec<i64>,
    is_bid: bool,
}

#[pymethods]
impl SideView {
    fn prices(&self) -> Vec<i64> {
        self.levels.clone()
    }

    fn best(&self) -> Option<i64> {
        self.levels.first().copied()
    }

    /// How many better levels stand ahead of this price (0 = the best level).
    fn depth_of(&self, price: i64) -> usize {
        if self.is_bid {
            self.levels.iter().filter(|&&p| p > price).count()
        } else {
            self.levels.iter().filter(|&&p| p < price).count()
        }
    }
}

#[pyclass(module = "certx_book")]
pub struct ListingBook {
    #[pyo3(get)]
    product: String,
    bids: BTreeMap<i64, Level>, // best = highest
    asks: BTreeMap<i64, Level>, // best = lowest
    #[pyo3(get)]
    orders: Py<PyDict>,
}

impl ListingBook {
    fn drop_order(&mut self, py: Python<'_>, order: &Bound<'_, Resting>) -> PyResult<i64> {
        let (is_buy, price, remaining, order_id) = {
            let mut o = order.borrow_mut();
            let r = o.remaining;
            o.remaining = 0;
            (o.is_buy, o.price, r, o.order_id.clone_ref(py))
        };
        self.orders.bind(py).del_item(order_id)?;
        let side = if is_buy { &mut self.bids } else { &mut self.asks };
        let level = side.get_mut(&price).expect("a resting order's level");
        level.live -= 1;
        if level.live == 0 {
            side.remove(&price);
        }
        Ok(remaining)
    }
}

#[pymethods]
impl ListingBook {
    #[new]
    fn new(py: Python<'_>, product: String) -> Self {
        ListingBook { product, bids: BTreeMap::new(), asks: BTreeMap::new(), orders: PyDict::new(py).unbind() }
    }

    fn rest(&mut self, py: Python<'_>, order: Bound<'_, Resting>) -> PyResult<()> {
        let (is_buy, price, order_id) = {
            let o = order.borrow();
            (o.is_buy, o.price, o.order_id.clone_ref(py))
        };
        let side = if is_buy { &mut self.bids } else { &mut self.asks };
        let level = side.entry(price).or_default();
        level.queue.push_back(order.clone().unbind());
        level.live += 1;
        self.orders.bind(py).set_item(order_id, order)
    }

    /// Take resting orders of the other side that cross `limit`, best price then oldest first. Returns the
    /// fills (resting order, quantity) and the quantity left over.
    #[pyo3(name = "match")]
    fn match_(
        &mut self,
        py: Python<'_>,
        is_buy: bool,
        limit: i64,
        mut quantity: i64,
    ) -> PyResult<(Vec<(Py<Resting>, i64)>, i64)> {
        let mut fills = Vec::new();
        let orders = self.orders.bind(py);
        let side = if is_buy { &mut self.asks } else { &mut self.bids };
        while quantity > 0 {
            let mut entry = match if is_buy { side.first_entry() } else { side.last_entry() } {
                Some(e) => e,
                None => break,
            };
            let price = *entry.key();
            if (is_buy && price > limit) || (!is_buy && price < limit) {
                break;
            }
            let level = entry.get_mut();
            while quantity > 0 {
                let Some(front) = level.queue.front() else { break };
                let mut o = front.borrow_mut(py);
                let rem = o.remaining;
                if rem == 0 {
                    drop(o);
                    level.queue.pop_front();
                    continue;
                }
                if rem <= quantity {
                    quantity -= rem;
                    o.remaining = 0;
                    let order_id = o.order_id.clone_ref(py);
                    drop(o);
                    let front = level.queue.pop_front().unwrap();
                    fills.push((front, rem));
                    level.live -= 1;
                    orders.del_item(order_id)?;
                } else {
                    o.remaining = rem - quantity;
                    drop(o);
                    fills.push((front.clone_ref(py), quantity));
                    quantity = 0;
                }
            }
            if level.live == 0 {
                entry.remove();
            }
        }
        Ok((fills, quantity))
    }

    /// Fill part or all of one named order (a lift).
    fn take(&mut self, py: Python<'_>, order: Bound<'_, Resting>, quantity: i64) -> PyResult<()> {
        let left = {
            let mut o = order.borrow_mut();
            o.remaining -= quantity;
            o.remaining
        };
        if left == 0 {
            self.drop_order(py, &order)?;
        }
        Ok(())
    }

    /// Take a resting order off the book; returns the quantity it still had.
    fn cancel(&mut self, py: Python<'_>, order: Bound<'_, Resting>) -> PyResult<i64> {
        self.drop_order(py, &order)
    }

    #[getter]
    fn bids(&self) -> SideView {
        SideView { levels: self.bids.keys().rev().copied().collect(), is_bid: true }
    }

    #[getter]
    fn asks(&self) -> SideView {
        SideView { levels: self.asks.keys().copied().collect(), is_bid: false }
    }

    fn crossed(&self) -> bool {
        match (self.bids.keys().next_back(), self.asks.keys().next()) {
            (Some(b), Some(a)) => b >= a,
            _ => false,
        }
    }
}

#[pymodule]
fn certx_book(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Resting>()?;
    m.add_class::<SideView>()?;
    m.add_class::<ListingBook>()?;
    Ok(())
}
