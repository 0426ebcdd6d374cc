//! How each `dbc_` method answers: a static call to a precompile's views at the requested
//! block, decoded into the namespace's JSON ([`super`]).

use super::*;

/// Result of a view call: decoded return or the revert data.
enum View<T> {
    Ok(T),
    Reverted(Bytes),
}

impl RpcContext {
    fn precompile_view<C: SolCall>(
        &self,
        to: Address,
        call: C,
        block: Option<BlockId>,
    ) -> RpcResult<View<C::Return>> {
        self.precompile_view_at(to, call, block, false)
    }

    /// A view at `block`, or (`pending_for_latest`, and `block` latest or unset) in the pending
    /// context: the block after the head, where a transaction sent now executes.
    fn precompile_view_at<C: SolCall>(
        &self,
        to: Address,
        call: C,
        block: Option<BlockId>,
        pending_for_latest: bool,
    ) -> RpcResult<View<C::Return>> {
        let mut sim = self.simulator_at(block, pending_for_latest, EvmOverrides::default())?;
        let request =
            TransactionRequest::default().to(to).input(Bytes::from(call.abi_encode()).into());
        let out = match sim.call(request) {
            Ok(out) if out.success => out,
            Ok(out) => return Ok(View::Reverted(out.output)),
            Err(dbc_evm::SimError::Revert { output }) => return Ok(View::Reverted(output)),
            Err(e) => return Err(rpc_err(e)),
        };
        C::abi_decode_returns(&out.output)
            .map(View::Ok)
            .map_err(|e| crate::error::internal(format!("market returned malformed data: {e}")))
    }

    /// A view of a record that may not exist: `None` when the precompile reverts with `Missing`
    /// (its "unknown id" error), any other revert is an error.
    fn precompile_opt<C: SolCall, Missing: SolError>(
        &self,
        to: Address,
        call: C,
        block: Option<BlockId>,
    ) -> RpcResult<Option<C::Return>> {
        match self.precompile_view(to, call, block)? {
            View::Ok(v) => Ok(Some(v)),
            View::Reverted(data) if Missing::abi_decode(&data).is_ok() => Ok(None),
            View::Reverted(data) => Err(reverted(&data)),
        }
    }

    fn market_ok<C: SolCall>(&self, call: C, block: Option<BlockId>) -> RpcResult<C::Return> {
        self.precompile_ok(MARKET_ADDRESS, call, block)
    }

    /// A page of records numbered from 1 (`limit` at most [`MAX_PAGE`] from `offset`), all
    /// read at one block: `count` at `at_address` says how many exist, `item` reads one.
    /// Returns the total, the page and the next page's offset (null after the last).
    fn id_page<C: SolCall<Return = U256>, T>(
        &self,
        offset: Option<U64>,
        limit: Option<U64>,
        block: Option<BlockId>,
        at_address: Address,
        count: C,
        mut item: impl FnMut(&Self, u64, Option<BlockId>) -> RpcResult<T>,
    ) -> RpcResult<(U64, Vec<T>, Option<U64>)> {
        let offset = offset.map_or(1, |o| o.to::<u64>()).max(1);
        let limit = limit.map_or(MAX_PAGE, |l| l.to::<u64>());
        if limit == 0 || limit > MAX_PAGE {
            return Err(invalid_params(format!("limit must be between 1 and {MAX_PAGE}")));
        }
        let at = Some(BlockId::number(self.resolve(block)?));
        let total: u64 = self.precompile_ok(at_address, count, at)?.saturating_to();
        let last = offset.saturating_add(limit - 1).min(total);
        let until = self.deadline();
        let mut page = Vec::new();
        for id in offset..=last {
            Self::check_deadline(until)?;
            page.push(item(self, id, at)?);
        }
        Ok((U64::from(total), page, (last < total).then(|| U64::from(last + 1))))
    }

    pub(crate) fn precompile_ok<C: SolCall>(
        &self,
        to: Address,
        call: C,
        block: Option<BlockId>,
    ) -> RpcResult<C::Return> {
        self.precompile_ok_at(to, call, block, false)
    }

    /// [`Self::precompile_ok`] in the pending context when `pending_for_latest` (see
    /// [`Self::precompile_view_at`]).
    pub(crate) fn precompile_ok_at<C: SolCall>(
        &self,
        to: Address,
        call: C,
        block: Option<BlockId>,
        pending_for_latest: bool,
    ) -> RpcResult<C::Return> {
        match self.precompile_view_at(to, call, block, pending_for_latest)? {
            View::Ok(v) => Ok(v),
            View::Reverted(data) => Err(reverted(&data)),
        }
    }
}

