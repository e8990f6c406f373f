//! The I/O thread's tables of connections and calls.

/// A slab whose freed slots are reused only after the current poll batch, so a
/// later event of the same batch for a closed socket cannot reach a new one.
pub(super) struct Slab<T> {
    items: Vec<Option<T>>,
    free: Vec<usize>,
    free_later: Vec<usize>,
}

impl<T> Slab<T> {
    pub(super) fn new() -> Self {
        Slab {
            items: Vec::new(),
            free: Vec::new(),
            free_later: Vec::new(),
        }
    }

    pub(super) fn insert(&mut self, v: T) -> usize {
        match self.free.pop() {
            Some(i) => {
                self.items[i] = Some(v);
                i
            }
            None => {
                self.items.push(Some(v));
                self.items.len() - 1
            }
        }
    }

    pub(super) fn get(&self, i: usize) -> Option<&T> {
        self.items.get(i).and_then(Option::as_ref)
    }

    pub(super) fn get_mut(&mut self, i: usize) -> Option<&mut T> {
        self.items.get_mut(i).and_then(Option::as_mut)
    }

    pub(super) fn remove(&mut self, i: usize) -> Option<T> {
        let v = self.items.get_mut(i).and_then(Option::take);
        if v.is_some() {
            self.free_later.push(i);
        }
        v
    }

    pub(super) fn end_of_batch(&mut self) {
        self.free.append(&mut self.free_later);
    }

    pub(super) fn len(&self) -> usize {
        self.items.len() - self.free.len() - self.free_later.len()
    }
}
