//! The trie stored by path: what is stored after each block is exactly the trie of the
//! state (nothing stale), a trie opened from it or partly unloaded gives the same roots,
//! and proofs read from it verify.
#![allow(clippy::unwrap_used)]
use super::*;
use alloy_trie::proof::verify_proof;
use std::{collections::BTreeMap, sync::Mutex};

/// Nodes by (account, path), as the database keeps them.
type Nodes = BTreeMap<(Option<B256>, Vec<u8>), Vec<u8>>;
#[derive(Debug, Default)]
struct MemSource(Mutex<Nodes>);

impl NodeSource for MemSource {
    fn node(&self, account: Option<&B256>, path: &Nibbles) -> Result<Option<Vec<u8>>, TrieError> {
        Ok(self.0.lock().unwrap().get(&(account.copied(), path.to_vec())).cloned())
    }
}

impl MemSource {
    fn write(&self, u: &TrieUpdates) {
        let mut m = self.0.lock().unwrap();
        for w in &u.wiped {
            m.retain(|(a, _), _| a.as_ref() != Some(w));
        }
        let all =
            u.accounts.iter().map(|(p, n)| (None, p, n)).chain(
                u.storages.iter().flat_map(|(a, s)| s.iter().map(|(p, n)| (Some(*a), p, n))),
            );
        for (a, p, n) in all {
            match n {
                Some(n) => m.insert((a, p.to_vec()), n.clone()),
                None => m.remove(&(a, p.to_vec())),
            };
        }
    }

    fn snapshot(&self) -> Nodes {
        self.0.lock().unwrap().clone()
    }
}

type Model = BTreeMap<Address, (AccountLeaf, BTreeMap<U256, U256>)>;

fn updates_of(model: &Model) -> Vec<(Address, AccountUpdate)> {
    model
        .iter()
        .map(|(a, (leaf, st))| {
            let storage = st.iter().map(|(k, v)| (*k, *v)).collect();
            (*a, AccountUpdate { info: Some(*leaf), storage, ..Default::default() })
        })
        .collect()
}

fn model_root(model: &Model) -> B256 {
    full_state_root(
        model.iter().map(|(a, (l, st))| (*a, *l, st.iter().map(|(k, v)| (*k, *v)).collect())),
    )
}

/// Block shapes for [`stored_blocks`]: accounts changed per block (at most), distinct
/// addresses, slot changes per account (at most) and distinct slots.
struct Shape {
    blocks: usize,
    accounts: u64,
    addresses: u64,
    slots: u64,
    slot_space: u64,
}

#[test]
fn the_stored_trie_follows_the_state_exactly_through_unloads_and_reopens() {
    stored_blocks(
        0x1234_5678_9abc_def1,
        &Shape { blocks: 120, accounts: 30, addresses: 200, slots: 6, slot_space: 40 },
    );
}

/// Blocks large enough that the account trie and the big storage tries are updated in
/// parallel below their roots (`Mpt::insert_many_in`): the same roots and the same stored
/// nodes as one key at a time, through failed writes, unloads and reopens.
#[test]
fn large_blocks_updated_in_parallel_store_exactly_the_state_trie() {
    stored_blocks(
        0x0bad_cafe_f00d_1234,
        &Shape { blocks: 24, accounts: 1200, addresses: 3000, slots: 700, slot_space: 1500 },
    );
}