impl DbcApiServer for RpcContext {
    fn council(&self, block: Option<BlockId>) -> RpcResult<CouncilJson> {
        // Both reads at one block, even if the head moves meanwhile.
        let block = Some(BlockId::number(self.resolve(block)?));
        let c = self.precompile_ok(GOVERNANCE_ADDRESS, IGovernance::councilCall {}, block)?;
        let cands =
            self.precompile_ok(GOVERNANCE_ADDRESS, IGovernance::candidatesCall {}, block)?;
        Ok(CouncilJson {
            term: U64::from(c.term),
            members: c.members,
            runners_up: c.runnersUp,
            term_end: U64::from(c.termEnd),
            freeze_start: U64::from(c.freezeStart),
            candidates: cands
                .into_iter()
                .map(|x| CandidateJson {
                    account: x.account,
                    bond: x.bond,
                    approval_stake: x.approvalStake,
                    carried: x.carried,
                })
                .collect(),
        })
    }

    fn network_stats(&self, block: Option<BlockId>) -> RpcResult<NetworkStats> {
        let s = self.market_ok(IGpuMarket::networkStatsCall {}, block)?;
        let staking_burned =
            self.precompile_ok(STAKING_ADDRESS, IStaking::totalBurnedCall {}, block)?;
        // The exact ledger of the governance precompile (every block's net balance change).
        let supply =
            self.precompile_ok(GOVERNANCE_ADDRESS, IGovernance::totalSupplyCall {}, block)?;
        Ok(NetworkStats {
            total_gpus: U64::from(s.totalGpus),
            online_gpus: U64::from(s.onlineGpus),
            rented_gpus: U64::from(s.rentedGpus),
            machines: U64::from(s.machines),
            burn_rate_bps: s.burnRateBps,
            total_burned: s.totalBurned,
            fees_burned: s.feesBurned,
            staking_burned,
            total_supply: supply,
            rewards_distributed: s.rewardsDistributed,
            reward_pool_remaining: s.rewardPoolRemaining,
        })
    }

    fn audit_supply(&self, block: Option<BlockId>) -> RpcResult<SupplyAudit> {
        let number = self.resolve(block)?;
        let (number, sum, accounts) = self
            .storage()
            .sum_balances_at(
                Some(number),
                dbc_storage::ReadBudget {
                    until: Some(self.deadline()),
                    max_changed: dbc_storage::MAX_AUDIT_CHANGED,
                },
            )
            .map_err(rpc_err)?
            .ok_or_else(crate::error::header_not_found)?;
        let total_supply = self.precompile_ok(
            GOVERNANCE_ADDRESS,
            IGovernance::totalSupplyCall {},
            Some(BlockId::number(number)),
        )?;
        Ok(SupplyAudit {
            block: U64::from(number),
            sum,
            accounts: U64::from(accounts),
            total_supply,
        })
    }

    fn get_proposal(&self, id: U256, block: Option<BlockId>) -> RpcResult<Option<ProposalJson>> {
        let call = IGovernance::getProposalCall { id };
        let p = self.precompile_opt::<_, IGovernance::UnknownProposal>(
            GOVERNANCE_ADDRESS,
            call,
            block,
        )?;
        Ok(p.map(proposal_json))
    }

    fn get_proposal_votes(
        &self,
        id: U256,
        offset: Option<U64>,
        limit: Option<U64>,
        block: Option<BlockId>,
    ) -> RpcResult<Option<VotePage>> {
        // Both reads at one block, even if the head moves meanwhile.
        let block = Some(BlockId::number(self.resolve(block)?));
        let call = IGovernance::getProposalCall { id };
        let Some(p) = self.precompile_opt::<_, IGovernance::UnknownProposal>(
            GOVERNANCE_ADDRESS,
            call,
            block,
        )?
        else {
            return Ok(None);
        };
        let offset = offset.map_or(0, |o| o.to::<u64>());
        let limit = limit.map_or(100, |l| l.to::<u64>()).min(100);
        let call = IGovernance::proposalVotersCall {
            id,
            offset: U256::from(offset),
            limit: U256::from(limit),
        };
        let page = self.precompile_ok(GOVERNANCE_ADDRESS, call, block)?;
        let votes: Vec<VoteJson> = page
            .voters
            .into_iter()
            .zip(page.support)
            .zip(page.weights)
            .map(|((voter, support), weight)| VoteJson {
                voter,
                support: match support {
                    0 => "against",
                    1 => "for",
                    _ => "abstain",
                },
                weight,
            })
            .collect();
        let end = offset.saturating_add(votes.len() as u64);
        Ok(Some(VotePage {
            total: U64::from(p.voters),
            next_offset: (end < p.voters && !votes.is_empty()).then_some(U64::from(end)),
            votes,
        }))
    }

