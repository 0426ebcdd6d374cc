import { db } from "ponder:api";
import schema from "ponder:schema";
import { Hono } from "hono";
import { graphql, replaceBigInts } from "ponder";

const app = new Hono();
app.use("/graphql", graphql({ db, schema }));
// Everything indexed, as JSON with decimal strings, for the test to compare with the node.
app.get("/dump", async (c) => {
  const transfers = await db.select().from(schema.transfer);
  const accounts = await db.select().from(schema.account);
  return c.json(replaceBigInts({ transfers, accounts }, (v) => String(v)));
});
export default app;