fn stored_blocks(seed: u64, shape: &Shape) {
    let mut next = crate::tests::xorshift(seed);
    let source = Arc::new(MemSource::default());
    let mut trie = StateTrie::open(source.clone(), EMPTY_ROOT_HASH);
    let mut model = Model::new();
    for block in 0..shape.blocks {
        let before = model.clone();
        let mut updates = Vec::new();
        for _ in 0..(next() % shape.accounts + 1) {
            let index = next() % shape.addresses;
            let address = Address::from_word(B256::from(U256::from(index)));
            // Not in the state before the block, as the block's own state tells it.
            let absent_before = !before.contains_key(&address);
            let mut update = AccountUpdate { absent_before, ..Default::default() };
            if next().is_multiple_of(12) {
                model.remove(&address);
                updates.push((address, update));
                continue;
            }
            let entry = model.entry(address).or_default();
            if next().is_multiple_of(15) {
                update.wipe_storage = true;
                entry.1.clear();
            }
            // In large blocks, one account in 50 is a contract changing many slots.
            let slots =
                if shape.slots > 100 && !index.is_multiple_of(50) { 2 } else { shape.slots };
            crate::tests::random_slots(
                &mut next,
                slots,
                shape.slot_space,
                &mut update,
                &mut entry.1,
            );
            entry.0.nonce += 1;
            entry.0.balance = U256::from(next() % 1_000_000);
            entry.0.code_hash = KECCAK_EMPTY;
            update.info = Some(entry.0);
            updates.push((address, update));
        }
        // Mostly, the paths to some of the block's accounts (and to one it does not
        // change) are loaded first, as `build_block` does while the block executes; now
        // and then the trie is unloaded between the two.
        if !next().is_multiple_of(3) {
            let mut ahead: Vec<Address> = Vec::new();
            for (address, _) in &updates {
                if !next().is_multiple_of(4) {
                    ahead.push(*address);
                }
            }
            ahead.push(Address::repeat_byte(0xee));
            if next().is_multiple_of(2) {
                trie.preload_accounts(&ahead).unwrap();
            } else {
                // With the accounts' fields before the block, as `build_block` gives
                // them: mostly right, some wrong (a leaf that must be read after all),
                // accounts with storage (whose leaf is never rebuilt) among them.
                let mut known = Vec::new();
                for address in &ahead {
                    if let Some((leaf, _)) = before.get(address) {
                        let mut leaf = *leaf;
                        if next().is_multiple_of(5) {
                            leaf.balance += U256::from(1);
                        }
                        known.push((*address, leaf));
                    }
                }
                trie.preload_accounts_knowing(&ahead, || known).unwrap();
            }
            if next().is_multiple_of(6) {
                trie.unload((next() % 3) as usize);
            }
        }
        trie.apply(updates).unwrap();
        assert_eq!(trie.root(), model_root(&model), "block {block}");
        let taken = trie.take_updates();
        assert_eq!(taken.root, model_root(&model));
        // Every few blocks a write fails and is retried with the next block's.
        if block % 7 == 3 {
            trie.restore_updates(taken);
            continue;
        }
        source.write(&taken);
        // Exactly the nodes of the state, nothing stale.
        let mut fresh = StateTrie::new();
        fresh.apply(updates_of(&model)).unwrap();
        let expected = MemSource::default();
        expected.write(&fresh.take_updates());
        assert_eq!(source.snapshot(), expected.snapshot(), "block {block}");
        match next() % 4 {
            0 => trie = StateTrie::open(source.clone(), model_root(&model)),
            1 => trie.unload((next() % 3) as usize),
            _ => {}
        }
    }
    // Proofs from the store verify against the root, for present and absent keys.
    let root = model_root(&model);
    for (address, (leaf, storage)) in model.iter().take(20) {
        let (proof, value) =
            proof::stored_proof(source.as_ref(), None, root, keccak256(address)).unwrap();
        let account = TrieAccount::decode(&mut value.clone().unwrap().as_slice()).unwrap();
        assert_eq!(account.balance, leaf.balance);
        verify_proof(root, Nibbles::unpack(keccak256(address)), value, &proof).unwrap();
        for slot in [U256::from(1), U256::from(7), U256::from(1000)] {
            let key = keccak256(B256::from(slot));
            let (proof, value) = proof::stored_proof(
                source.as_ref(),
                Some(keccak256(address)),
                account.storage_root,
                key,
            )
            .unwrap();
            let expected = storage.get(&slot).map(|v| alloy_rlp::encode_fixed_size(v).to_vec());
            assert_eq!(value, expected);
            verify_proof(account.storage_root, Nibbles::unpack(key), value, &proof).unwrap();
        }
    }
    let absent = keccak256(Address::repeat_byte(0xee));
    let (proof, value) = proof::stored_proof(source.as_ref(), None, root, absent).unwrap();
    assert!(value.is_none());
    verify_proof(root, Nibbles::unpack(absent), None, &proof).unwrap();
}

/// A [`MemSource`] that logs the paths of the nodes read, in order.
#[derive(Debug, Default)]
struct Logging(MemSource, Mutex<Vec<Nibbles>>);

impl NodeSource for Logging {
    fn node(&self, account: Option<&B256>, path: &Nibbles) -> Result<Option<Vec<u8>>, TrieError> {
        self.1.lock().unwrap().push(*path);
        self.0.node(account, path)
    }
}