    fn list_proposals(
        &self,
        offset: Option<U64>,
        limit: Option<U64>,
        block: Option<BlockId>,
    ) -> RpcResult<ProposalPage> {
        let count = IGovernance::proposalCountCall {};
        let (total, proposals, next_offset) =
            self.id_page(offset, limit, block, GOVERNANCE_ADDRESS, count, |this, id, at| {
                let call = IGovernance::getProposalCall { id: U256::from(id) };
                Ok(proposal_json(this.precompile_ok(GOVERNANCE_ADDRESS, call, at)?))
            })?;
        Ok(ProposalPage { total, proposals, next_offset })
    }

    fn treasury_history(&self, from: BlockId, to: BlockId) -> RpcResult<Vec<TreasuryChange>> {
        use dbc_storage::StateReader;
        let (from, to) = (self.resolve(Some(from))?, self.resolve(Some(to))?);
        if from > to {
            return Err(invalid_params("fromBlock is after toBlock"));
        }
        if to - from >= MAX_TREASURY_RANGE {
            return Err(crate::error::server_error(format!(
                "query exceeds max block range {MAX_TREASURY_RANGE}"
            )));
        }
        let slots = dbc_precompiles::governance::treasury_slots();
        let limit = usize::try_from(MAX_TREASURY_RANGE).unwrap_or(usize::MAX);
        let storage = self.storage();
        let mut blocks = storage
            .storage_change_blocks(&GOVERNANCE_ADDRESS, &slots.received, from, to, limit)
            .map_err(rpc_err)?;
        blocks.extend(
            storage
                .storage_change_blocks(&GOVERNANCE_ADDRESS, &slots.spent, from, to, limit)
                .map_err(rpc_err)?,
        );
        blocks.sort_unstable();
        blocks.dedup();
        // The counters at a block: spent, then each source's total.
        let counters = |n: u64| -> RpcResult<(U256, [U256; 9])> {
            let state = storage.state_at(n);
            let read = |slot| state.storage(GOVERNANCE_ADDRESS, slot).map_err(rpc_err);
            let mut by_source = [U256::ZERO; 9];
            for (v, slot) in by_source.iter_mut().zip(slots.by_source) {
                *v = read(slot)?;
            }
            Ok((read(slots.spent)?, by_source))
        };
        let mut out = Vec::with_capacity(blocks.len());
        for n in blocks {
            // The counters only grow: the change of a block is its value less its parent's.
            let (spent, by_source) = counters(n)?;
            let (spent_before, before) = match n.checked_sub(1) {
                Some(parent) => counters(parent)?,
                None => (U256::ZERO, [U256::ZERO; 9]),
            };
            let d: [U256; 9] = std::array::from_fn(|i| by_source[i].saturating_sub(before[i]));
            let balance = storage
                .state_at(n)
                .account(GOVERNANCE_ADDRESS)
                .map_err(rpc_err)?
                .map_or(U256::ZERO, |a| a.balance);
            out.push(TreasuryChange {
                block: U64::from(n),
                balance,
                received: d.iter().fold(U256::ZERO, |a, v| a.saturating_add(*v)),
                spent: spent.saturating_sub(spent_before),
                received_by_source: TreasurySources {
                    machine_slash: d[0],
                    auditor_penalty: d[1],
                    rejected_machine: d[2],
                    lost_report_deposit: d[3],
                    validator_slash: d[4],
                    lost_proposal_deposit: d[5],
                    lost_candidacy_bond: d[6],
                    burn_floor: d[7],
                    donation: d[8],
                },
            });
        }
        Ok(out)
    }

    fn treasury(&self, block: Option<BlockId>) -> RpcResult<Treasury> {
        // Every read at one block, even if the head moves meanwhile.
        let block = Some(BlockId::number(self.resolve(block)?));
        let gov = |this: &Self, source: u8| {
            this.precompile_ok(
                GOVERNANCE_ADDRESS,
                IGovernance::treasuryReceivedCall { source },
                block,
            )
        };
        let t = self.precompile_ok(GOVERNANCE_ADDRESS, IGovernance::treasuryCall {}, block)?;
        let rate = |this: &Self, target| {
            this.precompile_ok(GOVERNANCE_ADDRESS, IGovernance::emissionRateCall { target }, block)
        };
        let gpu = rate(self, IGovernance::Target::Market)?;
        let validators = rate(self, IGovernance::Target::Staking)?;
        Ok(Treasury {
            balance: t.balance,
            available: t.available,
            received: t.received,
            spent: t.spent,
            reserved: t.reserved,
            received_by_source: TreasurySources {
                machine_slash: gov(self, 1)?,
                auditor_penalty: gov(self, 2)?,
                rejected_machine: gov(self, 3)?,
                lost_report_deposit: gov(self, 4)?,
                validator_slash: gov(self, 5)?,
                lost_proposal_deposit: gov(self, 6)?,
                lost_candidacy_bond: gov(self, 7)?,
                burn_floor: gov(self, 8)?,
                donation: gov(self, 9)?,
            },
            gpu_emission_per_block: gpu.perBlock,
            validator_emission_per_block: validators.perBlock,
            emission_era: gpu.era,
        })
    }

