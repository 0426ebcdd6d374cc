//! Large per-block buffers kept between blocks.
//!
//! A block of 10,000 transfers fills an account map of about 9 MB and a transaction list of
//! about 3 MB. Allocated fresh for every block, each 4 KiB page of them costs a page fault (and
//! the kernel zeroing it) the first time execution touches it: a few thousand faults per block.
//! The heap rarely hands the previous block's pages back, because the state that grows with
//! every block (trie nodes, memtables) lands in them first. Keeping the emptied buffers for the
//! next block leaves their pages mapped.

use std::sync::Mutex;

/// One spare buffer of type `T`, shared by whichever thread builds the next block.
pub(crate) struct Spare<T> {
    slot: Mutex<Option<T>>,
}

impl<T> Spare<T> {
    /// An empty slot.
    pub(crate) const fn new() -> Self {
        Self { slot: Mutex::new(None) }
    }

    /// The spare buffer if there is one (it is empty but keeps its capacity).
    pub(crate) fn take(&self) -> Option<T> {
        self.slot.lock().ok().and_then(|mut s| s.take())
    }

    /// Keeps `buffer` (already emptied) for the next block, replacing any other spare.
    pub(crate) fn put(&self, buffer: T) {
        if let Ok(mut s) = self.slot.lock() {
            *s = Some(buffer);
        }
    }
}

/// The most entries a kept buffer may have room for, so that one huge block does not pin its
/// buffers for the life of the process (a 20,000-transfer block needs 40,000 accounts).
pub(crate) const MAX_SPARE_ENTRIES: usize = 1 << 17;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_buffer_put_back_is_taken_again_with_its_capacity() {
        static SPARE: Spare<Vec<u64>> = Spare::new();
        assert!(SPARE.take().is_none());
        let mut v = Vec::with_capacity(1000);
        v.extend(0..1000u64);
        v.clear();
        SPARE.put(v);
        let again = SPARE.take().expect("kept");
        assert!(again.is_empty());
        assert!(again.capacity() >= 1000);
        assert!(SPARE.take().is_none(), "taken once");
    }
}