#[test]
fn leaves_rebuilt_from_the_accounts_fields_are_not_read_and_change_nothing() {
    let leaf =
        |i: u64| AccountLeaf { nonce: i, balance: U256::from(i * 7 + 1), code_hash: KECCAK_EMPTY };
    let address = |i: u64| Address::from_word(B256::from(U256::from(i)));
    let source = Arc::new(Logging::default());
    let mut built = StateTrie::new();
    let all = (0..2000)
        .map(|i| (address(i), AccountUpdate { info: Some(leaf(i)), ..Default::default() }));
    built.apply(all).unwrap();
    let root = built.root();
    source.0.write(&built.take_updates());
    // A block touching 500 stored accounts (50 of them given with a wrong balance) and
    // 20 new ones (loaded by the update itself).
    let touched: Vec<Address> = (0..500).map(|i| address(i * 4)).collect();
    let known: Vec<(Address, AccountLeaf)> = (0..500)
        .map(|i| {
            let mut l = leaf(i * 4);
            if i % 10 == 0 {
                l.balance += U256::from(1);
            }
            (address(i * 4), l)
        })
        .collect();
    let updates = || {
        touched
            .iter()
            .chain(&(5000..5020).map(address).collect::<Vec<_>>())
            .enumerate()
            .map(|(n, a)| {
                let info =
                    AccountLeaf { nonce: 99, balance: U256::from(n), code_hash: KECCAK_EMPTY };
                (*a, AccountUpdate { info: Some(info), ..Default::default() })
            })
            .collect::<Vec<_>>()
    };
    let count = || std::mem::take(&mut *source.1.lock().unwrap()).len();
    let mut read = StateTrie::open(source.clone(), root);
    count();
    read.preload_accounts(&touched).unwrap();
    let reads_plain = count();
    let mut rebuilt = StateTrie::open(source.clone(), root);
    rebuilt.preload_accounts_knowing(&touched, || known.clone()).unwrap();
    let reads_knowing = count();
    // Exactly the 450 leaves given right are not read.
    assert_eq!(reads_plain - reads_knowing, 450, "{reads_plain} vs {reads_knowing}");
    // The same trie: the same root and the same nodes to store after the block, with the
    // same reads for the accounts not preloaded.
    read.apply(updates()).unwrap();
    let reads_update = count();
    rebuilt.apply(updates()).unwrap();
    assert_eq!(count(), reads_update);
    assert_eq!(read.root(), rebuilt.root());
    let (mut a, mut b) = (read.take_updates(), rebuilt.take_updates());
    a.accounts.sort();
    b.accounts.sort();
    assert_eq!(a.accounts, b.accounts);
    // Fields are asked for only when a stub could be a leaf: not on paths in memory.
    let asked = std::cell::Cell::new(false);
    rebuilt
        .preload_accounts_knowing(&touched, || {
            asked.set(true);
            Vec::new()
        })
        .unwrap();
    assert!(!asked.get());
    assert_eq!(count(), 0);
}

/// `absent_before` is trusted: the storage root of an account said to be new is not
/// looked up (the walk to its leaf is what the hint saves). So only the block's own state,
/// which read the account and found nothing, may set it: here a false one drops a stored
/// account's storage from the root, and without it the root keeps it.
#[test]
fn an_account_absent_before_has_its_storage_root_taken_as_empty() {
    let a = Address::with_last_byte(7);
    let leaf = AccountLeaf { nonce: 1, balance: U256::from(5), code_hash: KECCAK_EMPTY };
    let slot = (U256::from(1), U256::from(9));
    let mut built = StateTrie::new();
    let others = (10..40u8).map(|i| {
        (Address::with_last_byte(i), AccountUpdate { info: Some(leaf), ..Default::default() })
    });
    let first = AccountUpdate { info: Some(leaf), storage: vec![slot], ..Default::default() };
    built.apply(others.chain([(a, first)])).unwrap();
    let source = Arc::new(MemSource::default());
    source.write(&built.take_updates());
    let root = built.root();
    let newer = AccountLeaf { nonce: 2, ..leaf };
    let root_after = |absent_before: bool| {
        let mut trie = StateTrie::open(source.clone(), root);
        let update = AccountUpdate { info: Some(newer), absent_before, ..Default::default() };
        trie.apply([(a, update)]).unwrap();
        trie.root()
    };
    let mut model: Model = (10..40u8)
        .map(|i| (Address::with_last_byte(i), (leaf, BTreeMap::new())))
        .chain([(a, (newer, BTreeMap::from([slot])))])
        .collect();
    assert_eq!(root_after(false), model_root(&model));
    model.insert(a, (newer, BTreeMap::new()));
    assert_eq!(root_after(true), model_root(&model));
}

