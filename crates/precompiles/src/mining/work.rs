//! Attested work (issue #16 item 5): a project pays for work served, not for enrolment. Its
//! attestor reports, after each epoch, the work units every enrolled machine served in it; a
//! machine's weight is then its market grade × those units until its next attestation.

use super::*;

/// Entries one `attestWork` call may carry.
pub(super) const MAX_ATTESTATIONS: usize = 256;

pub(super) fn set_attestor<H: Host>(
    ctx: &mut Ctx<'_, H>,
    who: Address,
    pid: U256,
    attestor: Address,
) -> Res<()> {
    let mut p = project(ctx, pid)?;
    if p.settler != who {
        return Err(mrevert(IProjectMining::NotSettler { projectId: pid }));
    }
    p.attestor = attestor;
    p.store(ctx)?;
    ctx.emit(IProjectMining::AttestorSet { projectId: pid, attestor }.encode_log_data())
}

/// `attestWork`: checks every entry before changing anything (one bad entry refuses the call),
/// then moves each machine's weight to its grade × units, settling its pending tokens at the
/// old weight first.
pub(super) fn attest<H: Host>(
    ctx: &mut Ctx<'_, H>,
    who: Address,
    c: IProjectMining::attestWorkCall,
) -> Res<()> {
    let p = project(ctx, c.projectId)?;
    if p.attestor != who || who.is_zero() {
        return Err(mrevert(IProjectMining::NotAttestor { projectId: c.projectId }));
    }
    let current = ctx.now / ctx.p.epoch_blocks;
    let expected = current
        .checked_sub(1)
        .ok_or_else(|| mrevert(IProjectMining::WrongEpoch { epoch: c.epoch, expected: 0 }))?;
    if c.epoch != expected {
        return Err(mrevert(IProjectMining::WrongEpoch { epoch: c.epoch, expected }));
    }
    if c.machineIds.len() != c.units.len() {
        return Err(mrevert(IProjectMining::BadAttestation {
            reason: "machineIds and units differ in length".into(),
        }));
    }
    if c.machineIds.len() > MAX_ATTESTATIONS {
        return Err(mrevert(IProjectMining::BadAttestation {
            reason: "more than 256 entries".into(),
        }));
    }
    for (i, mid) in c.machineIds.iter().enumerate() {
        ctx.charge(gas::STEP)?;
        if c.machineIds[..i].contains(mid) {
            return Err(mrevert(IProjectMining::AlreadyAttested {
                projectId: c.projectId,
                machineId: *mid,
                epoch: c.epoch,
            }));
        }
    }
    for (mid, units) in c.machineIds.iter().zip(&c.units) {
        let pos = Position::load(ctx, p.id, *mid)?;
        if pos.index == 0 {
            return Err(mrevert(IProjectMining::NotEnrolled {
                projectId: c.projectId,
                machineId: *mid,
            }));
        }
        if pos.attested > c.epoch {
            return Err(mrevert(IProjectMining::AlreadyAttested {
                projectId: c.projectId,
                machineId: *mid,
                epoch: c.epoch,
            }));
        }
        // The weight follows the market's grade (0 while the machine is offline).
        let grade = market_machine(ctx, *mid)?.grade;
        let weight = move_weight(ctx, p.id, *mid, grade, Some((*units, c.epoch)))?;
        ctx.emit(
            IProjectMining::WorkAttested {
                projectId: c.projectId,
                machineId: *mid,
                epoch: c.epoch,
                units: *units,
                weight,
            }
            .encode_log_data(),
        )?;
    }
    Ok(())
}
