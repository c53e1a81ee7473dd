//! The Lua scripts, each one atomic call, and the decoding of their replies.
//!
//! Counters are fixed windows aligned to unix time, as in process
//! (`ratelimit`), but in Redis's clock (`TIME`), so every instance counts
//! in the same window whatever its own clock says. A counter is one hash
//! per key (`n`: the window number, `c`: the count) that expires with its
//! window.

use redis::{Cmd, Script, Value};

use super::keys::{Key, parse_member};
use super::{Checked, Count, Revocation, Revocations};

/// Counts one request (or gives one back) in a fixed window; for an API
/// request, also reads the tenant facts' version and the revocations'
/// generation in the same step.
///
/// KEYS: the counter; then, for an API request, the facts' version and the
/// revocations' generation. ARGV: the window in seconds (0 counts
/// nothing), the cost (1 counts, -1 gives back within the same window).
pub(super) const COUNT: &str = r"
local now = tonumber(redis.call('TIME')[1])
local window = tonumber(ARGV[1])
local used, reset = 0, 0
if window > 0 then
  local number = math.floor(now / window)
  reset = window - now % window
  local stored = redis.call('HMGET', KEYS[1], 'n', 'c')
  if tonumber(stored[1]) == number then used = tonumber(stored[2]) or 0 end
  local cost = tonumber(ARGV[2])
  if cost > 0 or used > 0 then
    used = math.max(used + cost, 0)
    redis.call('HSET', KEYS[1], 'n', string.format('%.0f', number), 'c', used)
    redis.call('EXPIRE', KEYS[1], reset)
  end
end
if #KEYS == 1 then return {used, reset} end
-- Versions are microseconds (below 2^53): exact as Lua numbers, and sent
-- back as integers, which the client reads without an allocation.
return {used, reset, tonumber(redis.call('GET', KEYS[2]) or '0') or 0, tonumber(redis.call('GET', KEYS[3]) or '0') or 0}
";

/// A new version for a changing value: Redis's clock in microseconds, and
/// always above the value it replaces (so it never repeats, not even after
/// Redis lost its data and restarted).
const NEXT_VERSION: &str = r"
local function next_version(key)
  local t = redis.call('TIME')
  local version = tonumber(t[1]) * 1000000 + tonumber(t[2])
  local current = tonumber(redis.call('GET', key) or '0') or 0
  if version <= current then version = current + 1 end
  return string.format('%.0f', version)
end
";

/// Gives a tenant's facts a new version. KEYS: the version. ARGV: its
/// lifetime in seconds (an expired version reads as 0, which differs from
/// every cached one: the caches reload).
pub(super) fn facts_script() -> String {
    format!("{NEXT_VERSION}\nlocal v = next_version(KEYS[1])\nredis.call('SET', KEYS[1], v, 'EX', ARGV[1])\nreturn v")
}

/// Refuses a member's tokens issued up to a cutoff. KEYS: the revocations,
/// their generation. ARGV: `<tenant>:<user>`, the cutoff (unix
/// milliseconds), how long a revocation matters (the access token
/// lifetime, seconds). Revocations older than that are dropped; a later
/// cutoff wins.
pub(super) fn revoke_script() -> String {
    format!(
        "{NEXT_VERSION}
local keep = tonumber(ARGV[3])
local now = tonumber(redis.call('TIME')[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. string.format('%.0f', (now - keep) * 1000))
local old = tonumber(redis.call('ZSCORE', KEYS[1], ARGV[1]) or '0') or 0
if tonumber(ARGV[2]) > old then redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1]) end
redis.call('EXPIRE', KEYS[1], keep)
local g = next_version(KEYS[2])
redis.call('SET', KEYS[2], g)
return g"
    )
}

