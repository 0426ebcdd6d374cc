//! Typed records over the storage layout of [`crate::store`].

use crate::{abi::IGpuMarket, host::Host, store::*};
use alloy_primitives::{Address, B256, U256};

/// Machine status codes (match `IGpuMarket.MachineStatus`).
pub(crate) mod status {
    pub(crate) const NONE: u8 = 0;
    pub(crate) const VERIFYING: u8 = 1;
    pub(crate) const ONLINE: u8 = 2;
    pub(crate) const OFFLINE: u8 = 3;
    pub(crate) const REJECTED: u8 = 4;
    pub(crate) const EXITED: u8 = 5;
}

/// Offline reasons (match `IGpuMarket.OfflineReason`).
pub(crate) mod reason {
    pub(crate) const NONE: u8 = 0;
    pub(crate) const IDLE: u8 = 1;
    pub(crate) const OWNER_OFFLINE: u8 = 2;
    pub(crate) const UNREACHABLE: u8 = 3;
}

/// Round phases (match `IGpuMarket.RoundPhase`).
pub(crate) mod phase {
    pub(crate) const DRAWING: u8 = 1;
    pub(crate) const COMMIT: u8 = 2;
    pub(crate) const REVEAL: u8 = 3;
    pub(crate) const DONE: u8 = 4;
}

pub(crate) const MACHINE_SLOTS: usize = 17;

/// A machine.
pub(crate) struct Machine {
    slots: Slots<MACHINE_SLOTS>,
    pub(crate) id: B256,
    pub(crate) owner: Address,
    pub(crate) status: u8,
    pub(crate) reason: u8,
    pub(crate) calc_point: u32,
    pub(crate) rented: u32,
    pub(crate) model: B256,
    pub(crate) region: B256,
    pub(crate) gpus: u32,
    pub(crate) mem: u32,
    pub(crate) cpu: u32,
    pub(crate) ram: u32,
    pub(crate) disk: u32,
    pub(crate) index: u64,
    pub(crate) registered_at: u64,
    pub(crate) online_since: u64,
    pub(crate) offline_since: u64,
    pub(crate) last_heartbeat: u64,
    pub(crate) rent_end: u64,
    pub(crate) check_at: u64,
    pub(crate) last_rental_end: u64,
    pub(crate) stake: U256,
    pub(crate) custom_price: U256,
    pub(crate) earned: U256,
    pub(crate) grade: U256,
    pub(crate) debt: U256,
    pub(crate) last_renter: Address,
    pub(crate) verifiers: [Address; 3],
    /// Reward settled per GPU while online since registration, scaled by `PER_GPU_SCALE`: a
    /// rental's bonus is measured on it between the rental's start and end.
    pub(crate) reward_per_gpu: U256,
    /// The key the machine holds: it signs the machine's heartbeats.
    pub(crate) machine_key: Address,
    /// Report id of the machine's pending liveness challenge (0: none).
    pub(crate) challenge: u64,
    /// Block of the machine's next challenge check (0: none scheduled).
    pub(crate) challenge_at: u64,
    /// Share of the stake already slashed when the machine was found unreachable (the slash
    /// on its return is the tier for its offline time less this).
    pub(crate) slashed_bps: u16,
    /// Found failing by auditors (a challenge or a fault report): it returns through a new
    /// verification, not a heartbeat.
    pub(crate) reverify: bool,
}

/// Scale of [`Machine::reward_per_gpu`].
pub(crate) const PER_GPU_SCALE: u64 = 1_000_000_000_000;