    fn get_machine(&self, id: B256, block: Option<BlockId>) -> RpcResult<Option<Machine>> {
        // Both reads at one block, even if the head moves meanwhile.
        let block = Some(BlockId::number(self.resolve(block)?));
        let call = IGpuMarket::getMachineCall { machineId: id };
        let Some(m) =
            self.precompile_opt::<_, IGpuMarket::UnknownMachine>(MARKET_ADDRESS, call, block)?
        else {
            return Ok(None);
        };
        let endpoint = self.market_ok(IGpuMarket::endpointOfCall { machineId: id }, block)?;
        Ok(Some(machine_json(m, endpoint)))
    }

    fn list_machines(
        &self,
        offset: Option<U64>,
        limit: Option<U64>,
        block: Option<BlockId>,
    ) -> RpcResult<MachinePage> {
        let offset = offset.map_or(0, |o| o.to::<u64>());
        let limit = limit.map_or(MAX_PAGE, |l| l.to::<u64>());
        if limit == 0 || limit > MAX_PAGE {
            return Err(invalid_params(format!("limit must be between 1 and {MAX_PAGE}")));
        }
        // One block for the whole page, even if the head moves meanwhile.
        let number = self.resolve(block)?;
        let at = Some(BlockId::number(number));
        let total: u64 = self.market_ok(IGpuMarket::machineCountCall {}, at)?.saturating_to();
        let end = offset.saturating_add(limit).min(total);
        let until = self.deadline();
        let mut machines = Vec::new();
        for index in offset..end {
            Self::check_deadline(until)?;
            let id =
                self.market_ok(IGpuMarket::machineIdAtCall { index: U256::from(index) }, at)?;
            let m = self.market_ok(IGpuMarket::getMachineCall { machineId: id }, at)?;
            let endpoint = self.market_ok(IGpuMarket::endpointOfCall { machineId: id }, at)?;
            machines.push(machine_json(m, endpoint));
        }
        Ok(MachinePage {
            total: U64::from(total),
            machines,
            next_offset: (end < total).then(|| U64::from(end)),
        })
    }

    fn get_rental(&self, id: U256, block: Option<BlockId>) -> RpcResult<Option<Rental>> {
        let call = IGpuMarket::getRentalCall { rentalId: id };
        let Some(r) =
            self.precompile_opt::<_, IGpuMarket::UnknownRental>(MARKET_ADDRESS, call, block)?
        else {
            return Ok(None);
        };
        Ok(Some(Rental {
            id: r.id,
            machine_id: r.machineId,
            renter: r.renter,
            gpus: r.gpus,
            burn_bps: r.burnBps,
            status: if r.status as u8 == 1 { "active" } else { "ended" },
            start: U64::from(r.start),
            end: U64::from(r.end),
            paid: r.paid,
            refunded: r.refunded,
            burned: r.burned,
        }))
    }

    fn get_block_hook_logs(&self, block: BlockId) -> RpcResult<Vec<alloy_rpc_types_eth::Log>> {
        let number = self.resolve(Some(block))?;
        let Some(block) = self.storage().block(number).map_err(rpc_err)? else {
            return Err(crate::error::header_not_found());
        };
        if number == 0 {
            return Ok(Vec::new());
        }
        let logs = match self.storage().hook_logs(number).map_err(rpc_err)? {
            Some(logs) => logs,
            None => {
                let parent = self.storage().state_at(number - 1);
                dbc_evm::trace::market_hook_logs(self.spec(), &block, parent, self.deadline())
                    .map_err(rpc_err)?
            }
        };
        let receipts = self.storage().receipts(number).map_err(rpc_err)?.unwrap_or_default();
        let first =
            receipts.iter().map(|r| alloy_consensus::TxReceipt::logs(r).len() as u64).sum::<u64>();
        Ok(logs
            .into_iter()
            .enumerate()
            .map(|(i, inner)| alloy_rpc_types_eth::Log {
                inner,
                block_hash: Some(block.hash()),
                block_number: Some(number),
                block_timestamp: Some(block.header.timestamp),
                transaction_hash: None,
                transaction_index: None,
                log_index: Some(first + i as u64),
                removed: false,
            })
            .collect())
    }