/// A trie of `accounts`, stored in a fresh [`Logging`] source: the source and the root.
fn stored(accounts: &[(Address, AccountLeaf)]) -> (Arc<Logging>, B256) {
    let mut built = StateTrie::new();
    built
        .apply(
            accounts
                .iter()
                .map(|(a, leaf)| (*a, AccountUpdate { info: Some(*leaf), ..Default::default() })),
        )
        .unwrap();
    let source = Arc::new(Logging::default());
    source.0.write(&built.take_updates());
    (source, built.root())
}

#[test]
fn the_branches_are_read_before_the_fields_are_waited_for() {
    let leaf =
        |i: u64| AccountLeaf { nonce: i, balance: U256::from(i + 1), code_hash: KECCAK_EMPTY };
    let address = |i: u64| Address::from_word(B256::from(U256::from(i)));
    let all: Vec<_> = (0..4000).map(|i| (address(i), leaf(i))).collect();
    let (source, root) = stored(&all);
    let touched: Vec<(Address, AccountLeaf)> = all.iter().step_by(4).cloned().collect();
    let addresses: Vec<Address> = touched.iter().map(|(a, _)| *a).collect();
    let keys: Vec<Nibbles> = addresses.iter().map(|a| Nibbles::unpack(keccak256(a))).collect();
    let below = |p: &Nibbles| keys.iter().filter(|k| k.starts_with(p)).count();
    let mut trie = StateTrie::open(source.clone(), root);
    let asked_after = std::cell::Cell::new(None);
    trie.preload_accounts_knowing(&addresses, || {
        asked_after.set(Some(source.1.lock().unwrap().len()));
        touched.clone()
    })
    .unwrap();
    let log = source.1.lock().unwrap().clone();
    let asked_after = asked_after.get().expect("the fields were asked for");
    let (before, after) = log.split_at(asked_after);
    // Everything with more than one touched key below it was read first, while the
    // fields were still being gathered; after them, only stubs a single key's leaf could
    // have replaced (and did not: a branch still above it).
    assert!(before.iter().any(|p| p.len() >= 2), "{before:?}");
    assert!(after.iter().all(|p| below(p) == 1), "{after:?}");
    // No leaf given right was read.
    assert!(log.iter().all(|p| p.len() < 64 && !keys.contains(p)));
    assert!(log.len() < 2 * keys.len(), "{} reads", log.len());
}

#[test]
fn loading_is_needed_only_where_a_path_ends_at_a_stub() {
    let address = |i: u64| Address::from_word(B256::from(U256::from(i)));
    let leaf = |i: u64| AccountLeaf { nonce: i, balance: U256::from(1), code_hash: KECCAK_EMPTY };
    let all: Vec<_> = (0..1000).map(|i| (address(i), leaf(i))).collect();
    let addresses = |range: std::ops::Range<u64>| range.map(address).collect::<Vec<_>>();
    let (source, root) = stored(&all);
    // Held in memory only: nothing is ever read.
    let mut memory = StateTrie::new();
    memory
        .apply(
            all.iter().map(|(a, l)| (*a, AccountUpdate { info: Some(*l), ..Default::default() })),
        )
        .unwrap();
    assert!(!memory.needs_loading(&addresses(0..1000)));
    // Opened from the store: the root itself is a stub.
    let mut trie = StateTrie::open(source.clone(), root);
    assert!(trie.needs_loading(&addresses(0..100)));
    trie.preload_accounts(&addresses(0..100)).unwrap();
    // Those paths are in memory now; other stored accounts' still end at stubs.
    assert!(!trie.needs_loading(&addresses(0..100)));
    assert!(trie.needs_loading(&addresses(500..600)));
    // With every path loaded, fresh accounts end at an empty child or another's leaf.
    trie.preload_accounts(&addresses(0..1000)).unwrap();
    assert!(!trie.needs_loading(&addresses(0..1000)));
    assert!(!trie.needs_loading(&addresses(5000..5100)));
    // Unloaded, they end at stubs again.
    trie.unload(1);
    assert!(trie.needs_loading(&addresses(0..100)));
}