impl Machine {
    /// Loads a machine; `None` if it was never registered.
    pub(crate) fn load<H: Host>(ctx: &mut Ctx<'_, H>, id: B256) -> Res<Option<Self>> {
        let (slots, w) = Slots::<MACHINE_SLOTS>::load(ctx, T_MACHINE, id)?;
        if w[0].is_zero() {
            return Ok(None);
        }
        Ok(Some(Self {
            slots,
            id,
            owner: to_addr(w[0] & ((U256::from(1) << 160) - U256::from(1))),
            status: bits(w[0], 160, 8) as u8,
            reason: bits(w[0], 168, 8) as u8,
            calc_point: bits(w[0], 176, 32) as u32,
            rented: bits(w[0], 208, 32) as u32,
            model: B256::from(w[1]),
            region: B256::from(w[2]),
            gpus: bits(w[3], 0, 32) as u32,
            mem: bits(w[3], 32, 32) as u32,
            cpu: bits(w[3], 64, 32) as u32,
            ram: bits(w[3], 96, 32) as u32,
            disk: bits(w[3], 128, 32) as u32,
            index: bits(w[3], 160, 64),
            registered_at: bits(w[4], 0, 64),
            online_since: bits(w[4], 64, 64),
            offline_since: bits(w[4], 128, 64),
            last_heartbeat: bits(w[4], 192, 64),
            rent_end: bits(w[5], 0, 64),
            check_at: bits(w[5], 64, 64),
            last_rental_end: bits(w[5], 128, 64),
            stake: w[6],
            custom_price: w[7],
            earned: w[8],
            grade: w[9],
            debt: w[10],
            last_renter: to_addr(w[11]),
            verifiers: [to_addr(w[12]), to_addr(w[13]), to_addr(w[14])],
            reward_per_gpu: w[15],
            machine_key: to_addr(w[16] & ((U256::from(1) << 160) - U256::from(1))),
            challenge: bits(w[16], 160, 64),
            challenge_at: bits(w[5], 192, 64),
            slashed_bps: bits(w[16], 224, 16) as u16,
            reverify: bits(w[16], 240, 1) == 1,
        }))
    }

    /// A new machine record (not yet stored).
    pub(crate) fn new(id: B256, owner: Address) -> Self {
        Self {
            slots: Slots { tag: T_MACHINE, key: id, orig: [U256::ZERO; MACHINE_SLOTS] },
            id,
            owner,
            status: status::NONE,
            reason: reason::NONE,
            calc_point: 0,
            rented: 0,
            model: B256::ZERO,
            region: B256::ZERO,
            gpus: 0,
            mem: 0,
            cpu: 0,
            ram: 0,
            disk: 0,
            index: 0,
            registered_at: 0,
            online_since: 0,
            offline_since: 0,
            last_heartbeat: 0,
            rent_end: 0,
            check_at: 0,
            last_rental_end: 0,
            stake: U256::ZERO,
            custom_price: U256::ZERO,
            earned: U256::ZERO,
            grade: U256::ZERO,
            debt: U256::ZERO,
            last_renter: Address::ZERO,
            verifiers: [Address::ZERO; 3],
            reward_per_gpu: U256::ZERO,
            machine_key: Address::ZERO,
            challenge: 0,
            challenge_at: 0,
            slashed_bps: 0,
            reverify: false,
        }
    }

    /// Writes the changed slots back.
    pub(crate) fn store<H: Host>(&mut self, ctx: &mut Ctx<'_, H>) -> Res<()> {
        let mut w = [U256::ZERO; MACHINE_SLOTS];
        w[0] = from_addr(self.owner);
        put(&mut w[0], 160, 8, self.status.into());
        put(&mut w[0], 168, 8, self.reason.into());
        put(&mut w[0], 176, 32, self.calc_point.into());
        put(&mut w[0], 208, 32, self.rented.into());
        w[1] = self.model.into();
        w[2] = self.region.into();
        put(&mut w[3], 0, 32, self.gpus.into());
        put(&mut w[3], 32, 32, self.mem.into());
        put(&mut w[3], 64, 32, self.cpu.into());
        put(&mut w[3], 96, 32, self.ram.into());
        put(&mut w[3], 128, 32, self.disk.into());
        put(&mut w[3], 160, 64, self.index);
        put(&mut w[4], 0, 64, self.registered_at);
        put(&mut w[4], 64, 64, self.online_since);
        put(&mut w[4], 128, 64, self.offline_since);
        put(&mut w[4], 192, 64, self.last_heartbeat);
        put(&mut w[5], 0, 64, self.rent_end);
        put(&mut w[5], 64, 64, self.check_at);
        put(&mut w[5], 128, 64, self.last_rental_end);
        w[6] = self.stake;
        w[7] = self.custom_price;
        w[8] = self.earned;
        w[9] = self.grade;
        w[10] = self.debt;
        w[11] = from_addr(self.last_renter);
        for i in 0..3 {
            w[12 + i] = from_addr(self.verifiers[i]);
        }
        w[15] = self.reward_per_gpu;
        put(&mut w[5], 192, 64, self.challenge_at);
        w[16] = from_addr(self.machine_key);
        put(&mut w[16], 160, 64, self.challenge);
        put(&mut w[16], 224, 16, self.slashed_bps.into());
        put(&mut w[16], 240, 1, self.reverify.into());
        self.slots.store(ctx, w)
    }

