// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IStaking} from "../../src/interfaces/IStaking.sol";
import {SECP256K1_HALF_N} from "../common/Host.sol";

/// Double-sign evidence checks of the node (`dbc_primitives::pos` and
/// `dbc_precompiles::staking::slashing::double_sign`), ported to Solidity:
///
/// - `decodeExact`: `pos::decode_header_exact`, which accepts exactly the canonical RLP
///   encoding of an `alloy_consensus::Header` (15 fields, then up to 8 optional fields typed
///   base fee u64, withdrawals root B256, blob gas used u64, excess blob gas u64, parent beacon
///   root B256, requests hash B256, block access list hash B256, slot number u64), nothing
///   after it. Any failure is the node's single "headers do not decode".
/// - `sealHash`: `pos::seal_hash(header, true)`: Keccak-256 of the header re-encoded with its
///   `extraData` cut before the 65-byte seal.
/// - `recoverSealer`: `pos::recover_sealer`: `parse_extra` (at least 97 bytes, the middle part
///   one RLP `ConsensusExtra { finality: Vec<FinalityProof>, randao: Bytes }` decoded with
///   alloy-rlp 0.3.17's exact rules and error texts, no trailing bytes), then
///   `canonical_signature` (v 27/28, low s, non-zero r and s) and recovery through the
///   `ecrecover` precompile. The revert reasons are the node's `SealError` texts.
library StakingEvidence {
    /// What the checks need of a decoded header (offsets into its raw encoding).
    struct Header {
        uint256 number;
        uint256 timestamp;
        uint256 payloadStart; // first byte of the header list's payload
        uint256 extraItem; // first byte of the extraData item
        uint256 extraStart; // first byte of extraData
        uint256 extraLen;
        uint256 extraEnd; // first byte after the extraData item
    }

    function invalid(string memory reason) internal pure {
        revert IStaking.InvalidEvidence(reason);
    }

    function _at(bytes memory r, uint256 i) private pure returns (uint256 b) {
        assembly {
            b := byte(0, mload(add(add(r, 0x20), i)))
        }
    }

    /// Big-endian number of `n` (≤ 32) bytes at `p`.
    function _be(bytes memory r, uint256 p, uint256 n) private pure returns (uint256 v) {
        for (uint256 i = 0; i < n; i++) {
            v = (v << 8) | _at(r, p + i);
        }
    }

    // =========================================================== exact (canonical) header

    /// One canonical RLP item at `p` within `end`: (ok, list, payload start, payload length).
    function _item(bytes memory r, uint256 p, uint256 end)
        private
        pure
        returns (bool ok, bool list, uint256 s, uint256 l)
    {
        if (p >= end) return (false, false, 0, 0);
        uint256 b = _at(r, p);
        if (b < 0x80) return (true, false, p, 1);
        if (b <= 0xb7 || (b >= 0xc0 && b <= 0xf7)) {
            list = b >= 0xc0;
            l = b - (list ? 0xc0 : 0x80);
            s = p + 1;
            if (l > end - s) return (false, false, 0, 0);
            if (!list && l == 1 && _at(r, s) < 0x80) return (false, false, 0, 0);
            return (true, list, s, l);
        }
        list = b >= 0xf8;
        uint256 lol = b - (list ? 0xf7 : 0xb7);
        if (lol > end - p - 1) return (false, false, 0, 0);
        if (_at(r, p + 1) == 0) return (false, false, 0, 0);
        l = _be(r, p + 1, lol);
        if (l < 56) return (false, false, 0, 0);
        s = p + 1 + lol;
        if (l > end - s) return (false, false, 0, 0);
        return (true, list, s, l);
    }

    /// A string of exactly `n` bytes; returns the next position (0 = refused).
    function _fixed(bytes memory r, uint256 p, uint256 end, uint256 n) private pure returns (uint256) {
        (bool ok, bool list, uint256 s, uint256 l) = _item(r, p, end);
        if (!ok || list || l != n) return 0;
        return s + l;
    }

    /// A canonical integer of at most `maxLen` bytes; returns (next position (0 = refused), value).
    function _int(bytes memory r, uint256 p, uint256 end, uint256 maxLen) private pure returns (uint256, uint256) {
        (bool ok, bool list, uint256 s, uint256 l) = _item(r, p, end);
        if (!ok || list) return (0, 0);
        if (s == p) {
            // A single byte below 0x80 is its own encoding; 0x00 is not an integer's.
            uint256 b = _at(r, p);
            return b == 0 ? (0, 0) : (p + 1, b);
        }
        if (l > maxLen || (l > 0 && _at(r, s) == 0)) return (0, 0);
        return (s + l, _be(r, s, l));
    }

    /// `pos::decode_header_exact`: `ok` is false where the node says "headers do not decode".
    function decodeExact(bytes memory r) internal pure returns (bool ok, Header memory h) {
        uint256 end = r.length;
        (bool k, bool list, uint256 s, uint256 l) = _item(r, 0, end);
        if (!k || !list || s + l != end) return (false, h);
        h.payloadStart = s;
        uint256 p = s;
        // parentHash, ommersHash, beneficiary, stateRoot, transactionsRoot, receiptsRoot, bloom
        uint16[7] memory sizes = [uint16(32), 32, 20, 32, 32, 32, 256];
        for (uint256 i = 0; i < 7; i++) {
            p = _fixed(r, p, end, sizes[i]);
            if (p == 0) return (false, h);
        }
        (p,) = _int(r, p, end, 32); // difficulty
        if (p == 0) return (false, h);
        (p, h.number) = _int(r, p, end, 8);
        if (p == 0) return (false, h);
        (p,) = _int(r, p, end, 8); // gasLimit
        if (p == 0) return (false, h);
        (p,) = _int(r, p, end, 8); // gasUsed
        if (p == 0) return (false, h);
        (p, h.timestamp) = _int(r, p, end, 8);
        if (p == 0) return (false, h);
        (k, list, s, l) = _item(r, p, end); // extraData
        if (!k || list) return (false, h);
        (h.extraItem, h.extraStart, h.extraLen, h.extraEnd) = (p, s, l, s + l);
        p = _fixed(r, h.extraEnd, end, 32); // mixHash
        if (p == 0) return (false, h);
        p = _fixed(r, p, end, 8); // nonce
        if (p == 0) return (false, h);
        // Optional fields, in order, while the list has bytes left: 0 = u64, 1 = B256.
        uint8[8] memory kinds = [0, 1, 0, 0, 1, 1, 1, 0];
        for (uint256 i = 0; i < 8 && p < end; i++) {
            if (kinds[i] == 0) (p,) = _int(r, p, end, 8);
            else p = _fixed(r, p, end, 32);
            if (p == 0) return (false, h);
        }
        return (p == end, h);
    }

    // =========================================================== seal hash

    function _copy(bytes memory dst, uint256 at, bytes memory src, uint256 from, uint256 n) private pure {
        assembly {
            mcopy(add(add(dst, 0x20), at), add(add(src, 0x20), from), n)
        }
    }

    /// RLP header of a payload of `len` bytes.
    function _lenHeader(uint256 len, uint256 shortBase, uint256 longBase) private pure returns (bytes memory out) {
        if (len < 56) return abi.encodePacked(uint8(shortBase + len));
        uint256 lol = 0;
        for (uint256 t = len; t != 0; t >>= 8) {
            lol++;
        }
        out = new bytes(1 + lol);
        out[0] = bytes1(uint8(longBase + lol));
        for (uint256 i = 0; i < lol; i++) {
            out[1 + i] = bytes1(uint8(len >> (8 * (lol - 1 - i))));
        }
    }

    /// `pos::seal_hash(header, true)`: the header re-encoded with `extraData` cut before its
    /// last 65 bytes (the whole of it when shorter), hashed.
    function sealHash(bytes memory r, Header memory h) internal pure returns (bytes32) {
        uint256 n = h.extraLen >= 65 ? h.extraLen - 65 : 0;
        bytes memory extraHead;
        if (n == 1 && _at(r, h.extraStart) < 0x80) extraHead = ""; // a single low byte is its own encoding
        else extraHead = _lenHeader(n, 0x80, 0xb7);
        uint256 before = h.extraItem - h.payloadStart;
        uint256 rest = r.length - h.extraEnd;
        uint256 payload = before + extraHead.length + n + rest;
        bytes memory listHead = _lenHeader(payload, 0xc0, 0xf7);
        bytes memory out = new bytes(listHead.length + payload);
        uint256 o = 0;
        _copy(out, o, listHead, 0, listHead.length);
        o += listHead.length;
        _copy(out, o, r, h.payloadStart, before);
        o += before;
        _copy(out, o, extraHead, 0, extraHead.length);
        o += extraHead.length;
        _copy(out, o, r, h.extraStart, n);
        o += n;
        _copy(out, o, r, h.extraEnd, rest);
        return keccak256(out);
    }

    // =========================================================== extraData (alloy-rlp rules)

    function _rlpErr(string memory m) private pure {
        invalid(string.concat("malformed extraData: ", m));
    }

    /// `alloy_rlp::Header::decode`: (list, payload length, position after the header; for a
    /// single byte below 0x80 the byte itself is the payload and the position does not move).
    function _hdr(bytes memory r, uint256 p, uint256 end) private pure returns (bool list, uint256 pl, uint256 np) {
        if (p >= end) _rlpErr("input too short");
        uint256 b = _at(r, p);
        if (b < 0x80) return (false, 1, p);
        np = p + 1;
        if (b <= 0xb7) {
            pl = b - 0x80;
            if (pl == 1) {
                if (np >= end) _rlpErr("input too short");
                if (_at(r, np) < 0x80) _rlpErr("non-canonical single byte");
            }
        } else if (b <= 0xbf || b >= 0xf8) {
            list = b >= 0xf8;
            uint256 lol = b - (list ? 0xf7 : 0xb7);
            if (end - np < lol) _rlpErr("input too short");
            uint256 first = _at(r, np);
            pl = _be(r, np, lol);
            np += lol;
            if (first == 0) _rlpErr("leading zero");
            if (pl < 56) _rlpErr("non-canonical size");
        } else {
            list = true;
            pl = b - 0xc0;
        }
        if (end - np < pl) _rlpErr("input too short");
    }

    /// `Header::decode_bytes`: the payload (start, end) of an item that must be a list or not.
    function _bytes(bytes memory r, uint256 p, uint256 end, bool isList) private pure returns (uint256, uint256) {
        (bool list, uint256 pl, uint256 np) = _hdr(r, p, end);
        if (list != isList) _rlpErr(isList ? "unexpected string" : "unexpected list");
        return (np, np + pl);
    }

    /// `u64::decode`; returns the next position.
    function _u64(bytes memory r, uint256 p, uint256 end) private pure returns (uint256) {
        if (p < end) {
            uint256 b = _at(r, p);
            if (b < 0x80) {
                if (b == 0) _rlpErr("leading zero");
                return p + 1;
            }
            uint256 len = b - 0x80;
            if (len == 0) return p + 1;
            if (len <= 8 && end - p >= len + 1) {
                uint256 first = _at(r, p + 1);
                if (len == 1) {
                    if (first < 0x80) _rlpErr("non-canonical single byte");
                } else if (first == 0) {
                    _rlpErr("leading zero");
                }
                return p + 1 + len;
            }
        }
        (uint256 s, uint256 e) = _bytes(r, p, end, false);
        if (e - s > 8) _rlpErr("overflow");
        if (e > s && _at(r, s) == 0) _rlpErr("leading zero");
        return e;
    }

    /// `B256::decode`; returns the next position.
    function _b256(bytes memory r, uint256 p, uint256 end) private pure returns (uint256) {
        if (p < end && _at(r, p) == 0xa0 && end - p - 1 >= 32) return p + 33;
        (uint256 s, uint256 e) = _bytes(r, p, end, false);
        if (e - s != 32) _rlpErr("unexpected length");
        return e;
    }

    function _mismatch(uint256 got, uint256 expected) private pure {
        _rlpErr(string.concat("unexpected list length (got ", dec(got), ", expected ", dec(expected), ")"));
    }

    /// `FinalityProof::decode` (derived: fields read from the enclosing buffer).
    function _proof(bytes memory r, uint256 p, uint256 end) private pure returns (uint256) {
        (bool list, uint256 pl, uint256 start) = _hdr(r, p, end);
        if (!list) _rlpErr("unexpected string");
        uint256 q = _u64(r, start, end);
        q = _b256(r, q, end);
        (uint256 s, uint256 e) = _bytes(r, q, end, true);
        while (s < e) {
            (, s) = _bytes(r, s, e, false);
        }
        if (e - start != pl) _mismatch(e - start, pl);
        return e;
    }

    /// `ConsensusExtra::decode`; returns the position after it.
    function _consensusExtra(bytes memory r, uint256 p, uint256 end) private pure returns (uint256) {
        (bool list, uint256 pl, uint256 start) = _hdr(r, p, end);
        if (!list) _rlpErr("unexpected string");
        (uint256 s, uint256 e) = _bytes(r, start, end, true);
        while (s < e) {
            s = _proof(r, s, e);
        }
        (, uint256 q) = _bytes(r, e, end, false);
        if (q - start != pl) _mismatch(q - start, pl);
        return q;
    }

    /// `pos::recover_sealer`: the canonical seal's signer, or a revert with the node's reason.
    function recoverSealer(bytes memory r, Header memory h, bytes32 digest) internal pure returns (address signer) {
        if (h.extraLen < 97) {
            _rlpErr(string.concat(dec(h.extraLen), " bytes, at least 97 expected"));
        }
        uint256 bodyEnd = h.extraEnd - 65;
        if (_consensusExtra(r, h.extraStart + 32, bodyEnd) != bodyEnd) _rlpErr("trailing bytes before the seal");
        uint256 sr = _be(r, bodyEnd, 32);
        uint256 ss = _be(r, bodyEnd + 32, 32);
        uint256 v = _at(r, bodyEnd + 64);
        if (!(v <= 1 || v == 27 || v == 28 || v >= 35)) {
            invalid(string.concat("invalid signature: invalid parity: ", dec(v)));
        }
        if (v != 27 && v != 28) invalid("invalid signature: non-canonical v (27 or 28 expected)");
        if (ss > SECP256K1_HALF_N) invalid("invalid signature: non-canonical s (high s)");
        if (sr == 0 || ss == 0) invalid("invalid signature: non-canonical signature encoding");
        signer = ecrecover(digest, uint8(v), bytes32(sr), bytes32(ss));
        if (signer == address(0)) invalid("invalid signature: malformed signature");
    }

    /// Decimal text of `v`.
    function dec(uint256 v) internal pure returns (string memory) {
        if (v == 0) return "0";
        uint256 n = 0;
        for (uint256 t = v; t != 0; t /= 10) {
            n++;
        }
        bytes memory out = new bytes(n);
        for (; v != 0; v /= 10) {
            out[--n] = bytes1(uint8(48 + (v % 10)));
        }
        return string(out);
    }
}
