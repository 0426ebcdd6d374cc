// JSON-RPC over HTTP to the node (every read) and the injected EIP-1193 wallet (accounts and
// sending transactions). No DOM.

/** An error answer of the node, with its JSON-RPC code and data (revert data for reverts). */
export class RpcError extends Error {
  constructor(message, code, data) {
    super(message);
    this.name = 'RpcError';
    this.code = code;
    this.data = data;
  }
}

/** The node's HTTP JSON-RPC. */
export class Rpc {
  constructor(url) {
    this.url = url;
    this.nextId = 1;
  }

  async call(method, params = []) {
    let res;
    try {
      res = await fetch(this.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ jsonrpc: '2.0', id: this.nextId++, method, params }),
      });
    } catch (e) {
      // A refused connection and a CORS refusal look the same from here.
      throw new RpcError(
        `cannot reach the node at ${this.url} (${e.message}); is it running, with ` +
          `--http.corsdomain allowing this page's origin?`,
        -32603,
      );
    }
    let body;
    try {
      body = await res.json();
    } catch {
      throw new RpcError(`${method}: HTTP ${res.status} from ${this.url}, not JSON-RPC`, -32603);
    }
    if (body.error) {
      throw new RpcError(`${method}: ${body.error.message}`, body.error.code, body.error.data);
    }
    return body.result;
  }
}

/** Polls `eth_getTransactionReceipt` on the node until the transaction is mined. */
export async function waitForReceipt(rpc, hash, { timeoutMs = 180_000, intervalMs = 500 } = {}) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await rpc.call('eth_getTransactionReceipt', [hash]);
    if (r) return r;
    if (Date.now() > deadline) {
      throw new Error(`transaction ${hash} not mined within ${timeoutMs / 1000} s`);
    }
    await new Promise((ok) => setTimeout(ok, intervalMs));
  }
}

/** The injected EIP-1193 wallet (`window.ethereum`), if any. */
export class Wallet {
  constructor(provider) {
    this.provider = provider;
  }

  static detect() {
    const p = globalThis.ethereum;
    return p && typeof p.request === 'function' ? new Wallet(p) : null;
  }

  request(method, params) {
    return this.provider.request(params === undefined ? { method } : { method, params });
  }

  /** Asks the wallet for accounts (`eth_requestAccounts`); the first is the user's. */
  async connect() {
    const accounts = await this.request('eth_requestAccounts');
    if (!Array.isArray(accounts) || accounts.length === 0) {
      throw new Error('the wallet returned no account');
    }
    return accounts[0];
  }

  /** Accounts already authorised, without prompting (`eth_accounts`). */
  async accounts() {
    try {
      const a = await this.request('eth_accounts');
      return Array.isArray(a) ? a : [];
    } catch {
      return [];
    }
  }

  async chainId() {
    return this.request('eth_chainId');
  }

  /** `eth_sendTransaction`; the wallet fills gas, fees and nonce. Returns the hash. */
  async send(tx) {
    return this.request('eth_sendTransaction', [tx]);
  }

  on(event, handler) {
    if (typeof this.provider.on === 'function') this.provider.on(event, handler);
  }
}