    fn get_project(&self, id: U256, block: Option<BlockId>) -> RpcResult<Option<Project>> {
        let call = IProjectMining::getProjectCall { projectId: id };
        let p =
            self.precompile_opt::<_, IProjectMining::UnknownProject>(MINING_ADDRESS, call, block)?;
        Ok(p.map(project_json))
    }

    fn list_projects(
        &self,
        offset: Option<U64>,
        limit: Option<U64>,
        block: Option<BlockId>,
    ) -> RpcResult<ProjectPage> {
        let count = IProjectMining::projectCountCall {};
        let (total, projects, next_offset) =
            self.id_page(offset, limit, block, MINING_ADDRESS, count, |this, id, at| {
                let call = IProjectMining::getProjectCall { projectId: U256::from(id) };
                Ok(project_json(this.precompile_ok(MINING_ADDRESS, call, at)?))
            })?;
        Ok(ProjectPage { total, projects, next_offset })
    }

    fn list_project_machines(
        &self,
        id: U256,
        offset: Option<U64>,
        limit: Option<U64>,
        block: Option<BlockId>,
    ) -> RpcResult<Vec<B256>> {
        let offset = offset.map_or(0, |o| o.to::<u64>());
        let limit = limit.map_or(MAX_PAGE, |l| l.to::<u64>());
        if limit == 0 || limit > MAX_PAGE {
            return Err(invalid_params(format!("limit must be between 1 and {MAX_PAGE}")));
        }
        let at = Some(BlockId::number(self.resolve(block)?));
        let p = self.precompile_ok(
            MINING_ADDRESS,
            IProjectMining::getProjectCall { projectId: id },
            at,
        )?;
        let end = offset.saturating_add(limit).min(u64::from(p.machines));
        let until = self.deadline();
        (offset..end)
            .map(|i| {
                Self::check_deadline(until)?;
                let call =
                    IProjectMining::enrolledMachineAtCall { projectId: id, index: U256::from(i) };
                self.precompile_ok(MINING_ADDRESS, call, at)
            })
            .collect()
    }

    fn get_project_rewards(
        &self,
        id: U256,
        provider: Address,
        block: Option<BlockId>,
    ) -> RpcResult<ProjectRewards> {
        let call = IProjectMining::rewardsOfCall { projectId: id, provider };
        let r = self.precompile_ok(MINING_ADDRESS, call, block)?;
        Ok(ProjectRewards {
            pending: r.pending,
            claimable: r.claimable,
            vesting: r.vesting,
            claimed: r.claimed,
        })
    }

    fn get_validators(&self, block: Option<BlockId>) -> RpcResult<Vec<ValidatorJson>> {
        let set = self.precompile_ok(STAKING_ADDRESS, IStaking::activeValidatorsCall {}, block)?;
        let until = self.deadline();
        set.into_iter()
            .map(|a| {
                Self::check_deadline(until)?;
                let v = self.precompile_ok(
                    STAKING_ADDRESS,
                    IStaking::getValidatorCall { validator: a },
                    block,
                )?;
                Ok(ValidatorJson {
                    address: a,
                    self_stake: v.selfStake,
                    total_stake: v.totalStake,
                    commission_bps: U64::from(v.commissionBps),
                    jailed_until: U64::from(v.jailedUntil),
                    missed_this_epoch: U64::from(v.missedThisEpoch),
                    commission_owed: v.commissionOwed,
                })
            })
            .collect()
    }

    fn gpu_models(&self) -> RpcResult<Vec<GpuModelJson>> {
        Ok(self
            .running_params(None, false)?
            .1
            .market
            .gpu_models
            .iter()
            .map(|g| GpuModelJson {
                model: g.model.clone(),
                calc_point: g.calc_point,
                memory_gb: g.memory_gb,
            })
            .collect())
    }

    fn get_double_sign_evidence(&self) -> RpcResult<Vec<DoubleSign>> {
        Ok(self
            .net()
            .double_signs
            .lock()
            .iter()
            .map(|(a, b)| DoubleSign { header_a: a.clone(), header_b: b.clone() })
            .collect())
    }

    fn get_rewards(&self, account: Address, block: Option<BlockId>) -> RpcResult<Rewards> {
        let r = self.market_ok(IGpuMarket::rewardsOfCall { account }, block)?;
        Ok(Rewards { claimable: r.claimable, vesting: r.vesting, claimed: r.claimed })
    }
}