    /// The claimed spec in ABI form.
    pub(crate) fn spec(&self) -> IGpuMarket::MachineSpec {
        IGpuMarket::MachineSpec {
            gpuModel: self.model,
            gpuCount: self.gpus,
            gpuMemoryGb: self.mem,
            cpuCores: self.cpu,
            ramGb: self.ram,
            diskGb: self.disk,
            region: self.region,
            machineKey: self.machine_key,
        }
    }

    /// Stake required for the machine's GPUs.
    pub(crate) fn required_stake(&self, per_gpu: U256) -> Option<U256> {
        per_gpu.checked_mul(U256::from(self.gpus))
    }
}

/// A commit–reveal round (machine verification or fault report).
pub(crate) struct Round {
    slots: Slots<11>,
    pub(crate) phase: u8,
    pub(crate) attempt: u32,
    pub(crate) draw_at: u64,
    pub(crate) commit_deadline: u64,
    pub(crate) reveal_deadline: u64,
    pub(crate) auditors: [Address; 3],
    pub(crate) commitments: [B256; 3],
    /// Per auditor: bit 0 revealed, bit 1 verdict (spec matches / faulty), bits 8..40 calc point.
    pub(crate) reveals: [U256; 3],
    /// Committee seats handed out when the draw was scheduled: only members seated before it
    /// are drawn (the committee is snapshotted at request time).
    pub(crate) snapshot: u64,
}

impl Round {
    pub(crate) fn load<H: Host>(ctx: &mut Ctx<'_, H>, tag: u64, key: B256) -> Res<Self> {
        let (slots, w) = Slots::<11>::load(ctx, tag, key)?;
        Ok(Self {
            slots,
            phase: bits(w[0], 0, 8) as u8,
            attempt: bits(w[0], 8, 32) as u32,
            draw_at: bits(w[0], 40, 64),
            commit_deadline: bits(w[0], 104, 64),
            reveal_deadline: bits(w[0], 168, 64),
            auditors: [to_addr(w[1]), to_addr(w[2]), to_addr(w[3])],
            commitments: [B256::from(w[4]), B256::from(w[5]), B256::from(w[6])],
            reveals: [w[7], w[8], w[9]],
            snapshot: bits(w[10], 0, 64),
        })
    }

    pub(crate) fn store<H: Host>(&mut self, ctx: &mut Ctx<'_, H>) -> Res<()> {
        let mut w = [U256::ZERO; 11];
        put(&mut w[0], 0, 8, self.phase.into());
        put(&mut w[0], 8, 32, self.attempt.into());
        put(&mut w[0], 40, 64, self.draw_at);
        put(&mut w[0], 104, 64, self.commit_deadline);
        put(&mut w[0], 168, 64, self.reveal_deadline);
        for i in 0..3 {
            w[1 + i] = from_addr(self.auditors[i]);
            w[4 + i] = self.commitments[i].into();
            w[7 + i] = self.reveals[i];
        }
        put(&mut w[10], 0, 64, self.snapshot);
        self.slots.store(ctx, w)
    }

    /// Position of `who` among the assigned auditors.
    pub(crate) fn seat(&self, who: Address) -> Option<usize> {
        if who.is_zero() {
            return None;
        }
        self.auditors.iter().position(|a| *a == who)
    }

    pub(crate) fn committed(&self) -> usize {
        self.commitments.iter().filter(|c| !c.is_zero()).count()
    }

    pub(crate) fn revealed(&self, i: usize) -> bool {
        self.reveals[i].bit(0)
    }

    pub(crate) fn verdict(&self, i: usize) -> bool {
        self.reveals[i].bit(1)
    }

    pub(crate) fn abi(&self) -> IGpuMarket::Round {
        IGpuMarket::Round {
            phase: crate::market::en(self.phase, IGpuMarket::RoundPhase::None),
            attempt: self.attempt,
            drawAt: self.draw_at,
            commitDeadline: self.commit_deadline,
            revealDeadline: self.reveal_deadline,
            auditors: self.auditors,
        }
    }
}

