//! Slashing and jailing: double-sign evidence (strict decoding and signed-content comparison,
//! security review C1) and the slash itself, which also reaches unbonding stake and never pays
//! the offender (H8).

use super::*;

/// Slashes `share_bps` of `v`'s bonded stake and of its stake that started unbonding at
/// `infraction` or later (H8); `reporter` gets its share unless it (or the transaction's
/// origin) is the offender; of the rest `slashTreasuryBps` goes to the treasury and the remainder
/// is burned. Returns the amount slashed.
#[allow(clippy::too_many_arguments)]
pub(super) fn slash<H: Host>(
    ctx: &mut Ctx<'_, H>,
    sp: &StakingParams,
    v: &mut Val,
    validator: Address,
    share_bps: u16,
    infraction: u64,
    reporter: Option<Address>,
    why: u8,
) -> Res<U256> {
    let bonded = bps(v.total_stake, share_bps)?;
    v.total_stake -= bonded;
    ctx.add_g(G_TOTAL_BONDED, bonded, true)?;
    let unbonding = unbonding::slash(ctx, sp, validator, infraction, share_bps)?;
    let amount = ck2(bonded.checked_add(unbonding))?;
    let reporter = reporter.filter(|r| *r != validator && ctx.host.origin() != validator);
    let reward = match reporter {
        Some(_) => bps(amount, sp.evidence_reward_bps)?,
        None => U256::ZERO,
    };
    if let Some(r) = reporter {
        ctx.pay_own(r, reward)?;
    }
    let rest = ck(amount.checked_sub(reward))?;
    let to_treasury = bps(rest, sp.slash_treasury_bps)?;
    treasury::receive(ctx, treasury::source::VALIDATOR_SLASH, validator, to_treasury)?;
    let burned = crate::supply::burn_capped(ctx, rest - to_treasury)?;
    ctx.add_g(G_BURNED, burned, false)?;
    ctx.emit(IStaking::Slashed { validator, amount, reason: why }.encode_log_data())?;
    Ok(amount)
}

pub(super) fn jail<H: Host>(
    ctx: &mut Ctx<'_, H>,
    sp: &StakingParams,
    v: &mut Val,
    validator: Address,
) -> Res<()> {
    let until = ck2(ctx.now.checked_add(sp.jail_blocks))?.max(v.jailed_until);
    v.jailed_until = until;
    ctx.emit(IStaking::Jailed { validator, untilBlock: until }.encode_log_data())
}

pub(super) fn double_sign<H: Host>(
    ctx: &mut Ctx<'_, H>,
    sp: &StakingParams,
    reporter: Address,
    a: &[u8],
    b: &[u8],
) -> Res<()> {
    use dbc_primitives::pos;
    let bad = |r: &str| revert(IStaking::InvalidEvidence { reason: r.into() });
    // Decoding, the canonical re-encoding check and the two seal hashes each go over both
    // headers: four hashes' worth of work.
    ctx.charge(gas::HASH * 4 + 12 * (a.len() + b.len()).div_ceil(32) as u64)?;
    // Exact decoding (C1): no trailing bytes, canonical RLP only, so one header has one
    // accepted encoding.
    let (Ok(ha), Ok(hb)) = (pos::decode_header_exact(a), pos::decode_header_exact(b)) else {
        return Err(bad("headers do not decode"));
    };
    if ha.number != hb.number || ha.timestamp != hb.timestamp {
        return Err(bad("headers are for different slots"));
    }
    // Two pieces of evidence differ only if what was signed differs: another encoding of the
    // seal (or of anything else) over the same content is not a second signature (C1).
    if pos::seal_hash(&ha, true) == pos::seal_hash(&hb, true) {
        return Err(bad("the headers are the same"));
    }
    ctx.charge(2 * ECRECOVER_GAS)?;
    // Canonical seals only (v 27/28, low s): `recover_sealer` refuses the other encodings.
    let sa = pos::recover_sealer(&ha).map_err(|e| bad(&e.to_string()))?;
    let sb = pos::recover_sealer(&hb).map_err(|e| bad(&e.to_string()))?;
    if sa != sb {
        return Err(bad("sealed by different validators"));
    }
    if ha.number.saturating_add(sp.unbonding_blocks) < ctx.now {
        return Err(bad("evidence older than the unbonding period"));
    }
    let mut v = Val::load(ctx, sa)?;
    let key = keccak256([sa.as_slice(), &ha.number.to_be_bytes()].concat());
    let used = slot(T_EVIDENCE, key, 0);
    if !ctx.get(used)?.is_zero() {
        return Err(revert(IStaking::EvidenceAlreadyUsed {}));
    }
    ctx.set(used, U256::from(1))?;
    let amount = slash(
        ctx,
        sp,
        &mut v,
        sa,
        sp.double_sign_slash_bps,
        ha.number,
        Some(reporter),
        reason::DOUBLE_SIGN,
    )?;
    // A removed candidate (no longer `registered`) is still slashable for what it signed while
    // it had stake; an address that never had stake here is not a validator.
    if !v.registered && amount.is_zero() && v.total_shares.is_zero() {
        return Err(bad("the signer is not a validator"));
    }
    jail(ctx, sp, &mut v, sa)?;
    v.store(ctx)
}