/// Every revocation and the generation they make up, read together.
/// KEYS: the revocations, their generation.
pub(super) const REVOCATIONS: &str = r"
return {redis.call('GET', KEYS[2]) or '0', redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')}
";

/// `EVALSHA` of `script` on `keys`, with room for a few arguments, which
/// the caller appends (`Cmd::arg` writes numbers without an allocation).
pub(super) fn invocation(script: &Script, keys: &[&Key]) -> Cmd {
    let size = 96 + keys.iter().map(|k| k.as_bytes().len()).sum::<usize>();
    let mut cmd = Cmd::with_capacity(6 + keys.len(), size);
    cmd.arg("EVALSHA").arg(script.get_hash()).arg(keys.len());
    for key in keys {
        cmd.arg(key.as_bytes());
    }
    cmd
}

fn int(value: &Value) -> Option<u64> {
    match value {
        Value::Int(n) => u64::try_from(*n).ok(),
        Value::BulkString(text) => std::str::from_utf8(text).ok()?.parse().ok(),
        Value::SimpleString(text) => text.parse().ok(),
        _ => None,
    }
}

/// The reply of [`COUNT`] for a counter alone.
pub(super) fn count(value: &Value) -> Option<Count> {
    match value {
        Value::Array(items) if items.len() >= 2 => Some(Count {
            used: int(&items[0])?,
            reset: int(&items[1])?,
        }),
        _ => None,
    }
}

/// The reply of [`COUNT`] for an API request.
pub(super) fn checked(value: &Value) -> Option<Checked> {
    match value {
        Value::Array(items) if items.len() == 4 => Some(Checked {
            count: count(value)?,
            facts: int(&items[2])?,
            revocations: int(&items[3])?,
        }),
        _ => None,
    }
}

/// The reply of [`REVOCATIONS`]: the generation and every revocation
/// (members that are not `<tenant>:<user>` are skipped).
pub(super) fn revocations(value: &Value) -> Option<Revocations> {
    let Value::Array(items) = value else { return None };
    let [generation, Value::Array(set)] = items.as_slice() else {
        return None;
    };
    let mut revocations = Vec::with_capacity(set.len() / 2);
    for pair in set.chunks(2) {
        let [Value::BulkString(member), score] = pair else {
            return None;
        };
        let cutoff = i64::try_from(int(score)?).ok()?;
        if let Some((tenant, user)) = parse_member(member) {
            revocations.push(Revocation { tenant, user, cutoff });
        }
    }
    Some((int(generation)?, revocations))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bulk(text: &str) -> Value {
        Value::BulkString(text.as_bytes().to_vec())
    }

    #[test]
    fn replies_decode_or_are_refused() {
        let reply = Value::Array(vec![
            Value::Int(3),
            Value::Int(57),
            Value::Int(1_764_605_765_123_456),
            Value::Int(0),
        ]);
        let read = checked(&reply).unwrap();
        assert_eq!((read.count.used, read.count.reset), (3, 57));
        assert_eq!((read.facts, read.revocations), (1_764_605_765_123_456, 0));
        assert_eq!(
            count(&Value::Array(vec![Value::Int(1), Value::Int(2)])).unwrap().used,
            1
        );
        assert!(checked(&Value::Array(vec![Value::Int(1), Value::Int(2)])).is_none());
        assert!(count(&Value::Int(1)).is_none());
        assert!(count(&Value::Array(vec![Value::Int(-1), Value::Int(2)])).is_none());
    }

    #[test]
    fn revocations_skip_foreign_members() {
        let member = "0192f1a2-7b3c-7d4e-8f90-123456789abc:0192f1a2-7b3c-7d4e-8f90-123456789abd";
        let reply = Value::Array(vec![
            bulk("42"),
            Value::Array(vec![bulk(member), bulk("1700000000"), bulk("junk"), bulk("1")]),
        ]);
        let (generation, revocations) = revocations(&reply).unwrap();
        assert_eq!(generation, 42);
        assert_eq!(revocations.len(), 1);
        assert_eq!(revocations[0].cutoff, 1_700_000_000);
        assert!(super::revocations(&Value::Array(vec![bulk("1")])).is_none());
    }
}