/// A rental.
pub(crate) struct Rental {
    slots: Slots<8>,
    pub(crate) id: u64,
    pub(crate) machine: B256,
    pub(crate) renter: Address,
    pub(crate) gpus: u32,
    pub(crate) burn_bps: u16,
    pub(crate) status: u8,
    pub(crate) start: u64,
    pub(crate) end: u64,
    pub(crate) paid: U256,
    pub(crate) refunded: U256,
    pub(crate) burned: U256,
    /// Who receives the refund and a renter's share of slashes (security review L9: a contract
    /// renting for its client names the client, so nothing is paid to the contract).
    pub(crate) beneficiary: Address,
    /// Position of the rental's `RENTAL_END` item in the hook queue of block `end` (0: none).
    pub(crate) queue_index: u32,
    /// Extensions so far; with any, every segment's end and price are stored apart.
    pub(crate) extensions: u8,
    /// The machine's `reward_per_gpu` when the rental started (its bonus is measured from it).
    pub(crate) reward_snapshot: U256,
    /// Position (from 1) in the machine's list of active rentals (0: not listed).
    pub(crate) machine_slot: u32,
}

/// Rental status codes (match `IGpuMarket.RentalStatus`).
pub(crate) mod rental_status {
    pub(crate) const ACTIVE: u8 = 1;
    pub(crate) const ENDED: u8 = 2;
}

impl Rental {
    pub(crate) fn load<H: Host>(ctx: &mut Ctx<'_, H>, id: u64) -> Res<Option<Self>> {
        let (slots, w) = Slots::<8>::load(ctx, T_RENTAL, num_key(id))?;
        if w[1].is_zero() {
            return Ok(None);
        }
        Ok(Some(Self {
            slots,
            id,
            machine: B256::from(w[0]),
            renter: to_addr(w[1]),
            gpus: bits(w[2], 0, 32) as u32,
            burn_bps: bits(w[2], 32, 16) as u16,
            status: bits(w[2], 48, 8) as u8,
            start: bits(w[2], 56, 64),
            end: bits(w[2], 120, 64),
            paid: w[3],
            refunded: w[4],
            burned: w[5],
            // Rentals stored before beneficiaries existed pay their renter.
            beneficiary: if w[6].is_zero() { to_addr(w[1]) } else { to_addr(w[6]) },
            queue_index: bits(w[2], 184, 32) as u32,
            extensions: bits(w[2], 216, 8) as u8,
            reward_snapshot: w[7],
            machine_slot: bits(w[2], 224, 32) as u32,
        }))
    }

    pub(crate) fn new(id: u64, machine: B256, renter: Address) -> Self {
        Self {
            slots: Slots { tag: T_RENTAL, key: num_key(id), orig: [U256::ZERO; 8] },
            id,
            machine,
            renter,
            gpus: 0,
            burn_bps: 0,
            status: 0,
            start: 0,
            end: 0,
            paid: U256::ZERO,
            refunded: U256::ZERO,
            burned: U256::ZERO,
            beneficiary: renter,
            queue_index: 0,
            extensions: 0,
            reward_snapshot: U256::ZERO,
            machine_slot: 0,
        }
    }

    pub(crate) fn store<H: Host>(&mut self, ctx: &mut Ctx<'_, H>) -> Res<()> {
        let mut w = [U256::ZERO; 8];
        w[0] = self.machine.into();
        w[1] = from_addr(self.renter);
        w[6] = from_addr(self.beneficiary);
        put(&mut w[2], 0, 32, self.gpus.into());
        put(&mut w[2], 32, 16, self.burn_bps.into());
        put(&mut w[2], 48, 8, self.status.into());
        put(&mut w[2], 56, 64, self.start);
        put(&mut w[2], 120, 64, self.end);
        put(&mut w[2], 184, 32, self.queue_index.into());
        put(&mut w[2], 216, 8, self.extensions.into());
        put(&mut w[2], 224, 32, self.machine_slot.into());
        w[3] = self.paid;
        w[4] = self.refunded;
        w[5] = self.burned;
        w[7] = self.reward_snapshot;
        self.slots.store(ctx, w)
    }

    pub(crate) fn abi(&self) -> IGpuMarket::Rental {
        IGpuMarket::Rental {
            id: U256::from(self.id),
            machineId: self.machine,
            renter: self.renter,
            gpus: self.gpus,
            burnBps: self.burn_bps,
            status: crate::market::en(self.status, IGpuMarket::RentalStatus::None),
            start: self.start,
            end: self.end,
            paid: self.paid,
            refunded: self.refunded,
            burned: self.burned,
            beneficiary: self.beneficiary,
        }
    }
}

/// A fault report.
pub(crate) struct Report {
    slots: Slots<5>,
    pub(crate) id: u64,
    pub(crate) rental: u64,
    pub(crate) reporter: Address,
    pub(crate) deposit: U256,
    pub(crate) outcome: u8,
    pub(crate) machine: B256,
}

