import { ponder } from "ponder:registry";
import { account, transfer } from "ponder:schema";

ponder.on("Token:Transfer", async ({ event, context }) => {
  const { from, to, value } = event.args;
  await context.db.insert(transfer).values({
    id: event.id,
    from,
    to,
    amount: value,
    blockNumber: event.block.number,
    txHash: event.transaction.hash,
    gasUsed: event.transactionReceipt.gasUsed,
  });
  const zero = "0x0000000000000000000000000000000000000000";
  if (from !== zero) {
    await context.db
      .insert(account)
      .values({ address: from, balance: -value })
      .onConflictDoUpdate((row) => ({ balance: row.balance - value }));
  }
  await context.db
    .insert(account)
    .values({ address: to, balance: value })
    .onConflictDoUpdate((row) => ({ balance: row.balance + value }));
});