#[test]
fn a_child_of_a_full_branch_is_read_without_waiting_for_the_fields() {
    let leaf = |i: u64| AccountLeaf { nonce: i, balance: U256::from(1), code_hash: KECCAK_EMPTY };
    // Sixteen accounts whose hashed addresses start with sixteen different nibbles: the
    // root is a full branch of sixteen leaves.
    let mut by_nibble: BTreeMap<u8, Address> = BTreeMap::new();
    for i in 0u64.. {
        let a = Address::from_word(B256::from(U256::from(i)));
        by_nibble.entry(keccak256(a)[0] >> 4).or_insert(a);
        if by_nibble.len() == 16 {
            break;
        }
    }
    let accounts: Vec<(Address, AccountLeaf)> =
        by_nibble.values().enumerate().map(|(i, a)| (*a, leaf(i as u64))).collect();
    let preload = |accounts: &[(Address, AccountLeaf)]| {
        let (source, root) = stored(accounts);
        let asked = std::cell::Cell::new(false);
        let mut trie = StateTrie::open(source.clone(), root);
        let addresses: Vec<Address> = accounts.iter().map(|(a, _)| *a).collect();
        trie.preload_accounts_knowing(&addresses, || {
            asked.set(true);
            accounts.to_vec()
        })
        .unwrap();
        let reads = source.1.lock().unwrap().len();
        // Read or rebuilt, the trie is the same.
        assert_eq!(trie.root(), root);
        (asked.get(), reads)
    };
    // Full: the root and its sixteen leaves are read, and nobody waits for the fields.
    assert_eq!(preload(&accounts), (false, 17));
    // Fifteen children: each may be a leaf, so the fields are asked for and rebuild them.
    assert_eq!(preload(&accounts[..15]), (true, 1));
}

#[test]
fn a_missing_or_altered_node_is_an_error_not_a_wrong_root() {
    let source = Arc::new(MemSource::default());
    let mut trie = StateTrie::new();
    let update = |n: u8| {
        (
            Address::with_last_byte(n),
            AccountUpdate {
                info: Some(AccountLeaf {
                    nonce: 1,
                    balance: U256::from(n),
                    code_hash: KECCAK_EMPTY,
                }),
                ..Default::default()
            },
        )
    };
    trie.apply((0..50).map(update)).unwrap();
    let root = trie.root();
    source.write(&trie.take_updates());
    // Alter one stored branch below the root.
    let key = {
        let m = source.0.lock().unwrap();
        m.keys().find(|(a, p)| a.is_none() && p.len() == 1).unwrap().clone()
    };
    source.0.lock().unwrap().get_mut(&key).unwrap()[5] ^= 1;
    let mut opened = StateTrie::open(source.clone(), root);
    let touched: Vec<_> = (0..50).map(update).collect();
    let err = opened.apply(touched).unwrap_err();
    assert!(matches!(err, TrieError::CorruptNode { .. }), "{err}");
    // The trie refuses further work instead of computing from a partial state.
    assert!(matches!(opened.apply([update(1)]), Err(TrieError::Poisoned)));
    source.0.lock().unwrap().remove(&key);
    let mut opened = StateTrie::open(source, root);
    let err = opened.apply((0..50).map(update)).unwrap_err();
    assert!(matches!(err, TrieError::MissingNode { .. }), "{err}");
}

/// The updates that take a trie of `head` back to `then`: every account and slot that
/// differs, set to its value in `then` (as the changesets of the blocks between give them).
fn reverts(head: &Model, then: &Model) -> Vec<(Address, AccountUpdate)> {
    let addresses: std::collections::BTreeSet<Address> =
        head.keys().chain(then.keys()).copied().collect();
    addresses
        .into_iter()
        .filter(|a| head.get(a) != then.get(a))
        .map(|a| {
            let empty = BTreeMap::new();
            let now = head.get(&a).map_or(&empty, |(_, st)| st);
            let before = then.get(&a).map_or(&empty, |(_, st)| st);
            let slots: std::collections::BTreeSet<U256> =
                now.keys().chain(before.keys()).copied().collect();
            let storage =
                slots.into_iter().map(|s| (s, before.get(&s).copied().unwrap_or_default()));
            let info = then.get(&a).map(|(leaf, _)| *leaf);
            (a, AccountUpdate { info, storage: storage.collect(), ..Default::default() })
        })
        .collect()
}