impl Report {
    pub(crate) fn load<H: Host>(ctx: &mut Ctx<'_, H>, id: u64) -> Res<Option<Self>> {
        let (slots, w) = Slots::<5>::load(ctx, T_REPORT, num_key(id))?;
        if w[1].is_zero() {
            return Ok(None);
        }
        Ok(Some(Self {
            slots,
            id,
            rental: w[0].saturating_to(),
            reporter: to_addr(w[1]),
            deposit: w[2],
            outcome: w[3].saturating_to(),
            machine: B256::from(w[4]),
        }))
    }

    pub(crate) fn new(id: u64, rental: u64, reporter: Address, machine: B256) -> Self {
        Self {
            slots: Slots { tag: T_REPORT, key: num_key(id), orig: [U256::ZERO; 5] },
            id,
            rental,
            reporter,
            deposit: U256::ZERO,
            outcome: 0,
            machine,
        }
    }

    pub(crate) fn store<H: Host>(&mut self, ctx: &mut Ctx<'_, H>) -> Res<()> {
        let w = [
            U256::from(self.rental),
            from_addr(self.reporter),
            self.deposit,
            U256::from(self.outcome),
            self.machine.into(),
        ];
        self.slots.store(ctx, w)
    }
}

/// Rewards of an account (provider or auditor): the immediate share and the vesting tranches.
///
/// Tranche `k` holds the vesting share of the rewards settled during one epoch; it releases
/// linearly over `vestingBlocks` from the start of the next epoch. Tranches `head..started`
/// are releasing and summarised by `active_amount` (Σ amount) and `active_weighted`
/// (Σ amount × start), so the vested total is `matured + (active_amount × now −
/// active_weighted) / vestingBlocks` without a loop over tranches.
pub(crate) struct Account {
    slots: Slots<8>,
    /// Record key (the account's address word, or a per-project key).
    key: B256,
    pub(crate) claimable: U256,
    pub(crate) claimed: U256,
    pub(crate) matured: U256,
    pub(crate) withdrawn_vested: U256,
    pub(crate) active_amount: U256,
    pub(crate) active_weighted: U256,
    pub(crate) head: u64,
    pub(crate) started: u64,
    pub(crate) tail: u64,
    pub(crate) total_vesting: U256,
}

impl Account {
    pub(crate) fn load<H: Host>(ctx: &mut Ctx<'_, H>, who: Address) -> Res<Self> {
        Self::load_keyed(ctx, T_ACCOUNT, addr_key(who))
    }

    /// Loads the rewards record `(tag, key)` of the current precompile account.
    pub(crate) fn load_keyed<H: Host>(ctx: &mut Ctx<'_, H>, tag: u64, key: B256) -> Res<Self> {
        let (slots, w) = Slots::<8>::load(ctx, tag, key)?;
        Ok(Self {
            slots,
            key,
            claimable: w[0],
            claimed: w[1],
            matured: w[2],
            withdrawn_vested: w[3],
            active_amount: w[4],
            active_weighted: w[5],
            head: bits(w[6], 0, 64),
            started: bits(w[6], 64, 64),
            tail: bits(w[6], 128, 64),
            total_vesting: w[7],
        })
    }

    pub(crate) fn store<H: Host>(&mut self, ctx: &mut Ctx<'_, H>) -> Res<()> {
        let mut w = [
            self.claimable,
            self.claimed,
            self.matured,
            self.withdrawn_vested,
            self.active_amount,
            self.active_weighted,
            U256::ZERO,
            self.total_vesting,
        ];
        put(&mut w[6], 0, 64, self.head);
        put(&mut w[6], 64, 64, self.started);
        put(&mut w[6], 128, 64, self.tail);
        self.slots.store(ctx, w)
    }

    fn tranche_key(&self, seq: u64) -> B256 {
        alloy_primitives::keccak256([self.key.as_slice(), &seq.to_be_bytes()].concat())
    }

    /// Reads tranche `seq`: (release start, amount).
    pub(crate) fn tranche<H: Host>(&self, ctx: &mut Ctx<'_, H>, seq: u64) -> Res<(u64, U256)> {
        let key = self.tranche_key(seq);
        let start = ctx.get(slot(T_TRANCHE, key, 0))?.saturating_to();
        let amount = ctx.get(slot(T_TRANCHE, key, 1))?;
        Ok((start, amount))
    }

    /// Adds `amount` to the vesting tranche that starts releasing at `start`.
    pub(crate) fn add_vesting<H: Host>(
        &mut self,
        ctx: &mut Ctx<'_, H>,
        start: u64,
        amount: U256,
    ) -> Res<()> {
        if amount.is_zero() {
            return Ok(());
        }
        self.total_vesting = ck(self.total_vesting.checked_add(amount))?;
        if self.tail > self.started {
            let (last_start, last_amount) = self.tranche(ctx, self.tail - 1)?;
            if last_start == start {
                let key = self.tranche_key(self.tail - 1);
                ctx.set(slot(T_TRANCHE, key, 1), ck(last_amount.checked_add(amount))?)?;
                // Merging costs what opening a tranche costs (two fresh slots), so a settlement's
                // gas does not depend on whether an epoch boundary passed between the estimate
                // and the block (issue #16 item 8).
                return ctx.charge(2 * (gas::COLD_SLOAD + gas::SSTORE_SET));
            }
        }
        let key = self.tranche_key(self.tail);
        ctx.set(slot(T_TRANCHE, key, 0), U256::from(start))?;
        ctx.set(slot(T_TRANCHE, key, 1), amount)?;
        self.tail += 1;
        Ok(())
    }

    /// Takes everything claimable now, `vested` being the vested total ([`Self::refresh`]):
    /// the claimable part plus the vested part not yet withdrawn. `withdrawn_vested` is a
    /// high-water mark: after a longer `vestingBlocks` the vested total can fall below what was
    /// already withdrawn, and must not be paid again when it climbs back. `None` on overflow.
    pub(crate) fn take(&mut self, vested: U256) -> Option<U256> {
        let amount = self.claimable.checked_add(vested.saturating_sub(self.withdrawn_vested))?;
        self.claimed = self.claimed.checked_add(amount)?;
        self.claimable = U256::ZERO;
        self.withdrawn_vested = self.withdrawn_vested.max(vested);
        Some(amount)
    }

    /// Moves tranches whose release started into the active sums and fully released ones into
    /// `matured`. Returns the vested total at `now`.
    pub(crate) fn refresh<H: Host>(
        &mut self,
        ctx: &mut Ctx<'_, H>,
        vesting_blocks: u64,
    ) -> Res<U256> {
        let now = ctx.now;
        while self.started < self.tail {
            let (start, amount) = self.tranche(ctx, self.started)?;
            if start > now {
                break;
            }
            self.active_amount = ck(self.active_amount.checked_add(amount))?;
            self.active_weighted =
                ck(self.active_weighted.checked_add(ck(amount.checked_mul(U256::from(start)))?))?;
            self.started += 1;
        }
        while self.head < self.started {
            let (start, amount) = self.tranche(ctx, self.head)?;
            if start.saturating_add(vesting_blocks) > now {
                break;
            }
            self.active_amount = ck(self.active_amount.checked_sub(amount))?;
            self.active_weighted =
                ck(self.active_weighted.checked_sub(ck(amount.checked_mul(U256::from(start)))?))?;
            self.matured = ck(self.matured.checked_add(amount))?;
            self.head += 1;
        }
        let releasing =
            ck(ck(self.active_amount.checked_mul(U256::from(now)))?
                .checked_sub(self.active_weighted))?
                / U256::from(vesting_blocks);
        ck(self.matured.checked_add(releasing))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_vested_total_that_falls_is_not_paid_twice_when_it_climbs_back() {
        let mut a = Account {
            slots: Slots { tag: T_ACCOUNT, key: B256::ZERO, orig: [U256::ZERO; 8] },
            key: B256::ZERO,
            claimable: U256::from(5),
            claimed: U256::ZERO,
            matured: U256::ZERO,
            withdrawn_vested: U256::ZERO,
            active_amount: U256::ZERO,
            active_weighted: U256::ZERO,
            head: 0,
            started: 0,
            tail: 0,
            total_vesting: U256::ZERO,
        };
        assert_eq!(a.take(U256::from(100)), Some(U256::from(105)));
        // A longer vesting period: 60 vested now, less than the 100 withdrawn.
        assert_eq!(a.take(U256::from(60)), Some(U256::ZERO));
        assert_eq!(a.withdrawn_vested, U256::from(100));
        assert_eq!(a.take(U256::from(120)), Some(U256::from(20)));
        assert_eq!(a.claimed, U256::from(125));
    }
}