/// An earlier block's state, reached by applying its changes backwards to a trie opened at
/// the stored head, proves accounts and slots exactly as a trie built from a full listing of
/// that state does (the proofs `eth_getProof` serves at earlier blocks), and writes nothing.
#[test]
fn an_earlier_state_proves_what_a_full_listing_of_it_proves() {
    let mut next = crate::tests::xorshift(0x9e37_79b9_7f4a_7c15_u64);
    let source = Arc::new(MemSource::default());
    let mut trie = StateTrie::open(source.clone(), EMPTY_ROOT_HASH);
    let mut models = vec![Model::new()];
    let address = |i: u64| Address::from_word(B256::from(U256::from(i)));
    for _ in 0..12 {
        let mut model = models.last().unwrap().clone();
        let mut updates = Vec::new();
        for _ in 0..(next() % 40 + 1) {
            let a = address(next() % 150);
            if next().is_multiple_of(10) {
                model.remove(&a);
                updates.push((a, AccountUpdate::default()));
                continue;
            }
            let entry = model.entry(a).or_default();
            let mut update = AccountUpdate::default();
            crate::tests::random_slots(&mut next, 6, 12, &mut update, &mut entry.1);
            entry.0.nonce += 1;
            entry.0.balance = U256::from(next() % 1_000_000);
            entry.0.code_hash = KECCAK_EMPTY;
            update.info = Some(entry.0);
            updates.push((a, update));
        }
        trie.apply(updates).unwrap();
        source.write(&trie.take_updates());
        models.push(model);
    }
    let head = models.last().unwrap();
    let slots: Vec<B256> = (0..12).chain([1000]).map(|s: u64| B256::from(U256::from(s))).collect();
    let mut proven_slots = 0;
    for (block, then) in models.iter().enumerate() {
        let mut past = StateTrie::open(source.clone(), model_root(head));
        past.apply(reverts(head, then)).unwrap();
        assert_eq!(past.root(), model_root(then), "block {block}");
        let listing = || {
            then.iter().map(|(a, (leaf, st))| {
                let st: Vec<(U256, U256)> = st.iter().map(|(k, v)| (*k, *v)).collect();
                (*a, *leaf, proof::storage_root(&st))
            })
        };
        for a in (0..150).step_by(7).map(address).chain([Address::repeat_byte(0xee)]) {
            let got = past.prove(a, &slots).unwrap();
            let (root, expected) = proof::account_proof(listing(), a);
            assert_eq!(root, model_root(then));
            // (The empty state's proof is empty, as the stored trie's is; the listing's
            // builder gives the empty node.)
            if then.is_empty() {
                assert!(got.proof.is_empty());
            } else {
                assert_eq!(got.proof, expected, "block {block}, {a}");
            }
            let leaf = got.account.map(|acc| AccountLeaf {
                nonce: acc.nonce,
                balance: acc.balance,
                code_hash: acc.code_hash,
            });
            assert_eq!(leaf, then.get(&a).map(|(l, _)| *l), "block {block}, {a}");
            let storage: Vec<(U256, U256)> = then
                .get(&a)
                .map(|(_, st)| st.iter().map(|(k, v)| (*k, *v)).collect())
                .unwrap_or_default();
            let (storage_root, expected) = proof::storage_proofs(&storage, &slots);
            assert_eq!(got.storage_root(), proof::storage_root(&storage));
            for (i, (proof, value)) in got.slots.iter().enumerate() {
                let slot = U256::from_be_bytes(slots[i].0);
                let want = then.get(&a).and_then(|(_, st)| st.get(&slot)).copied();
                assert_eq!(*value, want.unwrap_or_default(), "block {block}, {a}, slot {slot}");
                if !storage.is_empty() {
                    assert_eq!(proof, &expected[i], "block {block}, {a}, slot {slot}");
                    let key = Nibbles::unpack(keccak256(slots[i]));
                    let leaf = want.map(|v| alloy_rlp::encode_fixed_size(&v).to_vec());
                    verify_proof(storage_root, key, leaf, proof).unwrap();
                    proven_slots += usize::from(want.is_some());
                }
            }
        }
    }
    assert!(proven_slots > 200, "{proven_slots} slots proven present");
}
